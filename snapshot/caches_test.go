package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// TestStaleCacheTempRemoved checks that a backup removes the temporary
// cache files a killed backup left (older than a minute), and only those.
func TestStaleCacheTempRemoved(t *testing.T) {
	ctx := t.Context()
	r := newRepo(t)
	m := memory.New()
	m.Write(ctx, metastore.Resource{Path: "/UUID", Data: []byte("u"), Timestamp: 1})
	if _, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.Path(), cacheDir)
	old, fresh := filepath.Join(dir, tmpMarker+"cache-1"), filepath.Join(dir, tmpMarker+"cache-2")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("left by a killed backup"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := r.opt.Now().Add(-time.Hour)
	os.Chtimes(old, past, past)
	future := r.opt.Now().Add(time.Hour)
	os.Chtimes(fresh, future, future)
	if _, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file still there (%v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file removed: %v", err)
	}
}

// TestLoadCacheAllocatesFileOnce checks that reading a change cache
// allocates the file's bytes once and a few bytes per entry beside them: the
// file of a million resources is over 100 MB, and reading it through
// io.ReadAll's doubling buffers, copying it into a string and decoding it
// into a map (about 100 bytes an entry) took four times that. It also checks
// that every entry is found.
func TestLoadCacheAllocatesFileOnce(t *testing.T) {
	const n = 20000
	entries := make(map[string]cacheEntry, n)
	for i := range n {
		p := fmt.Sprintf("/execute_output/%08x-4e2b-4c1d-9a7e-5f3c2b1a0d9e-%02d", i, i%16)
		entries[p] = cacheEntry{change: fmt.Sprintf("fd00:%x:6570abcd:1a2b3c4d:6570abcd:1a2b3c4d:%x", 1000+i, i), size: int64(i), ts: int64(i) * 1000, id: objects.ID{byte(i), byte(i >> 8)}}
	}
	path := filepath.Join(t.TempDir(), "cache")
	var file bytes.Buffer
	if _, err := cacheFileOf(entries, objects.ID{1}).WriteTo(&file); err != nil {
		t.Fatal(err)
	}
	data := file.Bytes()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	got, commit := loadCacheFile(path)
	runtime.ReadMemStats(&m1)
	if got.len() != n || commit != (objects.ID{1}) {
		t.Fatalf("loaded %d entries, commit %v; want %d, %v", got.len(), commit, n, objects.ID{1})
	}
	for p, e := range entries {
		if g, ok := got.get(p); !ok || g != e {
			t.Fatalf("%s: loaded %+v (%v), want %+v", p, g, ok, e)
		}
	}
	if _, ok := got.get("/execute_output/zzz"); ok {
		t.Error("found a path the cache does not hold")
	}
	// The file once, 8 bytes an entry, and a little slack.
	if alloc, limit := m1.TotalAlloc-m0.TotalAlloc, uint64(len(data))+8*n+uint64(len(data))/10; alloc > limit {
		t.Errorf("loading a %d-byte cache file of %d entries allocated %d bytes; want at most %d (the file once, and 8 bytes an entry)", len(data), n, alloc, limit)
	}
}

// TestCacheIndexRefusesUnsorted checks that a cache file whose paths are
// not in order (the index searches it) reads as empty: a backup then reads
// every resource, slower but never wrong.
func TestCacheIndexRefusesUnsorted(t *testing.T) {
	e := cacheEntry{change: "c", size: 1, ts: 1, id: objects.ID{1}}
	file := cacheFile{commit: objects.ID{1}, entries: func(yield func(string, cacheEntry) bool) {
		_ = yield("/b", e) && yield("/a", e)
	}}
	var buf bytes.Buffer
	if _, err := file.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := loadCacheFile(path); got.len() != 0 {
		t.Errorf("an unsorted cache file loaded %d entries, want none", got.len())
	}
}

// TestEncodeCacheMerge checks that a scoped backup's cache keeps the old
// entries and replaces (or adds) those it learnt, in path order.
func TestEncodeCacheMerge(t *testing.T) {
	old := map[string]cacheEntry{
		"/a": {change: "a1", id: objects.ID{1}},
		"/c": {change: "c1", id: objects.ID{3}},
		"/e": {change: "e1", id: objects.ID{5}},
	}
	var buf bytes.Buffer
	if _, err := cacheFileOf(old, objects.ID{9}).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	x, _ := loadCacheFile(path)
	items := []scanned{
		{path: "/b", change: "b2", id: objects.ID{2}},
		{path: "/c", change: "c2", id: objects.ID{4}},
		{path: "/d"}, // read by path: no fingerprint learnt
		{path: "/e", change: "e2", id: objects.ID{6}},
		{path: "/f", change: "f2", id: objects.ID{7}},
	}
	file, ok := encodeCache(x, items, false, objects.ID{8})
	if !ok {
		t.Fatal("nothing to write")
	}
	buf.Reset()
	if _, err := file.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, commit := loadCacheFile(path)
	want := map[string]string{"/a": "a1", "/b": "b2", "/c": "c2", "/e": "e2", "/f": "f2"}
	if got.len() != len(want) || commit != (objects.ID{8}) {
		t.Fatalf("merged cache has %d entries, commit %v; want %d, %v", got.len(), commit, len(want), objects.ID{8})
	}
	for p, ch := range want {
		if e, ok := got.get(p); !ok || e.change != ch {
			t.Errorf("%s: %+v (%v), want change %q", p, e, ok, ch)
		}
	}
}

