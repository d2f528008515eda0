package console

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/snapshot"
)

// TestRestorePlanPages: the restore page's pages, read one after the
// other, list exactly the plan's items (those that change, or with all=1
// every item) in the plan's order; the page builds only the items it shows.
func TestRestorePlanPages(t *testing.T) {
	f := newFixture(t, Config{})
	const jobs = 230
	for i := range jobs {
		p := filepath.Join(f.meta, "execute", fmt.Sprintf("job-%03d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"uuid":"`+filepath.Base(p)+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	snap := f.backup("system")
	// Every other job changes after the snapshot, and a tenth go away.
	for i := 0; i < jobs; i += 2 {
		p := filepath.Join(f.meta, "execute", fmt.Sprintf("job-%03d", i))
		if i%10 == 0 {
			os.Remove(p)
			continue
		}
		os.WriteFile(p, []byte(`{"uuid":"changed"}`), 0o644)
	}
	q := "kind=system&ref=" + snap.ID.Short()
	var doc api.RestoreJSON
	decodeJSON(t, f.get("/api/v1/restore-plan?"+q), &doc)
	var changes, all []string
	for _, it := range doc.Plan {
		row := it.Action + " " + it.Path
		all = append(all, row)
		if it.Action != string(snapshot.Unchanged) {
			changes = append(changes, row)
		}
	}
	if len(changes) != jobs/2 || len(all) <= 2*planPerPage {
		t.Fatalf("plan of %d items, %d changes: want %d changes and more than two pages", len(all), len(changes), jobs/2)
	}
	rowRE := regexp.MustCompile(`<tr class="(\w+)"><td>\w+</td><td><code>([^<]+)</code>`)
	read := func(q string, pages int) []string {
		var rows []string
		for page := 1; page <= pages+1; page++ { // one past the last: the last again
			body := f.get(fmt.Sprintf("/restore?%s&page=%d", q, page))
			for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
				rows = append(rows, m[1]+" "+m[2])
			}
		}
		return rows
	}
	pages := func(n int) int { return (n + planPerPage - 1) / planPerPage }
	lastPage := func(rows []string) []string { return rows[(pages(len(rows))-1)*planPerPage:] }
	if got, want := read(q, pages(len(changes))), append(slices.Clone(changes), lastPage(changes)...); !slices.Equal(got, want) {
		t.Errorf("the pages of what changes list\n%v\nwant\n%v", got, want)
	}
	if got, want := read(q+"&all=1", pages(len(all))), append(slices.Clone(all), lastPage(all)...); !slices.Equal(got, want) {
		t.Errorf("the pages of every resource list %d rows, want %d (the plan's items in order)", len(got), len(want))
	}
}

// TestPlanDigest: the digest a confirmation carries changes with any item
// of the plan, and only with the plan.
func TestPlanDigest(t *testing.T) {
	doc := api.RestoreJSON{Scope: "system", Target: "/meta"}
	plan := []snapshot.PlanItem{
		{Path: "/cube/a.json", Action: snapshot.Changed, OldSize: 10, NewSize: 12},
		{Path: "/cube/b.json", Action: snapshot.Unchanged, OldSize: 5, NewSize: 5},
	}
	base := planDigest(doc, plan)
	if again := planDigest(doc, slices.Clone(plan)); again != base {
		t.Fatalf("the same plan digests as %s and %s", base, again)
	}
	edits := map[string]func(p []snapshot.PlanItem) []snapshot.PlanItem{
		"size":    func(p []snapshot.PlanItem) []snapshot.PlanItem { p[1].NewSize = 6; return p },
		"action":  func(p []snapshot.PlanItem) []snapshot.PlanItem { p[1].Action = snapshot.Changed; return p },
		"path":    func(p []snapshot.PlanItem) []snapshot.PlanItem { p[0].Path = "/cube/c.json"; return p },
		"dropped": func(p []snapshot.PlanItem) []snapshot.PlanItem { return p[:1] },
		"added":   func(p []snapshot.PlanItem) []snapshot.PlanItem { return append(p, snapshot.PlanItem{Path: "/x"}) },
	}
	for name, edit := range edits {
		if d := planDigest(doc, edit(slices.Clone(plan))); d == base {
			t.Errorf("%s: the digest did not change", name)
		}
	}
	for name, edit := range map[string]func(*api.RestoreJSON){
		"target":   func(d *api.RestoreJSON) { d.Target = "/other" },
		"snapshot": func(d *api.RestoreJSON) { d.Snapshot.ID = "0123456789abcdef0123456789abcdef01234567" },
		"scope":    func(d *api.RestoreJSON) { d.Scope = "project/learn_kylin" },
		"project":  func(d *api.RestoreJSON) { d.Project = "learn_kylin" },
	} {
		other := doc
		edit(&other)
		if planDigest(other, plan) == base {
			t.Errorf("%s: the digest did not change", name)
		}
	}
}
