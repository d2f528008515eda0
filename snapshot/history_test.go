package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

// historyRepo records the life of /cube/ssb.json over system, project, cube
// and safety snapshots, and returns the snapshots by name.
func historyRepo(t *testing.T) (*Repository, map[string]Info) {
	t.Helper()
	needSample(t)
	ctx := context.Background()
	r := newRepo(t)
	m, _ := seeded(t)
	k := &kylin{t: t, m: m, now: 1700000000000}
	snaps := map[string]Info{}
	take := func(name string, s scope.Scope) {
		snaps[name] = backup(t, r, m, s).Snapshot
	}
	take("S1", scope.SystemScope())
	k.edit("/cube/ssb.json", `"segments" : [ ],`, `"segments" : [ { "name" : "19700101000000_20240101000000", "status" : "NEW" } ],`,
		`"owner" : "ADMIN",`, `"owner" : "ANALYST",`)
	take("P1", scope.ProjectScope("default"))
	take("S2", scope.SystemScope()) // the same version: no entry
	k.touch("/cube/ssb.json")
	take("S3", scope.SystemScope())
	k.del("/cube/ssb.json")
	take("C1", scope.CubeScope("ssb_cube1")) // does not hold ssb: says nothing
	take("S4", scope.SystemScope())
	// Restoring S1 records the state before it (without ssb) as a safety
	// snapshot, then brings the first version back.
	res, err := r.Restore(ctx, r.OpenInfo(snaps["S1"]), m, RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	snaps["safety"] = *res.Safety
	take("S5", scope.SystemScope())
	return r, snaps
}

func TestHistory(t *testing.T) {
	r, snaps := historyRepo(t)
	name := map[ID]string{}
	for n, in := range snaps {
		name[in.ID] = n
	}
	got, err := r.History(context.Background(), "/cube/ssb.json", HistoryOptions{Details: true, Ignore: scope.SaveFields()})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		l := fmt.Sprintf("%s %s", name[e.Snapshot.ID], e.Change.Action)
		for _, m := range e.Modifiers {
			l += " " + m.Field + "=" + m.Value
		}
		for _, f := range e.Change.Fields {
			l += " | " + f.String()
		}
		lines = append(lines, l)
	}
	want := []string{
		"S5 added owner=ADMIN last_modified=1457534216410",
		"S4 deleted owner=ANALYST last_modified=1457534216410",
		"S3 touched owner=ANALYST last_modified=1457534216410",
		`P1 modified owner=ANALYST last_modified=1457534216410 | owner: "ADMIN" -> "ANALYST" | segments[name=19700101000000_20240101000000]: added {"name":"19700101000000_20240101000000","status":"NEW"}`,
		"S1 added owner=ADMIN last_modified=1457534216410",
	}
	if g, w := strings.Join(lines, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("history:\n%s\nwant\n%s", g, w)
	}
	if e := got[1]; e.Change.OldSize == 0 || e.Change.NewSize != 0 || e.Change.OldID == "" || e.Change.NewTimestamp != 0 {
		t.Errorf("deletion entry %+v", e.Change)
	}
	if e := got[2]; e.Change.OldTimestamp == e.Change.NewTimestamp || e.Change.OldID != e.Change.NewID {
		t.Errorf("touch entry %+v", e.Change)
	}
}

func TestHistoryErrors(t *testing.T) {
	r, _ := historyRepo(t)
	ctx := context.Background()
	if _, err := r.History(ctx, "/cube/nope.json", HistoryOptions{}); !errors.Is(err, ErrNotResource) {
		t.Errorf("unknown path: %v, want ErrNotResource", err)
	}
	if _, err := r.History(ctx, "cube/ssb.json", HistoryOptions{}); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("relative path: %v, want ErrInvalidPath", err)
	}
	if _, err := r.ProjectHistory(ctx, "nope", HistoryOptions{}); !errors.Is(err, scope.ErrUnknownProject) {
		t.Errorf("unknown project: %v, want ErrUnknownProject", err)
	}
}

func TestProjectHistory(t *testing.T) {
	r, snaps := historyRepo(t)
	name := map[ID]string{}
	for n, in := range snaps {
		name[in.ID] = n
	}
	got, err := r.ProjectHistory(context.Background(), "default", HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ssb []string
	first := map[string]int{}
	for i, e := range got {
		if i > 0 && got[i-1].Snapshot.ID == e.Snapshot.ID && got[i-1].Change.Path >= e.Change.Path {
			t.Errorf("entries of %s not sorted by path: %s before %s", name[e.Snapshot.ID], got[i-1].Change.Path, e.Change.Path)
		}
		if e.Change.Path == "/cube/ssb.json" {
			ssb = append(ssb, name[e.Snapshot.ID]+" "+string(e.Change.Action))
		}
		first[name[e.Snapshot.ID]]++
	}
	want := "S5 added, S4 deleted, S3 touched, P1 modified, S1 added"
	if g := strings.Join(ssb, ", "); g != want {
		t.Errorf("history of /cube/ssb.json in project default: %s, want %s", g, want)
	}
	if first["S1"] < 50 || first["S2"] != 0 || first["C1"] != 0 {
		t.Errorf("entries per snapshot %v: want the whole project in S1, nothing in S2 and none from cube snapshots", first)
	}
	if got[0].Snapshot.ID != snaps["S5"].ID || got[len(got)-1].Snapshot.ID != snaps["S1"].ID {
		t.Errorf("not newest first")
	}
}

func TestModifiers(t *testing.T) {
	tests := []struct {
		path, data string
		want       string
	}{
		{"/cube/c.json", `{"owner":"ADMIN","last_modified":1,"x":2}`, "owner=ADMIN last_modified=1"},
		{"/cube/c.json", `{"owner":null,"last_modified":1}`, "last_modified=1"},
		{"/P/model_desc/m.json", `{"config_last_modifier":"ADMIN","config_last_modified":5,"owner":"ADMIN"}`,
			"owner=ADMIN config_last_modifier=ADMIN config_last_modified=5"},
		{"/cube/c.json", `not json`, ""},
		{"/dict/T/C/x.dict", "\x00\x14{\"last_modified\":42}...", "last_modified=42"},
		{"/dict/T/C/x.dict", "garbage", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range modifiers(tt.path, []byte(tt.data)) {
			got = append(got, m.Field+"="+m.Value)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("modifiers(%s, %q) = %q, want %q", tt.path, tt.data, g, tt.want)
		}
	}
}
