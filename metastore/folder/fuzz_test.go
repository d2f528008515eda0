package folder_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
)

// FuzzCheckPath writes, reads, lists and deletes a resource under a fuzzed
// key in a folder metastore. The promise: a key CheckPath refuses is refused
// by every call with metastore.ErrInvalidPath; a key it accepts is a clean
// absolute path that names a file inside the root, and nothing is ever
// created, changed or removed outside the root (a sibling folder and a
// symbolic link out of the root are watched).
func FuzzCheckPath(f *testing.F) {
	for _, p := range []string{
		"/cube/sales.json", "/UUID", "/../../etc/passwd", "/cube/../../../x", "cube/relative",
		"//double", "/trailing/", "/a/./b", "/nul\x00byte", "/", "", "/.metastore/x",
		"/dict/DB.T/COL/x.dict", "/date(yyyy-mm-dd)", "/ünïcödé/資料", "/" + strings.Repeat("n", 300),
		"/out/x", "/.x.metastore-tmp-123", "/a\\..\\b", "/..", "/...", "/ /x",
	} {
		f.Add(p, []byte("content"))
	}
	parent := f.TempDir()
	root := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644); err != nil {
		f.Fatal(err)
	}
	// A link out of the root: a store never follows it.
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		f.Fatal(err)
	}
	before := snapshotTree(f, parent, root)
	s, err := folder.Open(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string, data []byte) {
		ctx := context.Background()
		checkErr := metastore.CheckPath(p)
		if checkErr != nil {
			if !errors.Is(checkErr, metastore.ErrInvalidPath) {
				t.Fatalf("CheckPath(%q) = %v, not wrapping ErrInvalidPath", p, checkErr)
			}
		} else if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsRune(p, 0) {
			t.Fatalf("CheckPath accepted %q, which is not a clean absolute path", p)
		}
		werr := s.Write(ctx, metastore.Resource{Path: p, Data: data, Timestamp: 1700000000123})
		_, rerr := s.Read(ctx, p)
		derr := s.Delete(ctx, p)
		lerr := s.List(ctx, "/", func(string) error { return nil })
		if checkErr != nil {
			for _, err := range []error{werr, rerr, derr} {
				if !errors.Is(err, metastore.ErrInvalidPath) {
					t.Fatalf("key %q refused by CheckPath (%v) but a call gave %v", p, checkErr, err)
				}
			}
		}
		if werr == nil {
			// It was a file in the root; Delete removed it.
			if rerr != nil {
				t.Fatalf("wrote %q, then Read: %v", p, rerr)
			}
			if derr != nil {
				t.Fatalf("wrote %q, then Delete: %v", p, derr)
			}
		} else if checkErr == nil && !errors.Is(werr, metastore.ErrInvalidPath) && !errors.Is(werr, folder.ErrSymlink) &&
			!errors.Is(werr, folder.ErrNotDir) && !errors.Is(werr, fs.ErrExist) && !errors.Is(werr, syscall.ENAMETOOLONG) {
			t.Fatalf("Write(%q): unexpected error %v", p, werr)
		}
		if lerr != nil && !errors.Is(lerr, folder.ErrSymlink) {
			t.Fatalf("List after %q: %v", p, lerr)
		}
		if after := snapshotTree(t, parent, root); !bytes.Equal(after, before) {
			t.Fatalf("key %q changed something outside the root:\n%s\nwant\n%s", p, after, before)
		}
	})
}

// snapshotTree describes everything under dir except the subtree skip: the
// paths, types, sizes and contents.
func snapshotTree(t testing.TB, dir, skip string) []byte {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		b.WriteString(p + " " + d.Type().String())
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" " + string(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
