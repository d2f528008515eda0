package folder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// TestConformance runs the conformance suite on both paths of the package:
// the Linux fast path, and the portable path of other systems.
func TestConformance(t *testing.T) {
	bothPaths(t, func(t *testing.T, newStore storeMaker) {
		metastoretest.Run(t, func(t *testing.T) metastore.Store {
			s, _ := newStore(t)
			return s
		})
	})
}

// newStore returns a store in a new temporary folder, and that folder.
func newStore(t testing.TB) (*folder.Store, string) {
	t.Helper()
	return openTemp(t, folder.Open)
}

// newPortableStore is newStore with the portable path.
func newPortableStore(t testing.TB) (*folder.Store, string) {
	t.Helper()
	return openTemp(t, folder.OpenPortable)
}

// openTemp opens a store with open in a new temporary folder and returns
// it and that folder.
func openTemp(t testing.TB, open func(root string) (*folder.Store, error)) (*folder.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// storeMaker makes a store in a new temporary folder: newStore or
// newPortableStore.
type storeMaker func(t testing.TB) (*folder.Store, string)

// bothPaths runs fn on the system's fast path (Linux only) and on the
// portable path, which every other system takes.
func bothPaths(t *testing.T, fn func(t *testing.T, newStore storeMaker)) {
	t.Run("fast", func(t *testing.T) {
		if s, _ := newStore(t); s.Portable() {
			t.Skip("no fast path on this system")
		}
		fn(t, newStore)
	})
	t.Run("portable", func(t *testing.T) { fn(t, newPortableStore) })
}

// mustWrite writes a resource and fails the test on error.
func mustWrite(t testing.TB, s metastore.Sink, path, data string, ts int64) {
	t.Helper()
	if err := s.Write(context.Background(), metastore.Resource{Path: path, Data: []byte(data), Timestamp: ts}); err != nil {
		t.Fatalf("Write(%q): %v", path, err)
	}
}

// listAll returns the paths s lists under prefix and List's error.
func listAll(s metastore.Source, prefix string) ([]string, error) {
	var got []string
	err := s.List(context.Background(), prefix, func(p string) error {
		got = append(got, p)
		return nil
	})
	return got, err
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, "Open", folder.Open, []openCase{
		{"directory", dir, nil, dir},
		{"unclean", dir + "/./", nil, dir},
		{"link to a directory", link, nil, link},
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist, ""},
		{"file", file, folder.ErrNotDir, ""},
		{"below a file", filepath.Join(file, "x"), unix.ENOTDIR, ""},
	}, func(tt openCase, s *folder.Store) {
		if got := metastore.Describe(s); got != tt.wantRoot {
			t.Errorf("%s: Describe() = %q, want %q", tt.name, got, tt.wantRoot)
		}
	})
}

// openCase is a case of Open or Create: on root, the error to fail with
// (nil: none) and, if none, the store's root.
type openCase struct {
	name     string
	root     string
	wantErr  error
	wantRoot string
}

// checkOpens calls open (named name) on each case's root: a case with an
// error must fail with one wrapping it; the others must open a store with
// the case's root, then pass check.
func checkOpens(t *testing.T, name string, open func(string) (*folder.Store, error), cases []openCase, check func(openCase, *folder.Store)) {
	t.Helper()
	for _, tt := range cases {
		s, err := open(tt.root)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: %s(%q) error = %v, want one wrapping %v", tt.name, name, tt.root, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %s(%q): %v", tt.name, name, tt.root, err)
			continue
		}
		if got := s.Root(); got != tt.wantRoot {
			t.Errorf("%s: Root() = %q, want %q", tt.name, got, tt.wantRoot)
		}
		check(tt, s)
	}
}

func TestOpenRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("meta_2024_01_31_12_00_00", 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := folder.Open("meta_2024_01_31_12_00_00")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Root(), filepath.Join(dir, "meta_2024_01_31_12_00_00"); got != want {
		t.Errorf("Root() = %q, want the absolute %q", got, want)
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	newDir, deep := filepath.Join(dir, "new"), filepath.Join(dir, "a", "b", "meta")
	checkOpens(t, "Create", folder.Create, []openCase{
		{"existing", dir, nil, dir},
		{"missing", newDir, nil, newDir},
		{"missing parents", deep, nil, deep},
		{"file", file, folder.ErrNotDir, ""},
		{"below a file", filepath.Join(file, "meta"), folder.ErrNotDir, ""},
	}, func(tt openCase, _ *folder.Store) {
		if fi, err := os.Stat(tt.root); err != nil || !fi.IsDir() {
			t.Errorf("%s: after Create(%q), Stat = (%v, %v), want a directory", tt.name, tt.root, fi, err)
		}
	})
}

// TestSymlinks plants symbolic links inside the root, to a folder outside it,
// to a file outside it and to places inside it, and checks that none is read,
// written or deleted through.
func TestSymlinks(t *testing.T) { bothPaths(t, testSymlinks) }

func testSymlinks(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, "/cube/a.json", "a", 1)
	mustWrite(t, s, "/cube/x.json", "x", 2)
	for link, target := range map[string]string{
		"outdir":       outside,
		"cube/outfile": secret,
		"cube/inside":  "x.json",
		"alias":        "cube",
		"dangling":     filepath.Join(outside, "missing"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}

	for _, p := range []string{"/outdir/secret", "/cube/outfile", "/cube/inside", "/alias/x.json", "/dangling"} {
		if r, err := s.Read(ctx, p); !errors.Is(err, folder.ErrSymlink) {
			t.Errorf("Read(%q) = (%q, %v), want an error wrapping ErrSymlink", p, r.Data, err)
		}
		if ok, err := s.Exists(ctx, p); !errors.Is(err, folder.ErrSymlink) {
			t.Errorf("Exists(%q) = (%v, %v), want an error wrapping ErrSymlink", p, ok, err)
		}
		if err := s.Delete(ctx, p); !errors.Is(err, folder.ErrSymlink) {
			t.Errorf("Delete(%q) error = %v, want one wrapping ErrSymlink", p, err)
		}
	}
	for _, p := range []string{"/outdir/secret", "/outdir/new", "/outdir/sub/new", "/cube/outfile", "/alias/new", "/dangling"} {
		err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte("written through"), Timestamp: 3})
		if !errors.Is(err, folder.ErrSymlink) {
			t.Errorf("Write(%q) error = %v, want one wrapping ErrSymlink", p, err)
		}
	}
	if got, _ := os.ReadFile(secret); string(got) != "secret" {
		t.Errorf("the file outside the root now holds %q, want %q", got, "secret")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("the folder outside the root holds %d entries, want 1 (nothing written through the link)", len(entries))
	}
	for _, link := range []string{"outdir", "cube/outfile", "cube/inside", "alias", "dangling"} {
		if fi, err := os.Lstat(filepath.Join(root, link)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("after the refused calls, Lstat(%s) = (%v, %v), want the link still there", link, fi, err)
		}
	}

	listTests := []struct {
		prefix   string
		want     []string // delivered before any error
		wantLink string   // the link the error names, if any
	}{
		{"/", nil, "/alias"},
		{"/c", []string{"/cube/a.json"}, "/cube/inside"},
		{"/cube/", []string{"/cube/a.json"}, "/cube/inside"},
		{"/cube/o", nil, "/cube/outfile"},
		{"/outdir/", nil, "/outdir"},
		{"/alias/x", nil, "/alias"},
		{"/cube/x", []string{"/cube/x.json"}, ""},
		{"/cube/a", []string{"/cube/a.json"}, ""},
	}
	for _, tt := range listTests {
		got, err := listAll(s, tt.prefix)
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) delivered %q, want %q", tt.prefix, got, tt.want)
		}
		if tt.wantLink == "" {
			if err != nil {
				t.Errorf("List(%q): %v", tt.prefix, err)
			}
			continue
		}
		if !errors.Is(err, folder.ErrSymlink) || !strings.Contains(err.Error(), tt.wantLink+":") {
			t.Errorf("List(%q) error = %v, want one wrapping ErrSymlink that names %s", tt.prefix, err, tt.wantLink)
		}
		err = s.ListEntries(ctx, tt.prefix, func(metastore.Entry) error { return nil })
		if !errors.Is(err, folder.ErrSymlink) {
			t.Errorf("ListEntries(%q) error = %v, want one wrapping ErrSymlink", tt.prefix, err)
		}
	}
}

