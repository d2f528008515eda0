package objects

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// TestLargeObjectsStreamIntoPack writes objects on both sides of
// streamEntry, among small ones and from several goroutines: they read
// back, git accepts the pack, and an object of streamEntry bytes or more
// is compressed straight into the pack (its writing allocates a small
// fraction of it; a buffer for its compressed copy took about its size).
func TestLargeObjectsStreamIntoPack(t *testing.T) {
	r := newRepo(t)
	w, err := r.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{streamEntry - 1, streamEntry, streamEntry + 300_001, 10, 70_000}
	want := map[ID][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, n := range sizes {
		data := append(incompressible(n/2, uint64(i+1)), bytes.Repeat([]byte("x"), n-n/2)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, err := w.WriteBlob(data)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			want[id] = data
			mu.Unlock()
		}()
	}
	wg.Wait()
	big := incompressible(streamEntry+1000, 99)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // pooled compressors: see TestTreeRebaseHoldsNoTree
	least := uint64(1 << 62)
	for i := range 3 {
		big[0] = byte(i)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		id, _, err := w.Write(KindTree, big)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
		want[id] = append([]byte(nil), big...)
	}
	if least > uint64(len(big)/8) {
		t.Errorf("writing a %d-byte object allocated %d bytes, want under %d", len(big), least, len(big)/8)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for id, data := range want {
		if _, got, err := r.Read(id); err != nil || !bytes.Equal(got, data) {
			t.Errorf("object %s of %d bytes reads back wrong: %v", id, len(data), err)
		}
	}
	if git, err := exec.LookPath("git"); err == nil {
		packs, _ := r.Packs()
		idx := filepath.Join(r.Path(), "objects", "pack", packs[0]+".idx")
		if out, err := exec.Command(git, "verify-pack", idx).CombinedOutput(); err != nil {
			t.Fatalf("git verify-pack: %v\n%s", err, out)
		}
	}
}
