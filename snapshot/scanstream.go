package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// scanStream writes the trees and the next change cache of a whole scan
// while it lists, each time the listing leaves a folder of the root, and
// frees the records of the folders passed: a backup of a million resources
// held every record and path (about 130 MB) until its last tree was
// written. It starts at the first folder the listing leaves once a
// resource differs from the change cache (at once without a cache: a first
// backup), so that an unchanged backup, which writes no cache, writes
// nothing; until then, or if the listing is not in path order, the
// records are kept and the trees built after the scan (see record).
type scanStream struct {
	b         *tree.Builder
	path      string // the change cache, beside which the next one is written
	file      *os.File
	cache     *cacheWriter // the next change cache, once started
	off       bool         // the listing left path order: no stream
	root      string       // the folder of the root being listed; "" for a resource at the root
	last      string       // the last path listed
	slab, at  int          // the first record not yet written: s.slabs[slab][at]
	resources int          // resources written and freed
	bytes     int64
}

// started reports whether the stream has written anything.
func (st *scanStream) started() bool { return st.cache != nil }

// rootOf is the folder of the root that p ("/a/b") is in; "" for a
// resource at the root (or a path checkKey refuses).
func rootOf(p string) string {
	name, _, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok {
		return ""
	}
	return name
}

// pass is called before path p is added to the scan: if the listing leaves
// a folder of the root with it, everything listed so far is complete once
// read, and is written and freed.
func (s *scanner) pass(ctx context.Context, p string) error {
	st := s.stream
	if st == nil || st.off {
		return nil
	}
	if st.last != "" && p <= st.last {
		if st.started() {
			return fmt.Errorf("list %s: %s after %s, out of path order", metastore.Describe(s.src), p, st.last)
		}
		st.off = true
		return nil
	}
	root, prev := rootOf(p), st.root
	st.root, st.last = root, p
	if root == prev || !s.ready {
		return nil
	}
	if n := len(s.slabs); n == 0 || (st.slab == n-1 && st.at == len(s.slabs[n-1])) {
		return nil // nothing listed since the last part
	}
	// Nothing is written while every resource so far is the cache's.
	same := func() bool { return !st.started() && !s.differs.Load() && s.load.count > 0 }
	if s.walked && same() {
		return nil // a walk knows it without waiting for its writes
	}
	// Everything listed so far must be read; whether a resource differs
	// from the cache may be known only then.
	if err := s.drain(ctx); err != nil {
		return err
	}
	if same() {
		return nil
	}
	return st.write(s)
}

// drain waits until every resource sent to the workers is read.
func (s *scanner) drain(ctx context.Context) error {
	for s.inflight.Load() > 0 {
		select {
		case <-s.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// write writes the trees and the cache entries of the resources listed
// and not yet written, all read, and frees their records.
func (st *scanStream) write(s *scanner) error {
	if st.cache == nil {
		if err := os.MkdirAll(filepath.Dir(st.path), objects.DirMode); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(st.path), tmpMarker+"cache-")
		if err != nil {
			return err
		}
		st.file, st.cache = f, newCacheWriter(f, objects.ID{})
	}
	var part partItems
	for k := st.slab; k < len(s.slabs); k++ {
		b := s.slabs[k]
		for i := range b {
			if (k > st.slab || i >= st.at) && !b[i].gone {
				part = append(part, &b[i])
			}
		}
	}
	if err := st.b.Add(part); err != nil {
		return err
	}
	for _, it := range part {
		if it.fp.known() {
			st.cache.add(it.path, it.entry())
		}
		st.resources++
		st.bytes += it.size
	}
	last := len(s.slabs) - 1
	for k := st.slab; k < last; k++ {
		s.slabs[k] = nil
	}
	b := s.slabs[last]
	for i := range b {
		if last > st.slab || i >= st.at {
			b[i] = scanned{gone: true} // dropped by result
		}
	}
	st.slab, st.at = last, len(b)
	return nil
}

// finish writes the cache entries of the scan's other resources, items,
// and returns the next change cache under its temporary name.
func (st *scanStream) finish(items scanList) (staged, error) {
	for it := range items.all() {
		if it.fp.known() {
			st.cache.add(it.path, it.entry())
		}
	}
	_, err := st.cache.finish()
	if cerr := st.file.Close(); err == nil {
		err = cerr
	}
	f := staged{tmp: st.file.Name(), path: st.path}
	st.file, st.cache = nil, nil
	if err != nil {
		f.discard()
		return staged{}, err
	}
	return f, nil
}

// discard removes a next change cache left unfinished (a failed scan).
func (st *scanStream) discard() {
	if st != nil && st.file != nil {
		st.file.Close()
		os.Remove(st.file.Name())
		st.file, st.cache = nil, nil
	}
}

// partItems are the records a scanStream writes, as tree.Items.
type partItems []*scanned

func (p partItems) Len() int { return len(p) }

func (p partItems) At(i int) tree.Item {
	return tree.Item{Key: p[i].path, ID: p[i].id, Timestamp: p[i].ts}
}
