package objects

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadsPacksGitWrote checks the pack reader on packs git itself made,
// with OFS_DELTA chains (git repack -adf --depth=50), against git cat-file.
func TestReadsPacksGitWrote(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	r := newRepo(t)
	var ids []ID
	w, _ := r.NewPackWriter(0)
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, fmt.Sprintf("line %d of a resource that changes slowly", i))
	}
	for v := 0; v < 40; v++ {
		lines[v*7] = fmt.Sprintf("version %d", v)
		id, _, err := w.WriteBlob([]byte(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var entries []TreeEntry
	for i, id := range ids {
		entries = append(entries, TreeEntry{Name: fmt.Sprintf("v%02d", i), Mode: ModeFile, ID: id})
	}
	tree, c := commitAndRepack(t, git, r, w, entries)
	out, _ := exec.Command(git, "--git-dir", r.Path(), "verify-pack", "-v", r.Path()+"/objects/pack/"+mustOnePack(t, r)+".idx").Output()
	if !bytes.Contains(out, []byte("chain length = ")) {
		t.Fatalf("git made no deltas; the test proves nothing:\n%s", out)
	}
	r.reindex()
	for _, id := range append(ids, tree, c) {
		want, err := exec.Command(git, "--git-dir", r.Path(), "cat-file", "-p", id.String()).Output()
		if err != nil {
			t.Fatal(err)
		}
		k, got, err := r.Read(id)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		if k == KindTree {
			continue // cat-file -p pretty-prints trees
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("object %s (%s) differs from git's", id, k)
		}
		if n, err := r.Size(id); err != nil || n != int64(len(got)) {
			t.Errorf("Size(%s) = %d, %v; want %d", id, n, err, len(got))
		}
	}
}

// commitAndRepack writes a tree of entries and a commit of it with w,
// commits the pack, points main at the commit and has git repack
// everything with deep delta chains (--depth=50).
func commitAndRepack(t *testing.T, git string, r *Repository, w *PackWriter, entries []TreeEntry) (tree, commit ID) {
	t.Helper()
	tree, _, _ = w.WriteTree(entries)
	commit, _ = w.WriteCommit(Commit{Tree: tree, Message: "m\n"})
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r.UpdateRef("refs/heads/main", commit, ZeroID)
	if out, err := exec.Command(git, "--git-dir", r.Path(), "repack", "-adf", "--depth=50", "--window=50").CombinedOutput(); err != nil {
		t.Fatalf("git repack: %v\n%s", err, out)
	}
	return tree, commit
}

func mustOnePack(t *testing.T, r *Repository) string {
	t.Helper()
	packs, err := r.Packs()
	if err != nil || len(packs) != 1 {
		t.Fatalf("packs %v, %v", packs, err)
	}
	return packs[0]
}

// TestDamagedBytesAreAnError flips one byte inside a stored
// (incompressible) blob: the zlib checksum must turn it into an error, never
// into different content.
func TestDamagedBytesAreAnError(t *testing.T) {
	r := newRepo(t)
	data := incompressible(4096, 2463534242)
	w, _ := r.NewPackWriter(0)
	id, _, _ := w.WriteBlob(data)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	off, err := offsetOf(r, id)
	if err != nil {
		t.Fatal(err)
	}
	pack := filepath.Join(r.Path(), "objects", "pack", mustOnePack(t, r)+".pack")
	f, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	f.ReadAt(b[:], off+2000)
	b[0] ^= 0x40
	f.WriteAt(b[:], off+2000)
	f.Close()
	r.Close()
	got, err := r.ReadKind(id, KindBlob)
	if err == nil {
		t.Fatalf("read a damaged blob without error (%d bytes, equal: %v)", len(got), bytes.Equal(got, data))
	}
}

// TestReadReturnsPrivateCopies checks that modifying what Read returns
// cannot change later reads (delta bases are cached).
func TestReadReturnsPrivateCopies(t *testing.T) {
	r := newRepo(t)
	base := bytes.Repeat([]byte("a line of a tree that barely changes\n"), 400)
	w, _ := r.NewPackWriter(0)
	b, _, _ := w.WriteBlob(base)
	w.Commit()
	next := append(append([]byte(nil), base...), "one more\n"...)
	w, _ = r.NewPackWriter(0)
	n, _, _ := w.WriteDelta(KindBlob, next, b)
	w.Commit()
	for _, id := range []ID{b, n, b, n} {
		got, err := r.ReadKind(id, KindBlob)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = 'X'
		}
	}
	if got, _ := r.ReadKind(b, KindBlob); !bytes.Equal(got, base) {
		t.Error("a caller's change to a returned slice reached the cache")
	}
}

// offsetOf returns where a packed object's entry starts in its pack.
func offsetOf(r *Repository, id ID) (int64, error) {
	ps, err := r.openPacks()
	if err != nil {
		return 0, err
	}
	_, off, ok := ps.find(id)
	if !ok {
		return 0, fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	return off, nil
}

// packedBlobs writes blobs of the given sizes into one pack, each with
// its own mix of repeated text and random bytes, and returns their ids and
// contents; the last one is the pack's last entry.
func packedBlobs(tb testing.TB, r *Repository, sizes ...int) ([]ID, [][]byte) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(sizes)), 7))
	w, _ := r.NewPackWriter(0)
	var ids []ID
	var datas [][]byte
	for i, n := range sizes {
		data := make([]byte, n)
		for j := range data {
			if i%2 == 0 {
				data[j] = byte(rng.Uint32()) // incompressible
			} else {
				data[j] = "tree entry 100644 \x00"[j%19] + byte(j/4096%3)
			}
		}
		id, _, err := w.WriteBlob(data)
		if err != nil {
			tb.Fatal(err)
		}
		ids, datas = append(ids, id), append(datas, data)
	}
	if _, err := w.Commit(); err != nil {
		tb.Fatal(err)
	}
	return ids, datas
}

