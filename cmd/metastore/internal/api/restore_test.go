package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// TestWriteJSON: a restore's document written item by item is, byte for
// byte, what a json.Encoder writes of the whole (CLI --json), whatever the
// plan and the strings hold.
func TestWriteJSON(t *testing.T) {
	safety := snapshot.Info{Message: "safety", Time: time.Unix(1700000100, 0).UTC()}
	plans := map[string][]snapshot.PlanItem{
		"empty": nil,
		"one":   {{Path: "/UUID", Action: snapshot.Added, NewSize: 36, NewTimestamp: 1}},
		"several": {
			{Path: "/cube/a.json", Action: snapshot.Changed, OldSize: 1, NewSize: 2, OldTimestamp: 3, NewTimestamp: 4},
			{Path: "/execute/<&>é", Action: snapshot.Deleted, OldSize: 5},
			{Path: "/project/p.json", Action: snapshot.Kept, Note: "a note with \"plan\": [],\n in it <b>"},
			{Path: "/table/T.json", Action: snapshot.Unchanged, OldSize: 7, NewSize: 7},
		},
	}
	for name, plan := range plans {
		for _, applied := range []bool{false, true} {
			r := &Restore{
				Result: &snapshot.RestoreResult{
					Snapshot: snapshot.Info{Message: "m", Time: time.Unix(1700000000, 0).UTC()},
					Scope:    scope.ProjectScope("p"), Project: "p", Plan: plan,
					Counts:  map[snapshot.Action]int{snapshot.Added: len(plan)},
					Applied: applied, Warnings: []string{`"plan": [],` + "\n  \"plan\": [],\n"},
				},
				Target: "/meta", DryRun: !applied, Undo: "metastore restore x",
			}
			if applied {
				r.Result.Safety = &safety
			}
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(r.JSON()); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&got); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got.String() != want.String() {
				t.Errorf("%s, applied %v: WriteJSON wrote\n%s\nthe encoder\n%s", name, applied, got.String(), want.String())
			}
		}
	}
}
