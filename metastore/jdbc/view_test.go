package jdbc

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// TestViewIsConsistent checks that a View sees the metastore as it was when
// it began, whatever is committed afterwards, in both tables of the Kylin
// 2.5-4.x layout.
func TestViewIsConsistent(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		ctx := t.Context()
		s := openNew(t, db, sc)
		before := []metastore.Resource{
			{Path: "/cube/a.json", Data: []byte(`{"v":1}`), Timestamp: 1},
			{Path: "/cube/b.json", Data: []byte(`{"v":1}`), Timestamp: 2},
			{Path: "/execute_output/job-00", Data: []byte(`{"status":"RUNNING"}`), Timestamp: 3},
		}
		for _, r := range before {
			if err := s.Write(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		vi, err := s.View(ctx)
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		v := vi.(*View)
		defer v.Close()

		// Kylin writes meanwhile: an update, a delete, an addition, in both
		// tables, committed.
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx.Write(ctx, metastore.Resource{Path: "/cube/a.json", Data: []byte(`{"v":2}`), Timestamp: 10})
		tx.Delete(ctx, "/cube/b.json")
		tx.Write(ctx, metastore.Resource{Path: "/cube/c.json", Data: []byte(`{"v":2}`), Timestamp: 11})
		tx.Write(ctx, metastore.Resource{Path: "/execute_output/job-00", Data: []byte(`{"status":"SUCCEED"}`), Timestamp: 12})
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got, err := s.Read(ctx, "/cube/a.json"); err != nil || string(got.Data) != `{"v":2}` {
			t.Fatalf("the store itself reads (%q, %v) after the commit, want the new version", got.Data, err)
		}

		// The view still sees the old state, from several goroutines.
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, r := range before {
					got, err := v.Read(ctx, r.Path)
					if err != nil || string(got.Data) != string(r.Data) || got.Timestamp != r.Timestamp {
						t.Errorf("goroutine %d: View.Read(%s) = (%q, %d, %v), want (%q, %d)", g, r.Path, got.Data, got.Timestamp, err, r.Data, r.Timestamp)
					}
				}
				if _, err := v.Read(ctx, "/cube/c.json"); !errors.Is(err, metastore.ErrNotExist) {
					t.Errorf("goroutine %d: View.Read of a resource added after the view began: %v, want not found", g, err)
				}
			}()
		}
		wg.Wait()
		var paths []string
		if err := v.Walk(ctx, "/", func(r metastore.Resource, err error) error {
			paths = append(paths, fmt.Sprintf("%s=%s", r.Path, r.Data))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{`/cube/a.json={"v":1}`, `/cube/b.json={"v":1}`, `/execute_output/job-00={"status":"RUNNING"}`}
		if !slices.Equal(paths, want) {
			t.Errorf("View.Walk = %q, want %q", paths, want)
		}

		if err := v.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := v.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := v.Read(ctx, "/cube/a.json"); err == nil {
			t.Error("Read on a closed view succeeded")
		}
	})
}
