package metagen

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestChurnTouchesAboutTheFraction(t *testing.T) {
	t.Parallel()
	dir, _ := generateT(t, testResources, 3)
	// Keep the original bytes to tell modified files from untouched ones.
	before := listTree(t, dir)
	content := map[string][]byte{}
	var maxMtime int64
	for path, st := range before {
		content[path] = readRes(t, dir, path)
		maxMtime = max(maxMtime, st.mtime)
	}

	const fraction = 0.05
	st, err := churnDir(context.Background(), dir, ChurnOptions{Fraction: fraction, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	after := listTree(t, dir)

	var added, modified, deleted int
	for path, a := range after {
		b, ok := before[path]
		switch {
		case !ok:
			added++
			if a.mtime <= maxMtime {
				t.Errorf("added %s: mtime %d not after the old newest %d", path, a.mtime, maxMtime)
			}
		case b.mtime != a.mtime || !bytes.Equal(content[path], readRes(t, dir, path)):
			modified++
			if a.mtime <= b.mtime {
				t.Errorf("modified %s: mtime %d, was %d", path, a.mtime, b.mtime)
			}
		default:
			// Untouched: not rewritten at all.
			if a != b {
				t.Errorf("untouched %s: state %+v, was %+v", path, a, b)
			}
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			deleted++
		}
	}
	if added != st.Added || modified != st.Modified || deleted != st.Deleted {
		t.Errorf("folder shows %d added, %d modified, %d deleted; churn reported %+v", added, modified, deleted, st)
	}
	target := fraction * testResources
	touched := float64(added + modified + deleted)
	if touched < 0.9*target || touched > 1.5*target {
		t.Errorf("touched %v resources, want about %v", touched, target)
	}
	for _, c := range []struct {
		kind   string
		n      int
		lo, hi float64
	}{
		{"modified", modified, 0.40, 0.80},
		{"added", added, 0.15, 0.50},
		{"deleted", deleted, 0.03, 0.25},
	} {
		if s := float64(c.n) / touched; s < c.lo || s > c.hi {
			t.Errorf("%s: %.0f%% of touched, want %.0f-%.0f%%", c.kind, 100*s, 100*c.lo, 100*c.hi)
		}
	}
	if st.After != len(after) {
		t.Errorf("churn reports %d resources after, folder has %d", st.After, len(after))
	}
	checkIntegrity(t, dir)
}

func TestChurnRoundsKeepTheMetastoreConsistent(t *testing.T) {
	t.Parallel()
	dir, _ := generateT(t, testResources, 4)
	var lastTS int64
	for round := range 4 {
		st, err := churnDir(context.Background(), dir, ChurnOptions{Fraction: 0.03, Seed: 1})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if st.Timestamp <= lastTS {
			t.Errorf("round %d: timestamp %d not after the previous round's %d", round, st.Timestamp, lastTS)
		}
		if st.Touched == 0 {
			t.Errorf("round %d touched nothing", round)
		}
		lastTS = st.Timestamp
	}
	checkIntegrity(t, dir)
	// No dictionary or snapshot is left that no segment references.
	refs := map[string]bool{}
	tree := listTree(t, dir)
	for path := range tree {
		if resourceType(path) == "cube" {
			var c cubeJSON
			readJSONT(t, dir, path, &c)
			for _, s := range c.Segments {
				for _, p := range append(mapValues(s.Dictionaries), mapValues(s.Snapshots)...) {
					refs[p] = true
				}
			}
		}
	}
	for path := range tree {
		if typ := resourceType(path); (typ == "dict" || typ == "table_snapshot") && !refs[path] {
			t.Errorf("%s: no segment references it", path)
		}
	}
}

func TestChurnRejectsBadInput(t *testing.T) {
	empty := t.TempDir()
	if _, err := churnDir(context.Background(), empty, ChurnOptions{Fraction: 0.01}); !errors.Is(err, ErrNotMetastore) {
		t.Errorf("churn of an empty folder = %v, want %v", err, ErrNotMetastore)
	}
	for _, f := range []float64{0, -0.1, 1.5} {
		if _, err := churnDir(context.Background(), empty, ChurnOptions{Fraction: f}); !errors.Is(err, ErrOptions) {
			t.Errorf("churn(--fraction %v) = %v, want %v", f, err, ErrOptions)
		}
	}
}
