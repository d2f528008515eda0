package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// TestDirTreeLookups checks that a folder answers the same whether its
// encoding is searched in place (the first lookups) or decoded (later ones,
// or after a walk): entries, folders, timestamp records (names holding "@"
// included) and missing names.
func TestDirTreeLookups(t *testing.T) {
	blob := objects.HashObject(objects.KindBlob, []byte("x"))
	var files, mirror []objects.TreeEntry
	want := map[string]int64{}
	for i, n := range []string{"a.json", "a@1", "b", "cube.json", "x@y.json", "zz"} {
		ms := int64(1700000000000 + i)
		files = append(files, objects.TreeEntry{Name: n, Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, []byte(n))})
		mirror = append(mirror, objects.TreeEntry{Name: timestampName(n, ms), Mode: objects.ModeFile, ID: blob})
		want[n] = ms
	}
	files = append(files, objects.TreeEntry{Name: "a", Mode: objects.ModeDir, ID: objects.HashObject(objects.KindTree, nil)})
	mirror = append(mirror, objects.TreeEntry{Name: "a", Mode: objects.ModeDir, ID: objects.HashObject(objects.KindTree, nil)})
	objects.SortTree(files)
	objects.SortTree(mirror)
	rawFiles, err := objects.EncodeTree(files)
	if err != nil {
		t.Fatal(err)
	}
	rawMirror, err := objects.EncodeTree(mirror)
	if err != nil {
		t.Fatal(err)
	}
	d, m := &dirTree{raw: rawFiles}, &dirTree{raw: rawMirror}
	for round := 0; round < 3*scanLookups; round++ {
		for _, e := range files {
			got, ok, err := d.find(e.Name)
			if err != nil || !ok || got != e {
				t.Fatalf("lookup %d: find(%q) = %v, %v, %v; want %v", round, e.Name, got, ok, err, e)
			}
			if e.IsDir() {
				continue
			}
			ms, ok, bad, err := m.timestamp(e.Name)
			if err != nil || bad != "" || !ok || ms != want[e.Name] {
				t.Fatalf("lookup %d: timestamp(%q) = %d, %v, %q, %v; want %d", round, e.Name, ms, ok, bad, err, want[e.Name])
			}
		}
		for _, n := range []string{"", "a.js", "cube", "x", "zzz"} {
			if _, ok, err := d.find(n); ok || err != nil {
				t.Fatalf("lookup %d: find(%q) found something (%v)", round, n, err)
			}
			if _, ok, _, err := m.timestamp(n); ok || err != nil {
				t.Fatalf("lookup %d: timestamp(%q) found something (%v)", round, n, err)
			}
		}
	}
	if !d.decoded || !m.decoded {
		t.Error("folders still searched in place after many lookups")
	}
}

// TestDirTreeRefusesLinks checks that a symbolic link or a submodule is an
// error both when found by a search in place and when decoded.
func TestDirTreeRefusesLinks(t *testing.T) {
	for _, mode := range []objects.Mode{0o120000, 0o160000} {
		entries := []objects.TreeEntry{
			{Name: "evil.json", Mode: mode, ID: objects.HashObject(objects.KindBlob, []byte("../x"))},
			{Name: "ok.json", Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, []byte("{}"))},
		}
		var raw []byte
		for _, e := range entries {
			raw = fmt.Appendf(raw, "%o %s\x00", e.Mode, e.Name)
			raw = append(raw, e.ID[:]...)
		}
		d := &dirTree{raw: raw}
		if _, _, err := d.find("evil.json"); err == nil {
			t.Errorf("mode %o: search in place found the entry without an error", mode)
		}
		if _, ok, err := d.find("ok.json"); !ok || err != nil {
			t.Errorf("mode %o: the good entry beside it: %v, %v", mode, ok, err)
		}
		if _, _, err := (&dirTree{raw: raw}).decode(); err == nil {
			t.Errorf("mode %o: decoding accepted the folder", mode)
		}
	}
	// A damaged encoding is an error, not a miss.
	if _, _, err := (&dirTree{raw: []byte("100644 cut")}).find("x"); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("damaged folder: %v, want ErrCorrupt", err)
	}
}

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
