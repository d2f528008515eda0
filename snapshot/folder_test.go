package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// seededFolder returns a folder metastore holding the Kylin sample, and its
// path.
func seededFolder(t *testing.T) (*folder.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "meta")
	s := newFolder(t, dir)
	metastoretest.Seed(t, s, sample)
	return s, dir
}

// newFolder creates a folder metastore at dir; reopen opens the one at dir
// afresh, as each command does.
func newFolder(t *testing.T, dir string) *folder.Store { return mustFolder(t)(folder.Create(dir)) }
func reopen(t *testing.T, dir string) *folder.Store    { return mustFolder(t)(folder.Open(dir)) }

// mustFolder fails the test on an error opening a folder metastore.
func mustFolder(t *testing.T) func(*folder.Store, error) *folder.Store {
	return func(s *folder.Store, err error) *folder.Store {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestFolderLeftovers plants the temporary file a restore killed while
// writing a large resource leaves (".NAME.metastore-tmp-DIGITS", torn):
// a backup reports it by name and does not record it; a restore removes
// it, also when the target already matches the snapshot.
func TestFolderLeftovers(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, dir := seededFolder(t)
	const leftover = "/cube/.test_kylin_cube_with_slr_empty.json.metastore-tmp-0k3j5f9a2b1cd"
	plant := func(key string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(key)), []byte(`{"uuid": "torn`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plant(leftover)

	res := backup(t, r, reopen(t, dir), scope.SystemScope())
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, w.Path+": "+w.Message)
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], leftover+": temporary file left by an interrupted write") {
		t.Errorf("backup warnings = %q, want one naming %s as a temporary file", warned, leftover)
	}
	snap := r.OpenInfo(res.Snapshot)
	if _, err := snap.Read(ctx, leftover); err == nil {
		t.Errorf("the backup recorded the temporary file %s", leftover)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(leftover))); err != nil {
		t.Errorf("the backup removed the temporary file: %v", err)
	}

	// The target already matches: nothing to write, but the leftover goes.
	rr, err := r.Restore(ctx, snap, reopen(t, dir), RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Applied || !slices.Contains(rr.Warnings, leftover+": temporary file left by an interrupted write (a killed restore): removed") {
		t.Errorf("restore over a matching target: applied %v, warnings %q; want nothing applied and the leftover reported removed", rr.Applied, rr.Warnings)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(leftover))); !os.IsNotExist(err) {
		t.Errorf("after the restore, the temporary file is still there (%v)", err)
	}

	// A restore that writes removes the leftovers of the folders it
	// touches, and those its listing met.
	const other = "/table/.DEFAULT.TEST_KYLIN_FACT.json.metastore-tmp-1x"
	plant(leftover)
	plant(other)
	if err := os.WriteFile(filepath.Join(dir, "cube", "test_kylin_cube_with_slr_empty.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	rr, err = r.Restore(ctx, snap, reopen(t, dir), RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Applied || rr.Counts[Changed] != 1 {
		t.Errorf("restore: applied %v, counts %v; want one resource changed", rr.Applied, rr.Counts)
	}
	for _, key := range []string{leftover, other} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key))); !os.IsNotExist(err) {
			t.Errorf("after the restore, %s is still there (%v)", key, err)
		}
		if !slices.Contains(rr.Warnings, key+": temporary file left by an interrupted write (a killed restore): removed") {
			t.Errorf("restore warnings %q do not report %s removed", rr.Warnings, key)
		}
	}
	sameResources(t, dump(t, reopen(t, dir)), dump(t, snap))
}

