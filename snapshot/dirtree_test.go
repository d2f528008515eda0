package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
)

// TestSnapshotExists checks Exists against Read on a recorded snapshot.
func TestSnapshotExists(t *testing.T) {
	ctx := t.Context()
	r := newRepo(t)
	m := memory.New()
	for _, p := range []string{"/UUID", "/cube/a.json", "/cube/a@1.json", "/dict/T/C/x.dict"} {
		if err := m.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: 7}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	s := r.OpenInfo(res.Snapshot)
	for p, want := range map[string]bool{
		"/UUID": true, "/cube/a.json": true, "/cube/a@1.json": true, "/dict/T/C/x.dict": true,
		"/cube/b.json": false, "/cube": false, "/dict/T/C": false, "/cube/a.json/x": false, "/nothing/x": false,
	} {
		got, err := s.Exists(ctx, p)
		if err != nil || got != want {
			t.Errorf("Exists(%q) = %v, %v; want %v", p, got, err, want)
		}
		_, rerr := s.Read(ctx, p)
		if (rerr == nil) != want {
			t.Errorf("Read(%q) error %v disagrees with Exists", p, rerr)
		}
	}
	if _, err := s.Exists(ctx, "/cube/../x"); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("Exists of an invalid path: %v", err)
	}
}

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
