package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// kylin5Copy copies the Kylin 5 sample metastore (testdata/kylin5) into
// memory.
func kylin5Copy(t *testing.T) *memory.Store {
	t.Helper()
	return metastoretest.MemoryCopy(t, mustFolder(t)(folder.Open(metastoretest.Sample("kylin5"))))
}

const (
	testBank5 = "b780e4e4-69af-449e-b09f-05c90dfa04b6" // default.test_bank
	gcM1      = "e0e90065-e7c3-49a0-a801-20465ca64799" // gc_test.m1
	topNM1    = "ab547ec2-350e-4ba4-88f9-099048962ceq" // top_n.m1
)

// TestRestoreModelIntoAnotherProject5: on Kylin 5 a model is restored into
// another project (Kylin 5 allows the same model in several), its
// resources and the tables it needs re-targeted into the project's folder,
// never refused by the 2.x-4.x rule of one project per cube; restored
// again, it is found in the target by its uuid, so the now ambiguous alias
// neither fails the restore nor hides it; --after-truncate deletes what the
// model no longer has there (the details of a segment built since, with a
// snapshot taken --with-segments) and nothing of the source project's copy.
func TestRestoreModelIntoAnotherProject5(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	target := kylin5Copy(t)
	bres, err := r.Backup(ctx, target, BackupOptions{Scope: scope.CubeScope("test_bank"), WithSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	snap := r.OpenInfo(bres.Snapshot)
	before := dump(t, target)

	opt := RestoreOptions{Scope: scope.CubeScope("test_bank"), Project: "gc_test"}
	res, err := r.Restore(ctx, snap, target, opt)
	if err != nil {
		t.Fatalf("restore-model into another project: %v", err)
	}
	if len(res.Warnings) != 0 || res.Counts[Added] != 9 {
		t.Errorf("counts %v, warnings %q; want the 9 resources of the model added, no warning", res.Counts, res.Warnings)
	}
	after := dump(t, target)
	for _, p := range []string{
		"/model_desc/" + testBank5 + ".json", "/index_plan/" + testBank5 + ".json", "/dataflow/" + testBank5 + ".json",
		"/dataflow_details/" + testBank5 + "/0db919f3-1359-496c-aab5-b6f3951adc0e.json",
		"/table/DEFAULT.TEST_BANK_INCOME.json", "/table/DEFAULT.TEST_BANK_LOCATION.json",
	} {
		got, ok := after["/gc_test"+p]
		if !ok || !bytes.Equal(got.Data, before["/default"+p].Data) {
			t.Errorf("/gc_test%s: present %v, want the bytes of /default%s", p, ok, p)
		}
	}
	for p, want := range before {
		if got := after[p]; !bytes.Equal(got.Data, want.Data) || got.Timestamp != want.Timestamp {
			t.Errorf("%s changed: the source project, the project files and other models stay", p)
		}
	}

	// Again, with a segment built in the target since (listed by its
	// dataflow, with its details) that the snapshot lacks: the alias
	// test_bank is now in two projects of the target.
	stale := "/gc_test/dataflow_details/" + testBank5 + "/stale.json"
	target.Write(ctx, metastore.Resource{Path: stale, Data: []byte(`{"dataflow":"` + testBank5 + `"}`), Timestamp: 1})
	dfKey := "/gc_test/dataflow/" + testBank5 + ".json"
	df := after[dfKey].Data
	i := bytes.Index(df, []byte(`"segments" : [`))
	if i < 0 {
		t.Fatalf("%s lists no segments: %s", dfKey, df)
	}
	i += len(`"segments" : [`)
	df = append(append(append([]byte(nil), df[:i]...), `{"id":"stale"}, `...), df[i:]...)
	target.Write(ctx, metastore.Resource{Path: dfKey, Data: df, Timestamp: 2})
	opt.AfterTruncate = true
	res, err = r.Restore(ctx, snap, target, opt)
	if err != nil {
		t.Fatalf("restore-model again, the alias now in two projects: %v", err)
	}
	// The target project's file is in scope and never deleted (kept).
	if res.Counts[Deleted] != 1 || res.Counts[Added] != 0 || res.Counts[Changed] != 1 || res.Counts[Kept] != 1 {
		t.Errorf("counts %v, want the stale segment detail deleted, the dataflow put back, the project file kept, nothing else", res.Counts)
	}
	for _, it := range res.Plan {
		if it.Action == Kept && it.Path != "/_global/project/gc_test.json" || it.Action == Deleted && it.Path != stale || it.Action == Changed && it.Path != dfKey {
			t.Errorf("plan: %s %s (%s)", it.Action, it.Path, it.Note)
		}
	}
	if _, err := target.Read(ctx, stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s not deleted: %v", stale, err)
	}
	for p := range before {
		if _, err := target.Read(ctx, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestRestoreModelAliasTaken5: a model restored into a project that has
// another model of its alias is restored beside it with a warning naming
// that model, which stays, --after-truncate or not.
func TestRestoreModelAliasTaken5(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	target := kylin5Copy(t)
	snap := r.OpenInfo(backup(t, r, target, scope.SystemScope()).Snapshot)
	before := dump(t, target)
	for _, truncate := range []bool{false, true} {
		res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("gc_test.m1"), Project: "top_n", AfterTruncate: truncate})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "/top_n/model_desc/"+topNM1+".json") || !strings.Contains(res.Warnings[0], gcM1) {
			t.Errorf("truncate %v: warnings %q, want one naming the model of the alias there and the restored one", truncate, res.Warnings)
		}
		if _, err := target.Read(ctx, "/top_n/model_desc/"+gcM1+".json"); err != nil {
			t.Errorf("truncate %v: model not restored into top_n: %v", truncate, err)
		}
		for p, want := range before {
			if got, err := target.Read(ctx, p); err != nil || !bytes.Equal(got.Data, want.Data) {
				t.Errorf("truncate %v: %s changed or deleted (%v)", truncate, p, err)
			}
		}
	}
}

// TestRestoreModelOtherName5: a model snapshot recorded by one of the
// model's names (alias, PROJECT.alias, uuid, PROJECT.uuid) is restored,
// and found as "latest", under any other of them; another model's name is
// still a scope mismatch.
func TestRestoreModelOtherName5(t *testing.T) {
	ctx := context.Background()
	names := []string{"test_bank", "default.test_bank", testBank5, "default." + testBank5}
	for _, recorded := range names {
		r := newRepo(t)
		target := kylin5Copy(t)
		in := backup(t, r, target, scope.CubeScope(recorded)).Snapshot
		snap := r.OpenInfo(in)
		target.Delete(ctx, "/default/index_plan/"+testBank5+".json")
		for _, asked := range names {
			want := scope.CubeScope(asked)
			res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: want, Project: "default"})
			if err != nil {
				t.Errorf("recorded as %s, restore --model %s: %v", recorded, asked, err)
				continue
			}
			if asked == names[0] && res.Counts[Added] != 1 {
				t.Errorf("recorded as %s, restore --model %s: counts %v, want the index plan added", recorded, asked, res.Counts)
			}
			got, err := r.Resolve(ctx, "latest", want)
			if err != nil || got.ID != in.ID {
				t.Errorf("recorded as %s: latest for %s = %s, %v; want %s", recorded, asked, got.ID.Short(), err, in.ID.Short())
			}
		}
		_, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("gc_test.m1"), Project: "gc_test"})
		if !errors.Is(err, ErrScopeMismatch) {
			t.Errorf("recorded as %s, restore --model gc_test.m1: %v; want ErrScopeMismatch", recorded, err)
		}
	}
}

