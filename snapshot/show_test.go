package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
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
	_, m, snap := sampleSnapshot(t, scope.SystemScope())
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

// TestReadDir walks a snapshot folder by folder, a page at a time, and
// finds exactly what Entries lists, with the same sizes and timestamps.
func TestReadDir(t *testing.T) {
	needSample(t)
	_, _, snap := sampleSnapshot(t, scope.SystemScope())
	ctx := context.Background()

	want, err := snap.Entries(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []metastore.Entry
	var walk func(dir string)
	walk = func(dir string) {
		const page = 5
		var all []DirEntry
		for offset := 0; ; offset += page {
			es, total, err := snap.ReadDir(ctx, dir, offset, page)
			if err != nil {
				t.Fatalf("ReadDir(%q, %d): %v", dir, offset, err)
			}
			all = append(all, es...)
			if offset+len(es) >= total {
				if len(all) != total {
					t.Errorf("ReadDir(%q): %d entries in pages, total %d", dir, len(all), total)
				}
				break
			}
			if len(es) != page {
				t.Fatalf("ReadDir(%q, %d, %d): %d entries of %d", dir, offset, page, len(es), total)
			}
		}
		whole, total, err := snap.ReadDir(ctx, dir, 0, 0)
		if err != nil || len(whole) != total || total != len(all) {
			t.Errorf("ReadDir(%q, 0, 0): %d of %d, %v; paged %d", dir, len(whole), total, err, len(all))
		}
		for _, e := range all {
			if e.Name == tree.RecordsDir {
				t.Errorf("ReadDir(%q) shows the records folder", dir)
			}
			if e.Dir {
				if e.Size != 0 || e.Timestamp != 0 {
					t.Errorf("folder %s has a size or timestamp: %+v", e.Path, e)
				}
				walk(e.Path)
				continue
			}
			got = append(got, metastore.Entry{Path: e.Path, Size: e.Size, Timestamp: e.Timestamp})
		}
	}
	walk("/")
	if len(got) != len(want) {
		t.Fatalf("walked %d resources, Entries lists %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.Change = ""
		if got[i] != w {
			t.Errorf("resource %d: walked %+v, Entries %+v", i, got[i], w)
		}
	}

	if _, _, err := snap.ReadDir(ctx, "/no_such_folder", 0, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := snap.ReadDir(ctx, "/UUID", 0, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a resource as a folder: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := snap.ReadDir(ctx, "/"+tree.RecordsDir, 0, 10); !errors.Is(err, ErrReservedPath) {
		t.Errorf("records folder: %v, want ErrReservedPath", err)
	}
	if _, _, err := snap.ReadDir(ctx, "/cube/../dict", 0, 10); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("dot-dot: %v, want ErrInvalidPath", err)
	}
	es, total, err := snap.ReadDir(ctx, "/cube", 1000, 10)
	if err != nil || len(es) != 0 || total != 24 {
		t.Errorf("past the end: %d entries of %d, %v", len(es), total, err)
	}
}
