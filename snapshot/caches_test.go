package snapshot

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
		entries[p] = cacheEntry{fp: fingerprintOf(fmt.Sprintf("fd00:%x:6570abcd:1a2b3c4d:6570abcd:1a2b3c4d:%x", 1000+i, i)), size: int64(i), ts: int64(i) * 1000, id: objects.ID{byte(i), byte(i >> 8)}}
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
	e := cacheEntry{fp: fingerprintOf("c"), size: 1, ts: 1, id: objects.ID{1}}
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

// writeCache writes the cache file of entries, saved with commit, into a
// new folder, after damage (if not nil) changed its bytes, and returns its
// path.
func writeCache(t *testing.T, entries map[string]cacheEntry, commit objects.ID, damage func([]byte)) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := cacheFileOf(entries, commit).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if damage != nil {
		damage(buf.Bytes())
	}
	path := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEncodeCacheMerge checks that a scoped backup's cache keeps the old
// entries and replaces (or adds) those it learnt, in path order.
func TestEncodeCacheMerge(t *testing.T) {
	old := map[string]cacheEntry{
		"/a": {fp: fingerprintOf("a1"), id: objects.ID{1}},
		"/c": {fp: fingerprintOf("c1"), id: objects.ID{3}},
		"/e": {fp: fingerprintOf("e1"), id: objects.ID{5}},
	}
	path := writeCache(t, old, objects.ID{9}, nil)
	if x, _ := loadCacheFile(path); x.len() != len(old) {
		t.Fatalf("old cache: %d entries, want %d", x.len(), len(old))
	}
	items := []scanned{
		{path: "/b", fp: fingerprintOf("b2"), id: objects.ID{2}},
		{path: "/c", fp: fingerprintOf("c2"), id: objects.ID{4}},
		{path: "/d"}, // read by path: no fingerprint learnt
		{path: "/e", fp: fingerprintOf("e2"), id: objects.ID{6}},
		{path: "/f", fp: fingerprintOf("f2"), id: objects.ID{7}},
	}
	file, ok := encodeCache(path, listOf(items), false, false, objects.ID{8})
	if !ok {
		t.Fatal("nothing to write")
	}
	var buf bytes.Buffer
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
		if e, ok := got.get(p); !ok || e.fp != fingerprintOf(ch) {
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
		items[i] = scanned{path: fmt.Sprintf("/execute/%08x-4e2b-4c1d-9a7e-5f3c2b1a0d9e", i), fp: fingerprintOf(fmt.Sprintf("fd00:%x:6570abcd:1a2b3c4d", i)), size: int64(i), ts: int64(i) * 1000, id: objects.ID{byte(i), byte(i >> 8)}}
	}
	items[7].fp = fingerprint{} // read by path: left out
	path := filepath.Join(t.TempDir(), "cache")
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f, err := prepareAtomicFrom(path, cacheFileOfItems(listOf(items), objects.ID{2}), "tmp-")
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
		want := it.entry()
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
// The change fingerprint is 16 bytes in the record, no longer a string of
// some 50 characters beside it: the path is the only thing a record points
// to.
func TestScannedStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(scanned{}); n > 72 {
		t.Errorf("scanned is %d bytes, want at most 72", n)
	}
	rt := reflect.TypeFor[scanned]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		switch f.Type.Kind() {
		case reflect.String, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			if f.Name != "path" {
				t.Errorf("scanned.%s is a %s: a record holds no allocation beside its path", f.Name, f.Type)
			}
		}
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

// TestOldCacheVersionReadAsEmpty checks that a change cache of version 2
// (fingerprints as the backend's strings), well formed and with a right
// checksum, reads as empty: the next backup reads every resource, slower
// but never wrong.
func TestOldCacheVersionReadAsEmpty(t *testing.T) {
	var b []byte
	b = append(b, "metastore-cache 2\n"...)
	b = append(b, make([]byte, 20)...)
	for _, p := range []string{"/a", "/b"} {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		ch := "fd00:1:2:3:4:5:6"
		b = binary.AppendUvarint(b, uint64(len(ch)))
		b = append(b, ch...)
		b = binary.AppendVarint(b, 1)
		b = binary.AppendVarint(b, 1)
		b = append(b, make([]byte, 20)...)
	}
	sum := sha1.Sum(b)
	path := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(path, append(b, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := loadCacheFile(path); got.len() != 0 {
		t.Errorf("a version 2 cache loaded %d entries, want none", got.len())
	}
}

// TestWholeScanStreamsCache checks that a scan of the whole source takes
// its resources from the change cache read as a stream beside the listing,
// holding a buffer of the file and not the file: held whole, it was about
// 90 bytes per resource (133 before fingerprints were 16 bytes), the
// largest part of an unchanged backup's heap.
func TestWholeScanStreamsCache(t *testing.T) {
	ctx := t.Context()
	const n = 20000
	r, m := backedUpJobs(t, "/execute_output/job-4e2b-4c1d-9a7e-5f3c2b1a0d9e-", n)
	caches := r.openCaches(metastore.Describe(m), true, false)
	defer caches.close()
	items, st, err := r.scan(ctx, m, nil, true, hashOnly, caches.load, progressOrNone(nil))
	if err != nil {
		t.Fatal(err)
	}
	if items.Len() != n || st.unread != n {
		t.Fatalf("%d resources, %d taken from the cache; want %d of each", items.Len(), st.unread, n)
	}
	if caches.load.entries != nil {
		t.Errorf("a whole scan loaded %d cache entries; want the file streamed", caches.load.entries.len())
	}
	fi, err := os.Stat(caches.path)
	if err != nil {
		t.Fatal(err)
	}
	// The same stream, alone: a fixed buffer, nothing per entry.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, count, _ := openCursor(caches.path)
	found := 0
	for it := range items.all() {
		if _, ok := c.seek(it.path); ok {
			found++
		}
	}
	runtime.ReadMemStats(&after)
	c.f.Close()
	if count != n || found != n {
		t.Errorf("cursor: %d entries, %d found; want %d", count, found, n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 || alloc > uint64(fi.Size())/4 {
		t.Errorf("streaming a %d-byte cache file allocated %d bytes; want a fixed buffer (under 256 KiB)", fi.Size(), alloc)
	}
}

// TestScanResultNotCopied checks that a scan with a change cache returns
// its records in the slabs it listed them into, instead of copying every
// record into a new slice at the end: that copy doubled the scan's records
// (72 bytes a resource) at the backup's peak. (It asked for one slab
// reserved from the cache's size until the snapshot's record released the
// records slab by slab as its trees are written: TestRecordReleasesScanRecords.)
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
			if err := s.read(ctx, it.it, it.old.id); err != nil {
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
	items, allocated := resultAllocs(t, s)
	if want := (n + slabSize - 1) / slabSize; items.Len() != n || items.item(n-1).path != "/execute/new" || s.unread != n-1 || len(items.slabs) != want {
		t.Fatalf("%d resources (last %s) in %d slabs, %d from the cache; want %d, /execute/new last, %d slabs, %d", items.Len(), items.item(items.Len()-1).path, len(items.slabs), s.unread, n, want, n-1)
	}
	if allocated > 64<<10 {
		t.Errorf("gathering the result of %d resources allocated %d bytes, want none (a copy: %d)", n, allocated, n*int(unsafe.Sizeof(scanned{})))
	}
}

// TestScopedScanReadsOnlyItsEntries checks that a scan of some members
// (a scoped backup or restore), which reads them by path (no fingerprint
// to compare) and asks the change cache only for delta bases, holds only
// their entries, not the whole file (over 100 MB at a million resources),
// and that the next cache keeps every entry it had, naming no snapshot.
func TestScopedScanReadsOnlyItsEntries(t *testing.T) {
	ctx := t.Context()
	const n = 20000
	r, m := backedUpJobs(t, "/execute/job-", n)
	members := []string{"/execute/job-04000", "/execute/job-00010", "/execute/job-00011", "/execute/none"}
	m.Write(ctx, metastore.Resource{Path: "/execute/job-00011", Data: []byte("changed"), Timestamp: 2})
	caches := r.openCaches(metastore.Describe(m), false, false)
	old, _ := loadCacheFile(caches.path)
	defer caches.close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	items, st, err := r.scan(ctx, m, members, false, hashOnly, caches.load, progressOrNone(nil))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if items.Len() != 3 || st.unread != 0 {
		t.Fatalf("%d resources, %d from the cache; want 3 read", items.Len(), st.unread)
	}
	caches.load.wait()
	if got := caches.load.entries.len(); got != 3 {
		t.Errorf("the scoped scan holds %d cache entries; want 3 (its members the cache knows)", got)
	}
	fi, err := os.Stat(caches.path)
	if err != nil {
		t.Fatal(err)
	}
	// Buffers of a fixed size (about 150 KB), nothing per entry of the file.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(fi.Size())/4 {
		t.Errorf("a scan of %d members allocated %d bytes, against a %d-byte cache file; want under a quarter of it", len(members), alloc, fi.Size())
	}
	caches.stage(items)
	caches.save(objects.ID{7})
	// Saved with no snapshot: the scoped one does not hold the blobs of
	// the entries the file keeps (TestCacheOfScopedBackupNotTrusted).
	got, commit := loadCacheFile(caches.path)
	if got.len() != n || !commit.IsZero() {
		t.Fatalf("next cache: %d entries, commit %v; want %d, none", got.len(), commit, n)
	}
	for k := range old.len() {
		p, want := old.at(k)
		if e, ok := got.get(p); !ok || e != want {
			t.Fatalf("%s: next cache has %v (%v), want %v", p, e, ok, want)
		}
	}
}

// TestCacheMergeOfDamagedFile checks that a scoped scan's next cache, over
// an old file that is damaged, holds the scan's own entries and nothing of
// the old file; and that reading a damaged file for some paths finds none.
func TestCacheMergeOfDamagedFile(t *testing.T) {
	old := map[string]cacheEntry{"/a": {fp: fingerprintOf("a1")}, "/c": {fp: fingerprintOf("c1")}}
	path := writeCache(t, old, objects.ID{9}, func(data []byte) { data[len(cacheMagic)+25] ^= 1 })
	if x, _ := loadCacheFor(path, []string{"/a", "/c"}); x.len() != 0 {
		t.Errorf("a damaged file gave %d entries, want none", x.len())
	}
	items := []scanned{{path: "/b", fp: fingerprintOf("b2")}, {path: "/c", fp: fingerprintOf("c2")}}
	var got []string
	for p, e := range cacheMerge(path, listOf(items), objects.ID{8}).entries {
		got = append(got, p+"="+fmt.Sprintf("%x", e.fp[:2]))
	}
	want := []string{"/b=" + fmt.Sprintf("%x", items[0].fp[:2]), "/c=" + fmt.Sprintf("%x", items[1].fp[:2])}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merge over a damaged file: %v, want %v", got, want)
	}
}

// TestScanFindsCacheUnchanged checks what spares an unchanged backup from
// writing its change cache again: a whole scan that found exactly the
// file's entries says so; any resource added, deleted, changed or with a
// new timestamp means a new file.
func TestScanFindsCacheUnchanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *memory.Store)
		same   bool
	}{
		{"nothing", func(*memory.Store) {}, true},
		{"content", func(m *memory.Store) {
			m.Write(t.Context(), metastore.Resource{Path: "/execute/job-00003", Data: []byte("new"), Timestamp: 1})
		}, false},
		{"timestamp", func(m *memory.Store) {
			m.Write(t.Context(), metastore.Resource{Path: "/execute/job-00003", Data: []byte{3}, Timestamp: 9})
		}, false},
		{"deleted", func(m *memory.Store) { m.Delete(t.Context(), "/execute/job-00003") }, false},
		{"added", func(m *memory.Store) {
			m.Write(t.Context(), metastore.Resource{Path: "/execute/job-00003a", Data: []byte("a"), Timestamp: 1})
		}, false},
	}
	for _, tt := range tests {
		r, m := backedUpJobs(t, "/execute/job-", 50)
		// A second backup: the first one's cache lacks /UUID-like
		// resources read by path; this one's is the reference.
		if _, err := r.Backup(t.Context(), m, BackupOptions{Scope: scope.SystemScope()}); err != nil {
			t.Fatal(err)
		}
		tt.change(m)
		caches := r.openCaches(metastore.Describe(m), true, false)
		items, _, err := r.scan(t.Context(), m, nil, true, hashOnly, caches.load, progressOrNone(nil))
		caches.close()
		if err != nil {
			t.Fatal(err)
		}
		if caches.load.same != tt.same {
			t.Errorf("%s: same = %v, want %v", tt.name, caches.load.same, tt.same)
		}
		if _, write := encodeCache(caches.path, items, true, caches.load.same, objects.ID{1}); write == tt.same {
			t.Errorf("%s: cache written %v, want %v", tt.name, write, !tt.same)
		}
	}
}
