package snapshot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// TestRestoreKeepsNoBigFolder checks that a project restore from a system
// snapshot whose /execute and /execute_output hold thousands of other
// projects' jobs restores the project's jobs exactly and keeps neither
// folder, nor their timestamps mirrors, in the snapshot it read: the
// project's resolution reads every job by walking the folders, and its
// lookups of the project's many jobs walk them again rather than search a
// kept tree. At a million resources (300,000 jobs in each folder) the
// trees kept, decoded, with maps of their timestamps, were most of a
// project restore's 250 MB.
func TestRestoreKeepsNoBigFolder(t *testing.T) {
	ctx := context.Background()
	live := memory.New()
	files := map[string]string{
		"/UUID":               "8b3c9f5e-7d4a-4f1b-9e2c-6a5d8c7b4e3f",
		"/project/sales.json": `{"uuid": "p-sales"}`,
	}
	var mine []string
	for i := range 5000 {
		project, id := "other", fmt.Sprintf("%08x-1111-2222-3333-%012d", i*7919, i)
		if i%50 == 0 {
			project = "sales"
			mine = append(mine, "/execute/"+id, "/execute_output/"+id)
		}
		files["/execute/"+id] = fmt.Sprintf(`{"uuid": %q, "params": {"projectName": %q}}`, id, project)
		files["/execute_output/"+id] = fmt.Sprintf(`{"status": "SUCCEED", "job": %q}`, id)
	}
	writeFiles(t, live, files)
	r := newRepo(t)
	snap := r.OpenInfo(backup(t, r, live, scope.SystemScope()).Snapshot)
	for _, p := range mine {
		if err := live.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Restore(ctx, snap, live, RestoreOptions{Scope: scope.ProjectScope("sales")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Added] != len(mine) {
		t.Errorf("the restore added %d resources, want the project's %d jobs and outputs", res.Counts[Added], len(mine))
	}
	for _, p := range mine {
		got, err := live.Read(ctx, p)
		if err != nil || string(got.Data) != files[p] {
			t.Errorf("%s restored as %q (%v), want %q", p, got.Data, err, files[p])
		}
	}
	kept := snap.tree.Kept()
	for _, big := range []string{"execute", "execute_output"} {
		for _, p := range []string{big, tree.MirrorPath(big)} {
			if slices.Contains(kept, p) {
				t.Errorf("the snapshot keeps folder %s after the restore (it keeps %s)", p, strings.Join(kept, ", "))
			}
		}
	}
}

// TestRestoreForgetsFolders: once a restore knows what to write, the
// snapshot keeps none of the folders its lookups read (at a million
// resources, 77 MB through the writes).
func TestRestoreForgetsFolders(t *testing.T) {
	ctx := context.Background()
	m, _ := seeded(t)
	r := newRepo(t)
	snap := r.OpenInfo(backup(t, r, m, scope.SystemScope()).Snapshot)
	res, err := r.Restore(ctx, snap, memory.New(), RestoreOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Added] == 0 {
		t.Fatal("nothing restored")
	}
	if kept := snap.tree.Kept(); len(kept) > 0 {
		t.Errorf("after the restore the snapshot keeps %d folders: %s", len(kept), strings.Join(kept, ", "))
	}
}
