package objects

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func newRepo(t testing.TB) *Repository {
	t.Helper()
	r, err := Init(filepath.Join(t.TempDir(), "r.git"), "refs/heads/main", map[string]map[string]string{"metastore": {"format": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestPackRoundTrip(t *testing.T) {
	r := newRepo(t)
	w, err := r.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[ID][]byte{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			data := bytes.Repeat([]byte(fmt.Sprintf("resource %d\n", i%150)), i+1)
			id, _, err := w.WriteBlob(data)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			blobs[id] = data
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	var entries []TreeEntry
	n := 0
	for id := range blobs {
		entries = append(entries, TreeEntry{Name: fmt.Sprintf("f%03d", n), Mode: ModeFile, ID: id})
		n++
	}
	SortTree(entries)
	tree, _, err := w.WriteTree(entries)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(1700000000, 0).In(time.FixedZone("x", 3600))
	c := Commit{Tree: tree, Author: Signature{"A", "a@x", when}, Committer: Signature{"A", "a@x", when}, Message: "m\n\nKey: v\n"}
	cid, err := w.WriteCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Has(cid) {
		t.Fatal("object visible before Commit")
	}
	st, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects != len(blobs)+2 {
		t.Errorf("objects = %d, want %d", st.Objects, len(blobs)+2)
	}
	for id, data := range blobs {
		got, err := r.ReadKind(id, KindBlob)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("blob %s differs", id)
		}
	}
	got, err := r.ReadCommit(cid)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tree != tree || got.Message != c.Message || !got.Author.When.Equal(when) {
		t.Errorf("commit = %+v", got)
	}
	if err := r.UpdateRef("refs/heads/main", cid, ZeroID); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateRef("refs/heads/main", cid, ZeroID); !errors.Is(err, ErrRefChanged) {
		t.Fatalf("stale update: err = %v, want ErrRefChanged", err)
	}
	// A second pack with the same objects adds nothing.
	w2, _ := r.NewPackWriter(0)
	for _, data := range blobs {
		if _, added, err := w2.WriteBlob(data); err != nil || added {
			t.Fatalf("rewrite existing blob: added=%v err=%v", added, err)
		}
	}
	st2, _ := w2.Commit()
	if st2.Objects != 0 {
		t.Errorf("second pack wrote %d objects", st2.Objects)
	}
	if git, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command(git, "--git-dir", r.Path(), "fsck", "--strict").CombinedOutput()
		if err != nil {
			t.Fatalf("git fsck: %v\n%s", err, out)
		}
		out, err = exec.Command(git, "--git-dir", r.Path(), "log", "--format=%H %s").CombinedOutput()
		if err != nil || !bytes.HasPrefix(out, []byte(cid.String())) {
			t.Fatalf("git log: %v\n%s", err, out)
		}
	}
	fi, _ := os.Stat(r.Path())
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("repository mode %o, want 700", fi.Mode().Perm())
	}
}