// TestReadsEntriesOfEverySize reads objects smaller than the first pack
// read, larger than the read buffer (compressed too), and one that ends
// the pack, where the first read comes back short.
func TestReadsEntriesOfEverySize(t *testing.T) {
	r := newRepo(t)
	sizes := []int{0, 1, 50, firstPackRead - 30, firstPackRead + 1, 3 * packReadBuf, 5 * packReadBuf, 100_000, 7}
	ids, datas := packedBlobs(t, r, sizes...)
	for i, id := range ids {
		k, got, err := r.Read(id)
		if err != nil || k != KindBlob || !bytes.Equal(got, datas[i]) {
			t.Errorf("blob of %d bytes: kind %v, %d bytes, %v", sizes[i], k, len(got), err)
		}
		if n, err := r.Size(id); err != nil || n != int64(sizes[i]) {
			t.Errorf("size of blob of %d bytes: %d, %v", sizes[i], n, err)
		}
	}
}

// BenchmarkReadPacked reads a small packed object (one read of the pack)
// and a large one (a large folder's tree: the reads grow to the buffer),
// both compressible.
func BenchmarkReadPacked(b *testing.B) {
	r := newRepo(b)
	ids, datas := packedBlobs(b, r, 3000, 3000, 3<<20, 3<<20) // odd ones compressible
	for _, i := range []int{1, 3} {
		b.Run(fmt.Sprintf("%dB", len(datas[i])), func(b *testing.B) {
			b.SetBytes(int64(len(datas[i])))
			for b.Loop() {
				if _, _, err := r.Read(ids[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBaseCacheKeepsOneLargeBase checks that the cache of delta bases keeps
// small bases and only the last large one: a large tree is the base of one
// older version of itself, and keeping them all held megabytes through
// verify (5-9 MB trees, 28 MB of its live heap at a million resources).
func TestBaseCacheKeepsOneLargeBase(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	r := newRepo(t)
	w, _ := r.NewPackWriter(0)
	var ids []ID
	var entries []TreeEntry
	// Resources of 1.5 KB and trees of 4 MB (40 bytes a line).
	const large = 4 << 20
	for _, lines := range []int{40, large/39 + 1} {
		text := make([]string, lines)
		for i := range text {
			text[i] = fmt.Sprintf("line %07d of a resource that changes", i)
		}
		for v := 0; v < 4; v++ {
			text[v*3] = fmt.Sprintf("version %d", v)
			data := []byte(strings.Join(text, "\n"))
			if lines > 40 && len(data) < large {
				t.Fatalf("a large blob of %d bytes", len(data))
			}
			id, _, err := w.WriteBlob(data)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			entries = append(entries, TreeEntry{Name: fmt.Sprintf("v%07d-%d", lines, v), Mode: ModeFile, ID: id})
		}
	}
	commitAndRepack(t, git, r, w, entries)
	r.reindex()
	for _, id := range ids {
		if _, err := r.ReadKind(id, KindBlob); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := r.openPacks()
	if err != nil {
		t.Fatal(err)
	}
	var kept []int
	for _, c := range ps.cache {
		kept = append(kept, len(c.data))
	}
	if len(kept) == 0 {
		t.Fatal("no delta base cached: the test proves nothing (did git make deltas?)")
	}
	var held []int
	for _, n := range kept {
		if n >= large {
			held = append(held, n)
		}
	}
	if len(held) > 1 {
		t.Errorf("cached %d delta bases of %d bytes or more (bases cached: %v), want at most the last", len(held), large, kept)
	}
}