// TestCacheFileWriteBounded checks that saving the change cache streams it
// to its file in bounded memory, whatever the number of resources (it was
// encoded whole in memory first: over 100 MB at a million resources), and
// that the file reads back as written.
func TestCacheFileWriteBounded(t *testing.T) {
	const n = 20000
	items := make([]scanned, n)
	for i := range items {
		items[i] = scanned{path: fmt.Sprintf("/execute/%08x-4e2b-4c1d-9a7e-5f3c2b1a0d9e", i), change: fmt.Sprintf("fd00:%x:6570abcd:1a2b3c4d", i), size: int64(i), ts: int64(i) * 1000, id: objects.ID{byte(i), byte(i >> 8)}}
	}
	items[7].change = "" // read by path: left out
	path := filepath.Join(t.TempDir(), "cache")
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f, err := prepareAtomicFrom(path, cacheFileOfItems(items, objects.ID{2}), "tmp-")
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.commit(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 || alloc > uint64(fi.Size())/2 {
		t.Errorf("writing a %d-byte cache file of %d resources allocated %d bytes; want a bounded buffer (under 1 MiB)", fi.Size(), n, alloc)
	}
	got, commit := loadCacheFile(path)
	if got.len() != n-1 || commit != (objects.ID{2}) {
		t.Fatalf("read back %d entries, commit %v; want %d, %v", got.len(), commit, n-1, objects.ID{2})
	}
	for i, it := range items {
		want := cacheEntry{change: it.change, size: it.size, ts: it.ts, id: it.id}
		if e, ok := got.get(it.path); (i == 7) == ok || (ok && e != want) {
			t.Fatalf("%s: read back %+v (%v), want %+v", it.path, e, ok, want)
		}
	}
}

// TestScannedStaysSmall checks the size of what a scan keeps per resource
// until the snapshot is recorded (a million of them, twice over while the
// scan's result is gathered): it was 120 bytes, with a delta base and a
// decoded /UUID that only the read of one resource needs, then 80, with
// padding after the object id between 8-byte fields.
func TestScannedStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(scanned{}); n > 72 {
		t.Errorf("scanned is %d bytes, want at most 72", n)
	}
}

// backedUpJobs returns a new repository holding a system backup of a
// memory metastore of n one-byte resources, prefix followed by a five-digit
// number (timestamp 1), and that metastore.
func backedUpJobs(t *testing.T, prefix string, n int) (*Repository, *memory.Store) {
	t.Helper()
	ctx := t.Context()
	r := newRepo(t)
	m := memory.New()
	for i := range n {
		m.Write(ctx, metastore.Resource{Path: fmt.Sprintf("%s%05d", prefix, i), Data: []byte{byte(i)}, Timestamp: 1})
	}
	if _, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	return r, m
}

// TestScanSharesCacheStrings checks that a scan keeps, for a resource the
// change cache knows, the cache's copy of its path and fingerprint instead
// of the listing's: the cache is held until the next one is written anyway,
// and a second copy of both cost over 100 bytes per resource (a million
// resources: over 100 MB of an unchanged backup's heap).
func TestScanSharesCacheStrings(t *testing.T) {
	ctx := t.Context()
	const n = 2000
	r, m := backedUpJobs(t, "/execute_output/job-", n)
	caches := r.openCaches(metastore.Describe(m), true, false)
	defer caches.close()
	items, st, err := r.scan(ctx, m, nil, true, hashOnly, caches.load, progressOrNone(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n || st.unread != n {
		t.Fatalf("%d resources, %d taken from the cache; want %d of each", len(items), st.unread, n)
	}
	all := caches.load.wait().all
	lo := uintptr(unsafe.Pointer(unsafe.StringData(all)))
	in := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(all))
	}
	for _, it := range items {
		if !in(it.path) || !in(it.change) {
			t.Fatalf("%s: path in the cache %v, fingerprint in the cache %v; want both", it.path, in(it.path), in(it.change))
		}
	}
}

// TestScanResultNotCopied checks that a scan with a change cache gathers
// its result in the room it reserved from the cache's size, instead of
// copying every record into a new slice at the end: that copy doubled the
// scan's records (72 bytes a resource) at the backup's peak.
func TestScanResultNotCopied(t *testing.T) {
	ctx := t.Context()
	const n = 20000
	r, m := backedUpJobs(t, "/execute/job-", n)
	m.Write(ctx, metastore.Resource{Path: "/execute/new", Data: []byte("new"), Timestamp: 2})
	m.Delete(ctx, "/execute/job-00007")
	caches := r.openCaches(metastore.Describe(m), true, false)
	defer caches.close()
	s := &scanner{src: m, write: hashOnly, load: caches.load, prog: progressOrNone(nil), has: r.objs.Has}
	next := make(chan toRead, 16)
	done := make(chan error, 1)
	go func() {
		for it := range next {
			if err := s.read(ctx, it.it, it.base); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	err := s.list(ctx, nil, true, next)
	close(next)
	if err2 := <-done; err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	items, err := s.result()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n || items[n-1].path != "/execute/new" || s.unread != n-1 {
		t.Fatalf("%d resources (last %s), %d from the cache; want %d, /execute/new last, %d", len(items), items[len(items)-1].path, s.unread, n, n-1)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("gathering the result of %d resources allocated %d bytes, want none (a copy: %d)", n, got, n*int(unsafe.Sizeof(scanned{})))
	}
}
