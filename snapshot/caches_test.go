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
// allocates the file's bytes once, beside the map of its entries: the file
// of a million resources is over 100 MB, and reading it through io.ReadAll's
// doubling buffers and then copying it into a string tripled the load's
// memory.
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
	// What the map alone costs: the same entries into a map of the same
	// size hint.
	var m0, m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m0)
	ref := make(map[string]cacheEntry, len(data)/96)
	for p, e := range entries {
		ref[p] = e
	}
	runtime.ReadMemStats(&m1)
	got, commit := loadCacheFile(path)
	runtime.ReadMemStats(&m2)
	if len(got) != n || commit != (objects.ID{1}) {
		t.Fatalf("loaded %d entries, commit %v; want %d, %v", len(got), commit, n, objects.ID{1})
	}
	for p, e := range entries {
		if got[p] != e {
			t.Fatalf("%s: loaded %+v, want %+v", p, got[p], e)
		}
	}
	mapBytes := m1.TotalAlloc - m0.TotalAlloc
	loadBytes := m2.TotalAlloc - m1.TotalAlloc
	// The file once, the map, and a little slack.
	if limit := uint64(len(data)) + mapBytes + uint64(len(data))/10; loadBytes > limit {
		t.Errorf("loading a %d-byte cache file allocated %d bytes; want at most %d (the file once, and the map's %d)", len(data), loadBytes, limit, mapBytes)
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
	if len(got) != n-1 || commit != (objects.ID{2}) {
		t.Fatalf("read back %d entries, commit %v; want %d, %v", len(got), commit, n-1, objects.ID{2})
	}
	for i, it := range items {
		want := cacheEntry{change: it.change, size: it.size, ts: it.ts, id: it.id}
		if e, ok := got[it.path]; (i == 7) == ok || (ok && e != want) {
			t.Fatalf("%s: read back %+v (%v), want %+v", it.path, e, ok, want)
		}
	}
}
