package snapshot

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// TestReadDir walks a snapshot folder by folder, a page at a time, and
// finds exactly what Entries lists, with the same sizes and timestamps.
func TestReadDir(t *testing.T) {
	needSample(t)
	r := newRepo(t)
	m, _ := seeded(t)
	snap := r.OpenInfo(backup(t, r, m, scope.SystemScope()).Snapshot)
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
