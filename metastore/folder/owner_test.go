package folder_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// perm returns the permission bits of rel in root.
func perm(t *testing.T, root, rel string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// ownerOf returns the user and group of rel in root.
func ownerOf(t *testing.T, root, rel string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// chmod sets the permission bits of rel in root.
func chmod(t *testing.T, root, rel string, m fs.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(root, filepath.FromSlash(rel)), m); err != nil {
		t.Fatal(err)
	}
}

// TestModes checks that a rewritten file keeps its mode (a 0600 /user/ADMIN,
// which holds a password hash, stays 0600), and that new files and folders
// are no more open than their folder's files, or the folder itself.
func TestModes(t *testing.T) { bothPaths(t, testModes) }

func testModes(t *testing.T, newStore storeMaker) {
	s, root := newStore(t)
	chmod(t, root, ".", 0o755)
	putFiles(t, root, map[string]string{
		"user/ADMIN": "hash", "user/ANALYST": "hash", // putFiles makes them 0600
		"cube/a.json": "a", "cube/b.json": "b", "cube/c.json": "c",
		"exec/x": "x",
	})
	chmod(t, root, "cube/a.json", 0o644)
	chmod(t, root, "cube/b.json", 0o664)
	chmod(t, root, "cube/c.json", 0o640)
	chmod(t, root, "exec/x", 0o444)
	chmod(t, root, "user", 0o750)
	if err := os.Mkdir(filepath.Join(root, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "shared"), 0o770); err != nil {
		t.Fatal(err)
	}
	chmod(t, root, "shared", 0o770) // whatever the umask

	mustWrite(t, s, "/user/ADMIN", "new hash", 1)
	mustWrite(t, s, "/cube/b.json", "b2", 1)
	mustWrite(t, s, "/exec/x", "x2", 1)
	mustWrite(t, s, "/user/NEW", "hash", 1)
	mustWrite(t, s, "/cube/new.json", "n", 1)
	mustWrite(t, s, "/private/p.json", "p", 1)
	mustWrite(t, s, "/shared/s.json", "s", 1)
	mustWrite(t, s, "/user/sub/deep/u", "u", 1)
	mustWrite(t, s, "/private/sub/q", "q", 1)
	for _, tt := range []struct {
		rel  string
		want fs.FileMode
		why  string
	}{
		{"user/ADMIN", 0o600, "rewritten: keeps its mode"},
		{"cube/b.json", 0o664, "rewritten: keeps its mode"},
		{"exec/x", 0o444, "rewritten: keeps its mode"},
		{"user/NEW", 0o600, "new beside 0600 files"},
		{"cube/new.json", 0o640, "new beside 0644, 0664 and 0640 files: what all have"},
		{"private/p.json", 0o600, "new in an empty 0700 folder"},
		{"shared/s.json", 0o660, "new in an empty 0770 folder"},
		{"user/sub", 0o750, "new folder in a 0750 folder"},
		{"user/sub/deep", 0o750, "new folder in a new 0750 folder"},
		{"user/sub/deep/u", 0o640, "new file in a new 0750 folder"},
		{"private/sub", 0o700, "new folder in a 0700 folder"},
		{"private/sub/q", 0o600, "new file in a new 0700 folder"},
	} {
		if got := perm(t, root, tt.rel); got != tt.want {
			t.Errorf("%s: mode %v, want %v (%s)", tt.rel, got, tt.want, tt.why)
		}
	}
}

// TestOwners checks, as root, that a rewritten file keeps its owner, and
// that new files and folders take their folder's, so that Kylin's own user
// can still rewrite what a root restore wrote.
func TestOwners(t *testing.T) { bothPaths(t, testOwners) }

func testOwners(t *testing.T, newStore storeMaker) {
	if os.Geteuid() != 0 {
		t.Skip("ownership is kept only when running as root (tests run as root in CI)")
	}
	const kylin, kylinGroup, other, otherGroup = 1234, 1235, 1300, 1301
	s, root := newStore(t)
	putFiles(t, root, map[string]string{"cube/a.json": "a", "user/ADMIN": "hash"})
	for _, rel := range []string{".", "cube", "cube/a.json", "user"} {
		if err := os.Lchown(filepath.Join(root, rel), kylin, kylinGroup); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(filepath.Join(root, "user/ADMIN"), other, otherGroup); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, "/cube/a.json", "a2", 1)
	mustWrite(t, s, "/user/ADMIN", "hash2", 1)
	mustWrite(t, s, "/cube/b.json", "b", 1)
	mustWrite(t, s, "/model_desc/m.json", "m", 1)
	for _, tt := range []struct {
		rel      string
		uid, gid int
	}{
		{"cube/a.json", kylin, kylinGroup},
		{"user/ADMIN", other, otherGroup},
		{"cube/b.json", kylin, kylinGroup},
		{"model_desc", kylin, kylinGroup},
		{"model_desc/m.json", kylin, kylinGroup},
	} {
		if uid, gid := ownerOf(t, root, tt.rel); uid != tt.uid || gid != tt.gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", tt.rel, uid, gid, tt.uid, tt.gid)
		}
	}
	// A rewrite keeps set-group-id (which chown clears) and the mode.
	chmod(t, root, "cube/a.json", fs.ModeSetgid|0o640)
	mustWrite(t, s, "/cube/a.json", "a3", 1)
	if fi, err := os.Lstat(filepath.Join(root, "cube/a.json")); err != nil || fi.Mode()&(fs.ModePerm|fs.ModeSetgid) != 0o640|fs.ModeSetgid {
		t.Errorf("after a rewrite, cube/a.json has mode %v (%v), want -rw-r----- with set-group-id", fi.Mode(), err)
	}
}

// TestConcurrentWritesMakeFoldersOnce checks that writes running at once
// into folders that do not exist yet give every new folder and file the
// mode the package documentation promises: a folder made by one write is
// private (0700) until its mode is set, and a concurrent write must neither
// make its subfolders nor compute its files' mode from that passing state.
func TestConcurrentWritesMakeFoldersOnce(t *testing.T) { bothPaths(t, testConcurrentFolders) }

func testConcurrentFolders(t *testing.T, newStore storeMaker) {
	s, root := newStore(t)
	chmod(t, root, ".", 0o755)
	var keys []string
	for d := range 40 {
		for c := range 5 {
			for f := range 4 {
				keys = append(keys, fmt.Sprintf("/dict/T%02d/C%d/f%d.dict", d, c, f))
			}
		}
	}
	next := make(chan string)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				if err := s.Write(context.Background(), metastore.Resource{Path: k, Data: []byte(k), Timestamp: 1700000000000}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == root {
			return err
		}
		rel, _ := filepath.Rel(root, name)
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		if got := perm(t, root, rel); got != want {
			t.Errorf("%s: mode %o, want %o", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
