package snapshot

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// TestRecordReleasesScanRecords checks that recording a backup's snapshot
// releases the scan's records, paths included, as its trees are written
// (the trees of the last folders were encoded beside every record and
// path of the backup, a third of its heap at a million resources), slab
// by slab, with a change cache or without (a first backup); that the tree is the one a build from
// the kept records writes; and that the change cache, written before the
// trees, names the snapshot and holds every record.
func TestRecordReleasesScanRecords(t *testing.T) {
	ctx := t.Context()
	const n = 3 * slabSize
	for _, first := range []bool{true, false} {
		m := memory.New()
		for i := range n {
			m.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/execute/job-%05d", i), Data: []byte(fmt.Sprint(i)), Timestamp: 1})
		}
		for i := range 50 {
			m.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/cube/c%02d.json", i), Data: []byte{byte(i)}, Timestamp: 2})
			m.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/dict/T/C%d/%d.dict", i%3, i), Data: []byte{byte(i)}, Timestamp: 3})
		}
		r := newRepo(t)
		if !first {
			if _, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()}); err != nil {
				t.Fatal(err)
			}
			m.Write(ctx, metastore.Resource{Path: "/execute/job-00009", Data: []byte("changed"), Timestamp: 9})
		}
		caches := r.openCaches(metastore.Describe(m), true, false)
		pw, err := r.newPack()
		if err != nil {
			t.Fatal(err)
		}
		items, _, err := r.scan(ctx, m, nil, true, packObjectWriter(pw), caches.load, progressOrNone(nil))
		if err != nil {
			t.Fatal(err)
		}
		kept := slices.Clone(items.flat())
		if want := (len(kept) + slabSize - 1) / slabSize; len(items.slabs) != want {
			t.Fatalf("first backup %v: the scan's %d records in %d slabs, want %d", first, len(kept), len(items.slabs), want)
		}
		caches.stage(items)
		req := recordRequest{scope: scope.SystemScope(), kind: KindBackup, all: true, source: metastore.Describe(m)}
		rec, err := r.record(pw, items, req, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, b := range items.slabs {
			for i := range b {
				if b[i] != (scanned{}) {
					left++
				}
			}
		}
		if left > 0 {
			t.Errorf("first backup %v: %d of %d scan records left after the snapshot was recorded", first, left, len(kept))
		}
		want, err := (&tree.Builder{Write: hashOnly}).Build(listOf(kept))
		if err != nil {
			t.Fatal(err)
		}
		if rec.tree != want {
			t.Errorf("first backup %v: tree %s, want %s (built from the kept records)", first, rec.tree, want)
		}
		for _, f := range caches.prepare(rec.commit) {
			if err := f.commit(); err != nil {
				t.Fatal(err)
			}
		}
		caches.close()
		pw.Abort()
		got, commit := loadCacheFile(caches.path)
		if got.len() != len(kept) || commit != rec.commit {
			t.Fatalf("first backup %v: next cache has %d entries for %s; want %d for %s", first, got.len(), commit, len(kept), rec.commit)
		}
		for k, it := range kept {
			if p, e := got.at(k); p != it.path || e != it.entry() {
				t.Fatalf("first backup %v: cache entry %d is %s %v, want %s %v", first, k, p, e, it.path, it.entry())
			}
		}
	}
}
