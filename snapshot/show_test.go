package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

func TestSummarize(t *testing.T) {
	needSample(t)
	r := newRepo(t)
	m, res := seeded(t)
	first := backup(t, r, m, scope.SystemScope())
	second := backup(t, r, m, scope.SystemScope())
	want := map[string]int{}
	for _, res := range res {
		want[scope.TypeOf(res.Path)]++
	}
	sum, err := r.Summarize(context.Background(), r.OpenInfo(second.Snapshot))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Parent == nil || sum.Parent.ID != first.Snapshot.ID {
		t.Errorf("parent %v, want %s", sum.Parent, first.Snapshot.ID.Short())
	}
	total := 0
	for i, tc := range sum.Types {
		if i > 0 && sum.Types[i-1].Type >= tc.Type {
			t.Errorf("types not sorted: %s before %s", sum.Types[i-1].Type, tc.Type)
		}
		if want[tc.Type] != tc.Resources {
			t.Errorf("%s: %d resources, want %d", tc.Type, tc.Resources, want[tc.Type])
		}
		total += tc.Resources
	}
	if total != 188 || len(sum.Types) != len(want) || want["dict"] != 73 {
		t.Errorf("%d resources in %d types, want 188 in %d", total, len(sum.Types), len(want))
	}
	sum, err = r.Summarize(context.Background(), r.OpenInfo(first.Snapshot))
	if err != nil || sum.Parent != nil {
		t.Errorf("first snapshot: parent %v, %v", sum.Parent, err)
	}
}

func TestEntriesAndResource(t *testing.T) {
	needSample(t)
	r := newRepo(t)
	m, _ := seeded(t)
	snap := r.OpenInfo(backup(t, r, m, scope.SystemScope()).Snapshot)
	ctx := context.Background()
	for _, prefix := range []string{"/cube", "cube/", "/cube/"} {
		es, err := snap.Entries(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 24 {
			t.Errorf("Entries(%q): %d, want the 24 cubes", prefix, len(es))
		}
		for _, e := range es {
			if !strings.HasPrefix(e.Path, "/cube/") || e.Size == 0 || e.Timestamp == 0 {
				t.Errorf("Entries(%q): %+v", prefix, e)
			}
		}
	}
	es, err := snap.Entries(ctx, "")
	if err != nil || len(es) != 188 {
		t.Errorf("Entries(\"\"): %d, %v; want 188", len(es), err)
	}
	es, _ = snap.Entries(ctx, "/UUID")
	if len(es) != 1 || es[0].Path != "/UUID" {
		t.Errorf("Entries(/UUID) = %+v", es)
	}

	want, _ := m.Read(ctx, "/UUID")
	got, err := snap.Resource(ctx, "/UUID")
	if err != nil || !bytes.Equal(got.Data, want.Data) || got.Timestamp != want.Timestamp {
		t.Errorf("Resource(/UUID) = %q %d, %v", got.Data, got.Timestamp, err)
	}
	_, err = snap.Resource(ctx, "/cube/nope.json")
	if !errors.Is(err, ErrNotResource) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing resource: %v, want ErrNotResource and fs.ErrNotExist", err)
	}
}

func TestSplitRefPath(t *testing.T) {
	tests := []struct {
		in, ref, path string
		ok            bool
	}{
		{"latest:/cube/ssb.json", "latest", "/cube/ssb.json", true},
		{"before-upgrade-4.0:cube/ssb.json", "before-upgrade-4.0", "/cube/ssb.json", true},
		{"1a2b3c:/dict/PREDEFINED/date(yyyy-mm-dd)/x.dict", "1a2b3c", "/dict/PREDEFINED/date(yyyy-mm-dd)/x.dict", true},
		{"project/default:/UUID", "project/default", "/UUID", true},
		{"latest", "latest", "", false},
	}
	for _, tt := range tests {
		ref, path, ok := SplitRefPath(tt.in)
		if ref != tt.ref || path != tt.path || ok != tt.ok {
			t.Errorf("SplitRefPath(%q) = %q, %q, %v; want %q, %q, %v", tt.in, ref, path, ok, tt.ref, tt.path, tt.ok)
		}
	}
}