// TestRestoreModelSegments5: a Kylin 5 model restored out of a system
// snapshot comes with its segments' details (a system or project snapshot
// holds them); out of a model snapshot taken without --with-segments it
// comes without them, and the target's are left as they are.
func TestRestoreModelSegments5(t *testing.T) {
	ctx := context.Background()
	detail := "/dataflow_details/" + testBank5 + "/0db919f3-1359-496c-aab5-b6f3951adc0e.json"
	for _, c := range []struct {
		name string
		s    scope.Scope
		want bool
	}{{"system snapshot", scope.SystemScope(), true}, {"model snapshot", scope.CubeScope("test_bank"), false}} {
		r := newRepo(t)
		target := kylin5Copy(t)
		snap := r.OpenInfo(backup(t, r, target, c.s).Snapshot)
		if _, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("test_bank"), Project: "gc_test"}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err := target.Read(ctx, "/gc_test"+detail)
		if got := err == nil; got != c.want {
			t.Errorf("%s: /gc_test%s restored %v, want %v", c.name, detail, got, c.want)
		}
		// Into its own project, truncating: the target's details stay
		// unless the restore brings details.
		if _, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("test_bank"), Project: "default", AfterTruncate: true}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, err := target.Read(ctx, "/default"+detail); err != nil {
			t.Errorf("%s: /default%s gone after a truncating restore: %v", c.name, detail, err)
		}
	}
}
