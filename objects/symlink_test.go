package objects

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantLink replaces name in the repository with a symbolic link to target
// and returns the link's path.
func plantLink(t *testing.T, r *Repository, name, target string) string {
	t.Helper()
	link := filepath.Join(r.Path(), name)
	os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// checkRefused checks that err wraps ErrCorrupt and names the link, that
// the link is still there and that target holds want (or, if want is "",
// does not exist).
func checkRefused(t *testing.T, what string, err error, link, target, want string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("%s through a symbolic link: error = %v, want one wrapping ErrCorrupt that names %s as a symbolic link", what, err, link)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("%s: the link is gone (%v, %v)", what, fi, err)
	}
	data, err := os.ReadFile(target)
	switch {
	case want == "" && !errors.Is(err, fs.ErrNotExist):
		t.Errorf("%s: the link's missing target now exists (%q, %v)", what, data, err)
	case want != "" && string(data) != want:
		t.Errorf("%s: the link's target holds %q (%v), want %q untouched", what, data, err, want)
	}
}

// TestLockRefusesSymlink plants metastore.lock as a symbolic link to a file
// outside the repository, and to a file that does not exist: taking the
// lock (which every backup does) used to truncate the file the link named.
func TestLockRefusesSymlink(t *testing.T) {
	r := newRepo(t)
	outside := t.TempDir()
	precious := filepath.Join(outside, "kylin.properties")
	if err := os.WriteFile(precious, []byte("kylin.metadata.url=kylin_metadata@jdbc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := plantLink(t, r, LockFile, precious)
	_, err := r.Lock(context.Background(), nil)
	checkRefused(t, "Lock", err, link, precious, "kylin.metadata.url=kylin_metadata@jdbc\n")

	missing := filepath.Join(outside, "missing")
	link = plantLink(t, r, LockFile, missing)
	_, err = r.Lock(context.Background(), nil)
	checkRefused(t, "Lock (dangling link)", err, link, missing, "")

	// Once the link is removed, the lock works again.
	os.Remove(link)
	unlock, err := r.Lock(context.Background(), nil)
	if err != nil {
		t.Fatalf("Lock after removing the link: %v", err)
	}
	unlock()
}

// TestPackedRefsLockRefusesSymlink plants packed-refs.lock, which deleting
// a packed reference writes and truncates, as a symbolic link.
func TestPackedRefsLockRefusesSymlink(t *testing.T) {
	r := newRepo(t)
	w, err := r.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := w.WriteBlob([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	packed := "# pack-refs with: peeled fully-peeled sorted \n" + id.String() + " refs/tags/a\n" + id.String() + " refs/tags/b\n"
	if err := os.WriteFile(filepath.Join(r.Path(), "packed-refs"), []byte(packed), 0o600); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(precious, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := plantLink(t, r, "packed-refs.lock", precious)
	err = r.DeleteRef("refs/tags/a", id)
	checkRefused(t, "DeleteRef", err, link, precious, "precious")
	if got, _ := os.ReadFile(filepath.Join(r.Path(), "packed-refs")); string(got) != packed {
		t.Errorf("packed-refs changed to %q", got)
	}
}
