package metagen

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// typeShares returns each resource type's share of st's resources.
func typeShares(st Stats) map[string]float64 {
	out := map[string]float64{}
	for _, ty := range st.Types {
		out[ty.Type] = float64(ty.Count) / float64(st.Resources)
	}
	return out
}

func TestJobsShape(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "meta")
	st, err := generateDir(context.Background(), dir, Options{Resources: 4000, Seed: 2, Shape: ShapeJobs})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(listTree(t, dir)); got != 4000 || st.Resources != 4000 || st.Shape != ShapeJobs {
		t.Fatalf("generate --shape jobs: %d files, stats %d resources, shape %q", got, st.Resources, st.Shape)
	}
	share := typeShares(st)
	for _, typ := range []string{"execute", "execute_output"} {
		if share[typ] < 0.27 || share[typ] > 0.35 {
			t.Errorf("%s: %.1f%% of resources, want about 30%%", typ, 100*share[typ])
		}
	}
	for _, typ := range []string{"UUID", "project", "cube", "cube_desc", "model_desc", "table", "table_exd", "dict", "table_snapshot", "cube_statistics", "acl", "user"} {
		if share[typ] == 0 {
			t.Errorf("no %s resources", typ)
		}
	}
	checkIntegrity(t, dir)

	// The default shape has no step entries in /execute.
	def, _ := sharedMetastore(t)
	for path := range listTree(t, def) {
		if _, ok := cutStepSuffix(strings.TrimPrefix(path, "/execute/")); ok && resourceType(path) == "execute" {
			t.Fatalf("default shape: %s", path)
		}
	}
}

// TestJobsShapeChurn checks that churn of a job-heavy metastore works as
// Kylin's scheduler and cleanup job do: new jobs appear with all their
// entries, the oldest finished ones go with all of theirs, and the job
// folders keep about their size.
func TestJobsShapeChurn(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "meta")
	if _, err := generateDir(context.Background(), dir, Options{Resources: 4000, Seed: 3, Shape: ShapeJobs}); err != nil {
		t.Fatal(err)
	}
	jobs := func(tree map[string]fileState) map[string]bool {
		out := map[string]bool{}
		for path := range tree {
			if id := strings.TrimPrefix(path, "/execute/"); resourceType(path) == "execute" && len(id) == 36 {
				out[id] = true
			}
		}
		return out
	}
	first := listTree(t, dir)
	before := first
	for round := range 3 {
		st, err := churnDir(context.Background(), dir, ChurnOptions{Fraction: 0.03, Seed: uint64(round)})
		if err != nil {
			t.Fatal(err)
		}
		after := listTree(t, dir)
		jb, ja := jobs(before), jobs(after)
		var added, gone int
		for id := range ja {
			if !jb[id] {
				added++
			}
		}
		for id := range jb {
			if !ja[id] {
				gone++
			}
		}
		if added == 0 || gone == 0 {
			t.Errorf("round %d: %d jobs added, %d deleted; want both", round, added, gone)
		}
		if s := float64(st.Deleted) / float64(st.Touched); s < 0.2 || s > 0.4 {
			t.Errorf("round %d: %.0f%% of the touched resources deleted, want about 30%%", round, 100*s)
		}
		checkIntegrity(t, dir)
		before = after
	}
	if n0, n := len(first), len(before); float64(n) > 1.05*float64(n0) || float64(n) < 0.95*float64(n0) {
		t.Errorf("3 rounds took the metastore from %d to %d resources: jobs should come and go", n0, n)
	}
}