// TestRestoreTempLikeKeys backs up keys that contain ".metastore-tmp-"
// (which a database metastore can hold) and restores them into a folder:
// only the exact names of the folder's own temporary files are reserved.
func TestRestoreTempLikeKeys(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := memory.New()
	keys := []string{
		"/UUID",
		"/odd/.cube.json.metastore-tmp-2024.bak",
		"/odd/.x.metastore-tmp-",
		"/odd/cube.metastore-tmp-1",
		"/odd/.metastore-tmp-dir/.y.metastore-tmp-Z",
	}
	for i, k := range keys {
		if err := src.Write(ctx, metastore.Resource{Path: k, Data: []byte("content of " + k), Timestamp: 1457534216410 + int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	snap := r.OpenInfo(backup(t, r, src, scope.SystemScope()).Snapshot)
	dir := filepath.Join(t.TempDir(), "meta")
	dst := newFolder(t, dir)
	if _, err := r.Restore(ctx, snap, dst, RestoreOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatalf("restore into a folder: %v", err)
	}
	sameResources(t, dump(t, reopen(t, dir)), dump(t, src))
	// And back: the folder's backup holds them all.
	again := backup(t, r, reopen(t, dir), scope.SystemScope())
	if again.Resources != len(keys) || len(again.Warnings) != 0 {
		t.Errorf("backup of the restored folder: %d resources, warnings %v; want %d and none", again.Resources, again.Warnings, len(keys))
	}
}

// TestRestoreReportsClampedTimestamp restores resources whose timestamps
// lie beyond what the file system keeps (ext4: 1901 to 2446): the restore
// says which, and what was stored.
func TestRestoreReportsClampedTimestamp(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := memory.New()
	stamps := map[string]int64{"/UUID": 1457534216410, "/cube/future.json": 32503680000000, "/cube/past.json": -5364662400000}
	for k, ts := range stamps {
		if err := src.Write(ctx, metastore.Resource{Path: k, Data: []byte(k), Timestamp: ts}); err != nil {
			t.Fatal(err)
		}
	}
	snap := r.OpenInfo(backup(t, r, src, scope.SystemScope()).Snapshot)
	dir := filepath.Join(t.TempDir(), "meta")
	dst := newFolder(t, dir)
	rr, err := r.Restore(ctx, snap, dst, RestoreOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	clamped := 0
	for k, ts := range stamps {
		got, err := reopen(t, dir).Read(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var warned []string
		for _, w := range rr.Warnings {
			if strings.HasPrefix(w, k+": ") {
				warned = append(warned, w)
			}
		}
		switch {
		case got.Timestamp == ts && len(warned) > 0:
			t.Errorf("%s kept its timestamp, yet the restore warns %q", k, warned)
		case got.Timestamp != ts:
			clamped++
			want := "stored as " + strconv.FormatInt(got.Timestamp, 10)
			if len(warned) != 1 || !strings.Contains(warned[0], strconv.FormatInt(ts, 10)) || !strings.Contains(warned[0], want) {
				t.Errorf("%s: timestamp %d stored as %d; restore warnings %q, want one naming both", k, ts, got.Timestamp, rr.Warnings)
			}
		}
	}
	if clamped == 0 {
		t.Skip("this file system keeps every timestamp tried")
	}
}

// TestCacheFileIsNotFollowed plants the change cache as a symbolic link to
// a FIFO, which reading would wait on forever: the backup ignores it.
func TestCacheFileIsNotFollowed(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	path := r.cachePath(metastore.Describe(src))
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, p := range []string{path, path + ".trees"} {
		os.Remove(p)
		if err := os.Symlink(fifo, p); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Backup(context.Background(), src, BackupOptions{Scope: scope.SystemScope()})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("backup with a cache linked to a FIFO: %v", err)
		}
	case <-time.After(20 * time.Second):
		// Unblock the reader so that the test process can end.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal("backup with a cache linked to a FIFO still runs after 20 s: it reads through the link")
	}
}

// TestRestoreKeepsModesAndOwners restores over a folder whose /user/ADMIN
// (a password hash) is private and whose files belong to Kylin's user, as
// root: the restored files stay private and Kylin's.
func TestRestoreKeepsModesAndOwners(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seededFolder(t)
	if err := src.Write(ctx, metastore.Resource{Path: "/user/ADMIN", Data: []byte(`{"username":"ADMIN","password":"$2a$10$hash"}`), Timestamp: 1457534216410}); err != nil {
		t.Fatal(err)
	}
	snap := r.OpenInfo(backup(t, r, src, scope.SystemScope()).Snapshot)
	_, dir := seededFolder(t)
	admin := filepath.Join(dir, "user", "ADMIN")
	if err := os.Mkdir(filepath.Join(dir, "user"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(admin, []byte(`{"username":"ADMIN","password":"changed"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(admin, 0o600); err != nil {
		t.Fatal(err)
	}
	asRoot := os.Geteuid() == 0
	const kylin = 1234
	if asRoot {
		for _, p := range []string{dir, filepath.Join(dir, "user"), admin} {
			if err := os.Lchown(p, kylin, kylin); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "cube")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Restore(ctx, snap, reopen(t, dir), RestoreOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(admin)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("after the restore /user/ADMIN has mode %v, want it kept at 0600", fi.Mode().Perm())
	}
	if !asRoot {
		t.Skip("not root: owners are not checked (tests run as root in CI)")
	}
	for _, p := range []string{admin, filepath.Join(dir, "cube"), filepath.Join(dir, "cube", "test_kylin_cube_with_slr_empty.json")} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != kylin || st.Gid != kylin {
			t.Errorf("after a restore as root, %s belongs to %d:%d, want Kylin's %d:%d", p, st.Uid, st.Gid, kylin, kylin)
		}
	}
}