func TestTimestampIsModTime(t *testing.T) { bothPaths(t, testTimestampIsModTime) }

func testTimestampIsModTime(t *testing.T, newStore storeMaker) {
	s, root := newStore(t)
	for _, ts := range []int64{0, 1, 999, 1457534216410, 4102444800123} {
		mustWrite(t, s, "/ts/x", "x", ts)
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, "ts", "x"), &st); err != nil {
			t.Fatal(err)
		}
		if got, want := st.Mtim.Nano(), ts*1e6; got != want {
			t.Errorf("after Write with timestamp %d, mtime = %d ns, want %d", ts, got, want)
		}
		if got, want := st.Atim.Nano(), ts*1e6; got != want {
			t.Errorf("after Write with timestamp %d, atime = %d ns, want %d", ts, got, want)
		}
	}

	// A file Kylin wrote has a modification time with nanoseconds: the
	// timestamp is rounded down to the millisecond.
	tests := []struct {
		mtime time.Time
		want  int64
	}{
		{time.Unix(1457534216, 410_000_000), 1457534216410},
		{time.Unix(1457534216, 410_999_999), 1457534216410},
		{time.Unix(1457534216, 999_999), 1457534216000},
		{time.Unix(0, 0), 0},
	}
	for _, tt := range tests {
		p := filepath.Join(root, "kylin.json")
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, tt.mtime, tt.mtime); err != nil {
			t.Fatal(err)
		}
		r, err := s.Read(t.Context(), "/kylin.json")
		if err != nil {
			t.Fatal(err)
		}
		if r.Timestamp != tt.want {
			t.Errorf("Read of a file with mtime %d ns: Timestamp = %d, want %d", tt.mtime.UnixNano(), r.Timestamp, tt.want)
		}
		err = s.ListEntries(t.Context(), "/kylin.json", func(e metastore.Entry) error {
			if e.Timestamp != tt.want {
				t.Errorf("ListEntries of a file with mtime %d ns: Timestamp = %d, want %d", tt.mtime.UnixNano(), e.Timestamp, tt.want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteLayout(t *testing.T) { bothPaths(t, testWriteLayout) }

func testWriteLayout(t *testing.T, newStore storeMaker) {
	s, root := newStore(t)
	mustWrite(t, s, "/dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict", "dict", 5)
	for _, tt := range []struct {
		rel  string
		mode fs.FileMode
	}{
		{"dict", fs.ModeDir | 0o755},
		{"dict/PREDEFINED", fs.ModeDir | 0o755},
		{"dict/PREDEFINED/date(yyyy-mm-dd)", fs.ModeDir | 0o755},
		{"dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict", 0o644},
	} {
		fi, err := os.Lstat(filepath.Join(root, tt.rel))
		if err != nil {
			t.Errorf("Lstat(%s): %v", tt.rel, err)
			continue
		}
		// The umask may only take bits away.
		if fi.Mode()&^tt.mode != 0 || fi.Mode().Type() != tt.mode.Type() {
			t.Errorf("mode of %s = %v, want %v (less the umask)", tt.rel, fi.Mode(), tt.mode)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(root, "dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict")); string(got) != "dict" {
		t.Errorf("file content = %q, want %q", got, "dict")
	}
}

func TestTemporaryFiles(t *testing.T) { bothPaths(t, testTemporaryFiles) }

func testTemporaryFiles(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	mustWrite(t, s, "/cube/x.json", "x", 1)
	// Leftovers of a crashed Write, one in a folder of its own.
	for _, rel := range []string{"cube/.x.json.metastore-tmp-1f3a", "only-tmp/.y.metastore-tmp-9z"} {
		metastoretest.WriteFile(t, filepath.Join(root, rel), []byte("torn"), 0o644)
	}
	got, err := listAll(s, "/")
	if want := []string{"/cube/x.json"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("List(/) = (%q, %v), want %q", got, err, want)
	}
	for _, p := range []string{"/cube/.x.json.metastore-tmp-1f3a", "/only-tmp/.y.metastore-tmp-9z"} {
		if _, err := s.Read(ctx, p); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Read(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
		if err := s.Write(ctx, metastore.Resource{Path: p}); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Write(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
		if err := s.Delete(ctx, p); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Delete(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
	}
	// Write makes only files: a folder may have a temporary file's name.
	mustWrite(t, s, "/dir/.z.metastore-tmp-1/z", "z", 1)
	if got, err := listAll(s, "/dir/"); err != nil || !slices.Equal(got, []string{"/dir/.z.metastore-tmp-1/z"}) {
		t.Errorf("List(/dir/) = (%q, %v), want the file in the folder named like a temporary file", got, err)
	}

	// Successful and failed writes leave no temporary file behind (the
	// folder was tidied by the first write, before the leftover came).
	long := strings.Repeat("n", 250) // a temporary name must still fit in 255 bytes
	mustWrite(t, s, "/cube/"+long, "long", 2)
	mustWrite(t, s, "/cube/x.json", "rewritten", 3)
	if err := s.Write(ctx, metastore.Resource{Path: "/cube", Data: []byte("over a directory")}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Write(/cube) over a directory: error = %v, want one wrapping fs.ErrExist", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "cube"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{".x.json.metastore-tmp-1f3a", long, "x.json"}; !slices.Equal(names, want) {
		t.Errorf("files in cube = %q, want %q", names, want)
	}
	rootEntries, _ := os.ReadDir(root)
	if len(rootEntries) != 3 {
		t.Errorf("root holds %d entries, want 3 (cube, dir, only-tmp)", len(rootEntries))
	}
}

func TestDeleteRemovesEmptyParents(t *testing.T) { bothPaths(t, testDeleteRemovesEmptyParents) }

func testDeleteRemovesEmptyParents(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	mustWrite(t, s, "/a/b/c/d.json", "d", 1)
	mustWrite(t, s, "/a/x.json", "x", 2)
	mustWrite(t, s, "/t/u/v.json", "v", 3)
	if err := os.WriteFile(filepath.Join(root, "t", "u", ".w.metastore-tmp-1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		del      string
		exist    []string
		notExist []string
	}{
		{"/a/b/c/d.json", []string{"a", "a/x.json"}, []string{"a/b"}},
		{"/a/x.json", []string{"emptydir"}, []string{"a"}},
		// A folder holding a temporary file is not empty.
		{"/t/u/v.json", []string{"t/u/.w.metastore-tmp-1"}, []string{"t/u/v.json"}},
		// Deleting a missing file removes no folder.
		{"/emptydir/missing", []string{"emptydir"}, nil},
		// A directory is not a resource: nothing to delete.
		{"/emptydir", []string{"emptydir"}, nil},
	}
	for _, st := range steps {
		if err := s.Delete(ctx, st.del); err != nil {
			t.Fatalf("Delete(%q): %v", st.del, err)
		}
		for _, rel := range st.exist {
			if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
				t.Errorf("after Delete(%q), %s: %v, want it kept", st.del, rel, err)
			}
		}
		for _, rel := range st.notExist {
			if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after Delete(%q), Lstat(%s) error = %v, want it removed", st.del, rel, err)
			}
		}
	}
	mustWrite(t, s, "/only.json", "o", 4)
	if err := s.Delete(ctx, "/only.json"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Errorf("after deleting the last resource, Stat(root) = (%v, %v), want the root kept", fi, err)
	}
}

func TestParentIsFile(t *testing.T) { bothPaths(t, testParentIsFile) }

func testParentIsFile(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, _ := newStore(t)
	mustWrite(t, s, "/cube/x.json", "x", 1)
	err := s.Write(ctx, metastore.Resource{Path: "/cube/x.json/y", Data: []byte("y")})
	if !errors.Is(err, folder.ErrNotDir) || !strings.Contains(err.Error(), "/cube/x.json:") {
		t.Errorf("Write below a file: error = %v, want one wrapping ErrNotDir that names /cube/x.json", err)
	}
	if _, err := s.Read(ctx, "/cube/x.json/y"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read below a file: error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if err := s.Delete(ctx, "/cube/x.json/y"); err != nil {
		t.Errorf("Delete below a file: %v, want nil", err)
	}
	if got, err := listAll(s, "/cube/x.json/"); err != nil || len(got) != 0 {
		t.Errorf("List below a file = (%q, %v), want nothing", got, err)
	}
}

func TestPermissionDenied(t *testing.T) { bothPaths(t, testPermissionDenied) }

func testPermissionDenied(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	mustWrite(t, s, "/locked/x.json", "x", 1)
	mustWrite(t, s, "/open/y.json", "y", 2)
	// t.TempDir makes private folders; let nobody reach the root.
	for _, dir := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "locked", "x.json"), 0); err != nil {
		t.Fatal(err)
	}
	asUnprivileged(t, func() {
		if _, err := s.Read(ctx, "/locked/x.json"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Read of an unreadable file: error = %v, want one wrapping fs.ErrPermission", err)
		}
	})
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	asUnprivileged(t, func() {
		got, err := listAll(s, "/")
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "/locked") {
			t.Errorf("List over an unreadable folder: error = %v, want one wrapping fs.ErrPermission that names /locked", err)
		}
		if len(got) != 0 {
			t.Errorf("List over an unreadable folder delivered %q before the error, want nothing", got)
		}
		if _, err := s.Read(ctx, "/locked/x.json"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Read in an unreadable folder: error = %v, want one wrapping fs.ErrPermission", err)
		}
		if err := s.Write(ctx, metastore.Resource{Path: "/locked/z.json"}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Write in an unreadable folder: error = %v, want one wrapping fs.ErrPermission", err)
		}
	})
	if err := os.Chmod(filepath.Join(root, "locked"), 0o755); err != nil { // let t.TempDir clean up
		t.Fatal(err)
	}
}

func TestSpecialFiles(t *testing.T) { bothPaths(t, testSpecialFiles) }

func testSpecialFiles(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	mustWrite(t, s, "/a.json", "a", 1)
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Read must not block on the FIFO.
	if _, err := s.Read(ctx, "/fifo"); !errors.Is(err, folder.ErrNotRegular) {
		t.Errorf("Read of a FIFO: error = %v, want one wrapping ErrNotRegular", err)
	}
	if err := s.Write(ctx, metastore.Resource{Path: "/fifo"}); !errors.Is(err, folder.ErrNotRegular) {
		t.Errorf("Write over a FIFO: error = %v, want one wrapping ErrNotRegular", err)
	}
	got, err := listAll(s, "/")
	if !errors.Is(err, folder.ErrNotRegular) || !strings.Contains(err.Error(), "/fifo") {
		t.Errorf("List over a FIFO: error = %v, want one wrapping ErrNotRegular that names /fifo", err)
	}
	if want := []string{"/a.json"}; !slices.Equal(got, want) {
		t.Errorf("List over a FIFO delivered %q, want %q", got, want)
	}
}

// TestChangeAfterExternalRewrite rewrites a file in place as another program
// would, keeping its size and restoring its modification time.
func TestChangeAfterExternalRewrite(t *testing.T) { bothPaths(t, testChangeAfterExternalRewrite) }

func testChangeAfterExternalRewrite(t *testing.T, newStore storeMaker) {
	s, root := newStore(t)
	s = s.WithRacyWindow(0)
	mustWrite(t, s, "/cube/x.json", "0123456789", 1457534216410)
	change := func() string {
		t.Helper()
		var c string
		if err := s.ListEntries(t.Context(), "/cube/x.json", func(e metastore.Entry) error { c = e.Change; return nil }); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := change()
	if again := change(); again != before {
		t.Errorf("Change of an untouched file went from %q to %q", before, again)
	}
	time.Sleep(30 * time.Millisecond) // past the file system's coarse clock tick
	p := filepath.Join(root, "cube", "x.json")
	if err := os.WriteFile(p, []byte("abcdefghij"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.UnixMilli(1457534216410)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if after := change(); after == before {
		t.Errorf("Change after an in-place rewrite with the same size and mtime = %q, unchanged", after)
	}
}

// TestReadersNeverSeeTornFiles reads a resource while it is rewritten with
// contents of different lengths.
func TestReadersNeverSeeTornFiles(t *testing.T) { bothPaths(t, testReadersNeverSeeTornFiles) }

func testReadersNeverSeeTornFiles(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, _ := newStore(t)
	short, long := []byte("short"), bytes.Repeat([]byte("long content "), 10000)
	mustWrite(t, s, "/cube/x.json", string(short), 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data, ts := short, int64(1)
			if i%2 == 0 {
				data, ts = long, 2
			}
			if err := s.Write(ctx, metastore.Resource{Path: "/cube/x.json", Data: data, Timestamp: ts}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 300 {
		r, err := s.Read(ctx, "/cube/x.json")
		if err != nil {
			t.Fatal(err)
		}
		if !(bytes.Equal(r.Data, short) && r.Timestamp == 1) && !(bytes.Equal(r.Data, long) && r.Timestamp == 2) {
			t.Fatalf("Read during rewrites gave %d bytes with timestamp %d, want the short or the long version", len(r.Data), r.Timestamp)
		}
	}
	close(stop)
	wg.Wait()
}

// TestConcurrentWriteDelete has writers and deleters race in one folder that
// Delete keeps removing once it is empty.
func TestConcurrentWriteDelete(t *testing.T) { bothPaths(t, testConcurrentWriteDelete) }

func testConcurrentWriteDelete(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			p := fmt.Sprintf("/shared/deep/r%d", g)
			for i := range 100 {
				if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: int64(i)}); err != nil {
					t.Errorf("Write(%q): %v", p, err)
					return
				}
				if err := s.Delete(ctx, p); err != nil {
					t.Errorf("Delete(%q): %v", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("after writing and deleting everything, the root holds %v (%v), want nothing", entries, err)
	}
}

// TestRootRemoved checks that a store whose folder disappeared fails rather
// than looking empty.
func TestRootRemoved(t *testing.T) { bothPaths(t, testRootRemoved) }

func testRootRemoved(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	mustWrite(t, s, "/cube/x.json", "x", 1)
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		err  error
	}{
		{"List", s.List(ctx, "/", func(string) error { return nil })},
		{"List(/cube/)", s.List(ctx, "/cube/", func(string) error { return nil })},
		{"ListEntries", s.ListEntries(ctx, "/", func(metastore.Entry) error { return nil })},
		{"Delete", s.Delete(ctx, "/cube/x.json")},
		{"Write", s.Write(ctx, metastore.Resource{Path: "/cube/y.json"})},
		{"Sync", s.Sync(ctx)},
	}
	for _, c := range calls {
		if !errors.Is(c.err, fs.ErrNotExist) || !strings.Contains(c.err.Error(), root) {
			t.Errorf("%s after the root was removed: error = %v, want one wrapping fs.ErrNotExist that names the root", c.name, c.err)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write recreated the removed root (Stat error %v)", err)
	}
}

func TestSync(t *testing.T) { bothPaths(t, testSync) }

func testSync(t *testing.T, newStore storeMaker) {
	s, _ := newStore(t)
	mustWrite(t, s, "/x", "x", 1)
	if err := s.Sync(t.Context()); err != nil {
		t.Errorf("Sync: %v", err)
	}
}

// kylinSample is Kylin 3.1.3's test metastore in the shared fixtures, laid
// beside the project's root.
var kylinSample = metastoretest.Sample("kylin-3.1.3")

func TestKylinSample(t *testing.T) { bothPaths(t, testKylinSample) }

func testKylinSample(t *testing.T, newStore storeMaker) {
	if _, err := os.Stat(kylinSample); err != nil {
		t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
	}
	ctx := t.Context()

	// The shared sample is read-only: list it in place.
	shared, err := folder.Open(kylinSample)
	if err != nil {
		t.Fatal(err)
	}
	var sharedEntries []metastore.Entry
	if err := shared.ListEntries(ctx, "/", func(e metastore.Entry) error {
		sharedEntries = append(sharedEntries, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := len(sharedEntries), 188; got != want {
		t.Errorf("the shared sample lists %d resources, want %d", got, want)
	}

	// A copy, with Seed's timestamps.
	s, _ := newStore(t)
	seeded := metastoretest.Seed(t, s, kylinSample)
	got, err := listAll(s, "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 188 || len(seeded) != 188 {
		t.Fatalf("the copy lists %d resources (Seed wrote %d), want 188", len(got), len(seeded))
	}
	for i, want := range seeded {
		if got[i] != want.Path || sharedEntries[i].Path != want.Path {
			t.Fatalf("resource %d: copy lists %q and sample %q, want %q", i, got[i], sharedEntries[i].Path, want.Path)
		}
		if sharedEntries[i].Size != int64(len(want.Data)) {
			t.Errorf("%s: sample size %d, want %d", want.Path, sharedEntries[i].Size, len(want.Data))
		}
		r, err := s.Read(ctx, want.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Data, want.Data) || r.Timestamp != metastoretest.SeedTimestamp(want.Path) {
			t.Errorf("%s: copy has %d bytes at %d, want %d bytes at %d", want.Path, len(r.Data), r.Timestamp, len(want.Data), metastoretest.SeedTimestamp(want.Path))
		}
	}
	if got, err := listAll(s, "/cube_desc/"); err != nil || len(got) != 22 {
		t.Errorf("List(/cube_desc/) gave %d paths (%v), want 22", len(got), err)
	}
}

// TestRacyFilesHaveNoChange checks that a file changed just before the
// listing gets no fingerprint, so a cache never trusts it.
func TestRacyFilesHaveNoChange(t *testing.T) { bothPaths(t, testRacyFilesHaveNoChange) }

func testRacyFilesHaveNoChange(t *testing.T, newStore storeMaker) {
	s, _ := newStore(t)
	mustWrite(t, s, "/cube/x.json", "0123456789", 1457534216410)
	var c string
	if err := s.ListEntries(t.Context(), "/", func(e metastore.Entry) error { c = e.Change; return nil }); err != nil {
		t.Fatal(err)
	}
	if c != "" {
		t.Errorf("Change of a file written %v ago = %q, want empty", "just now", c)
	}
	if err := s.WithRacyWindow(0).ListEntries(t.Context(), "/", func(e metastore.Entry) error { c = e.Change; return nil }); err != nil {
		t.Fatal(err)
	}
	if c == "" {
		t.Error("Change with no racy window is empty")
	}
}
