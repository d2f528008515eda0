package memory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

func TestConformance(t *testing.T) {
	metastoretest.Run(t, func(*testing.T) metastore.Store { return memory.New() })
}

func TestLen(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"empty", func() error { return nil }, 0},
		{"write /a", func() error { return s.Write(ctx, metastore.Resource{Path: "/a"}) }, 1},
		{"write /b", func() error { return s.Write(ctx, metastore.Resource{Path: "/b"}) }, 2},
		{"overwrite /a", func() error { return s.Write(ctx, metastore.Resource{Path: "/a", Data: []byte("x")}) }, 2},
		{"delete /a", func() error { return s.Delete(ctx, "/a") }, 1},
		{"delete /missing", func() error { return s.Delete(ctx, "/missing") }, 1},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := s.Len(); got != st.want {
			t.Errorf("after %s Len() = %d, want %d", st.name, got, st.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	if got, want := metastore.Describe(memory.New()), "memory"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestNilDataReadsEmpty(t *testing.T) {
	s := memory.New()
	if err := s.Write(t.Context(), metastore.Resource{Path: "/nil", Timestamp: 3}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Read(t.Context(), "/nil")
	if err != nil {
		t.Fatal(err)
	}
	if r.Data == nil || len(r.Data) != 0 {
		t.Errorf("Read of a resource written with nil data = %#v, want empty non-nil", r.Data)
	}
}

// TestChangeNeverRepeats checks that deleting a resource and writing it again
// gives a Change that the earlier version never had.
func TestChangeNeverRepeats(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	seen := map[string]int{}
	for i := range 5 {
		if err := s.Write(ctx, metastore.Resource{Path: "/p", Data: []byte("same"), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.ListEntries(ctx, "/p", func(e metastore.Entry) error {
			if j, ok := seen[e.Change]; ok {
				t.Errorf("write %d has the Change %q of write %d", i, e.Change, j)
			}
			seen[e.Change] = i
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.Delete(ctx, "/p"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestTxDone(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	for _, end := range []string{"Commit", "Rollback"} {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if end == "Commit" {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		checks := []struct {
			name string
			err  error
		}{
			{"Write", tx.Write(ctx, metastore.Resource{Path: "/late"})},
			{"Delete", tx.Delete(ctx, "/late")},
			{"Commit", tx.Commit(ctx)},
		}
		for _, c := range checks {
			if !errors.Is(c.err, memory.ErrTxDone) {
				t.Errorf("%s after %s: error = %v, want ErrTxDone", c.name, end, c.err)
			}
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("Rollback after %s = %v, want nil", end, err)
		}
	}
	if got := s.Len(); got != 0 {
		t.Errorf("Len() = %d, want 0", got)
	}
}

// TestConcurrent runs writers, readers, listers and a transaction at once;
// run it with -race.
func TestConcurrent(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				p := fmt.Sprintf("/w%d/r%03d", w, i)
				if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: int64(i)}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Read(ctx, p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if err := s.List(ctx, "/", func(string) error { return nil }); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		for i := range 100 {
			if err := tx.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/tx/r%03d", i)}); err != nil {
				t.Error(err)
				return
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if got, want := s.Len(), 4*200+100; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func ExampleStore() {
	ctx := context.Background()
	s := memory.New()
	_ = s.Write(ctx, metastore.Resource{Path: "/project/learn_kylin.json", Data: []byte(`{}`), Timestamp: 1457534216410})
	_ = s.Write(ctx, metastore.Resource{Path: "/cube/kylin_sales_cube.json", Data: []byte(`{}`), Timestamp: 1457534216411})
	_ = s.List(ctx, "/", func(p string) error {
		fmt.Println(p)
		return nil
	})
	_, err := s.Read(ctx, "/cube/missing.json")
	fmt.Println(errors.Is(err, metastore.ErrNotExist))
	// Output:
	// /cube/kylin_sales_cube.json
	// /project/learn_kylin.json
	// true
}
