package snapshot

import (
	"context"
	"fmt"
	"io/fs"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// goneOnRead is a source whose resource at path is deleted between the
// listing and its read.
type goneOnRead struct {
	metastore.Source
	path string
}

func (g goneOnRead) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return metastore.ListEntries(ctx, g.Source, prefix, fn)
}

func (g goneOnRead) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if p == g.path {
		return metastore.Resource{}, fmt.Errorf("read %s: %w", p, fs.ErrNotExist)
	}
	return g.Source.Read(ctx, p)
}

// streamedSample is a metastore whose root mixes resources and folders
// whose names sort otherwise as tree entries ("/a.b", "/a/", "/a0"), with
// nested folders and two job folders of several slabs, ending with a
// resource at the root.
func streamedSample(t *testing.T) *memory.Store {
	ctx := t.Context()
	m := memory.New()
	put := func(p, data string, ts int64) {
		if err := m.Write(ctx, metastore.Resource{Path: p, Data: []byte(data), Timestamp: ts}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/UUID", "/a.b", "/a/x/1", "/a/x/2", "/a/y", "/a0", "/z"} {
		put(p, p, 1)
	}
	for i := range 40 {
		put(fmt.Sprintf("/cube/c%02d.json", i), fmt.Sprint("cube", i), 2)
		put(fmt.Sprintf("/dict/T/C%d/%d.dict", i%3, i), fmt.Sprint("dict", i), 3)
	}
	for i := range 2*slabSize + 100 {
		put(fmt.Sprintf("/execute/job-%05d", i), fmt.Sprint("job", i), int64(i))
		put(fmt.Sprintf("/execute_output/job-%05d-00", i), fmt.Sprint("out", i), int64(i))
	}
	return m
}

// TestScanStreamsFolders checks that a backup writes the trees and the
// change cache of each folder of the root during its scan, as the listing
// leaves it, and frees its records then: the scan's result holds only
// the resources after the last folder. The snapshots are those a build from
// all the records after the scan writes (a first backup, one after
// changes, deletions, additions and a resource deleted while read, an
// unchanged one), and the next backup reads nothing but /UUID again.
func TestScanStreamsFolders(t *testing.T) {
	t.Run("listed", func(t *testing.T) { scanStreamsFolders(t, false) })
	// A database's walk (walkScan) streams its folders the same way.
	t.Run("walked", func(t *testing.T) { scanStreamsFolders(t, true) })
}

func scanStreamsFolders(t *testing.T, walked bool) {
	ctx := t.Context()
	m := streamedSample(t)
	r := newRepo(t)
	var src metastore.Source = m
	if walked {
		src = &changeSource{Store: m}
	}
	// What a scan without a stream gives, built after it.
	want := func(src metastore.Source) string {
		t.Helper()
		caches := r.openCaches(metastore.Describe(m), true, false)
		defer caches.close()
		items, _, err := r.scan(ctx, src, nil, true, hashOnly, caches.load, progressOrNone(nil))
		if err != nil {
			t.Fatal(err)
		}
		root, err := (&tree.Builder{Write: hashOnly}).Build(items)
		if err != nil {
			t.Fatal(err)
		}
		return root.String()
	}
	backup := func(name string, src metastore.Source, unread int) {
		t.Helper()
		w := want(src)
		res, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Source: metastore.Describe(m)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.objs.ReadCommit(objects.ID(res.Snapshot.ID))
		if err != nil {
			t.Fatal(err)
		}
		if got.Tree.String() != w {
			t.Errorf("%s: snapshot tree %s, want %s (built after the scan)", name, got.Tree, w)
		}
		if unread >= 0 && res.Unread != unread {
			t.Errorf("%s: %d resources from the change cache, want %d", name, res.Unread, unread)
		}
	}
	n := 7 + 80 + 2*(2*slabSize+100)
	backup("first backup", src, 0)
	backup("unchanged", src, n-1)
	m.Write(ctx, metastore.Resource{Path: "/cube/c03.json", Data: []byte("changed"), Timestamp: 9})
	m.Delete(ctx, "/execute/job-00010")
	m.Write(ctx, metastore.Resource{Path: "/execute/job-99999", Data: []byte("new"), Timestamp: 9})
	m.Write(ctx, metastore.Resource{Path: "/a/x/3", Data: []byte("new"), Timestamp: 9})
	if !walked {
		backup("changed, one deleted while read", goneOnRead{m, "/execute_output/job-00007-00"}, -1)
	}
	backup("after it", src, -1)
	backup("unchanged again", src, n) // n+1 resources now, /UUID read

	// The stream itself: the records of every folder are freed during the
	// scan, the last resource ("/z", at the root) is left.
	m.Write(ctx, metastore.Resource{Path: "/a0", Data: []byte("changed"), Timestamp: 9})
	caches := r.openCaches(metastore.Describe(m), true, false)
	defer caches.close()
	stream := &scanStream{b: &tree.Builder{Write: hashOnly}, path: caches.path}
	defer stream.discard()
	items, _, err := r.scanStreaming(ctx, src, nil, true, hashOnly, nil, caches.load, progressOrNone(nil), stream)
	if err != nil {
		t.Fatal(err)
	}
	if items.Len() != 1 || items.item(0).path != "/z" || stream.resources != n {
		t.Errorf("the scan returned %d resources, its stream wrote %d; want /z alone and the %d others", items.Len(), stream.resources, n)
	}
	for k, b := range items.slabs {
		for i := range b {
			if b[i].path != "" && b[i].path != "/z" {
				t.Errorf("slab %d holds %s after the scan", k, b[i].path)
			}
		}
	}
}
