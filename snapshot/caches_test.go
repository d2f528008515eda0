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
