package objects

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// TestConsolidationStoresVersionsAsDeltas writes twenty versions of a large
// tree-like object, each in its own pack, hinting the previous version: the
// small packs are merged as they come, the newest version is whole and the
// older ones deltas against their successors (git's order), and git itself
// reads every version.
func TestConsolidationStoresVersionsAsDeltas(t *testing.T) {
	r := newRepo(t)
	var lines [][]byte
	for i := 0; i < 5000; i++ {
		lines = append(lines, []byte(fmt.Sprintf("entry %05d with some payload %x\n", i, i*7919)))
	}
	var ids []ID
	var versions [][]byte
	prev := ID{}
	var first int64
	for v := 0; v < 20; v++ {
		lines[v*37%len(lines)] = []byte(fmt.Sprintf("changed in version %d\n", v))
		data := bytes.Join(lines, nil)
		w, err := mergingWriter(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		id, added, err := w.WriteDelta(KindBlob, data, prev)
		if err != nil || !added {
			t.Fatalf("version %d: added=%v err=%v", v, added, err)
		}
		st, err := commitMerging(r, w)
		if err != nil {
			t.Fatal(err)
		}
		if v == 0 {
			first = st.PackBytes
		}
		ids, versions, prev = append(ids, id), append(versions, data), id
		packs, _ := r.Packs()
		if len(packs) != 1 {
			t.Fatalf("version %d: %d packs, want the small packs merged into one", v, len(packs))
		}
	}
	packs, _ := r.Packs()
	st, _ := os.Stat(filepath.Join(r.Path(), "objects", "pack", packs[0]+".pack"))
	if st.Size() > 2*first {
		t.Errorf("20 versions take %d bytes, one takes %d: want the older ones as small deltas", st.Size(), first)
	}
	ps, err := r.openPacks()
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		got, err := r.ReadKind(id, KindBlob)
		if err != nil || !bytes.Equal(got, versions[i]) {
			t.Fatalf("version %d reads back wrong: %v", i, err)
		}
		p, off, _ := ps.find(id)
		e, err := p.header(off)
		if err != nil {
			t.Fatal(err)
		}
		if whole := e.typ == int(KindBlob); whole != (i == len(ids)-1) {
			t.Errorf("version %d stored as type %d", i, e.typ)
		}
	}
	if git, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command(git, "--git-dir", r.Path(), "fsck", "--strict", "--unreachable").CombinedOutput()
		if err != nil {
			t.Fatalf("git fsck: %v\n%s", err, out)
		}
		for _, i := range []int{0, 19} {
			out, err = exec.Command(git, "--git-dir", r.Path(), "cat-file", "-p", ids[i].String()).Output()
			if err != nil || !bytes.Equal(out, versions[i]) {
				t.Fatalf("git cat-file of version %d: %v", i, err)
			}
		}
	}
}

// TestLargePacksAreNotRewritten checks that a pack above the consolidation
// limit stays as it is.
func TestLargePacksAreNotRewritten(t *testing.T) {
	r := newRepo(t)
	w, _ := mergingWriter(r, 1)
	// Incompressible content above consolidateMin.
	data := incompressible(consolidateMin+1024, 88172645463325252)
	big, _, _ := w.WriteBlob(data)
	commitMerging(r, w)
	before, _ := r.Packs()
	w, _ = mergingWriter(r, 0)
	w.WriteBlob([]byte("small"))
	commitMerging(r, w)
	after, _ := r.Packs()
	if len(after) != 2 || after[0] != before[0] && after[1] != before[0] {
		t.Errorf("packs %v after a small write, want the large pack %v kept", after, before)
	}
	if !r.Has(big) {
		t.Error("large object lost")
	}
}

// TestTinyPacksWaitToBeMerged checks that a write of almost nothing (a
// backup that found no change: one commit) leaves the small packs alone,
// until there are too many of them.
func TestTinyPacksWaitToBeMerged(t *testing.T) {
	r := newRepo(t)
	w, _ := mergingWriter(r, 0)
	w.WriteBlob(bytes.Repeat([]byte("x"), 100<<10))
	commitMerging(r, w)
	for i := 1; i < maxSmallPacks; i++ {
		w, _ := mergingWriter(r, 0)
		w.WriteBlob([]byte(fmt.Sprintf("tiny %d", i)))
		if _, err := commitMerging(r, w); err != nil {
			t.Fatal(err)
		}
		if packs, _ := r.Packs(); len(packs) != i+1 {
			t.Fatalf("after %d tiny writes: %d packs, want %d", i, len(packs), i+1)
		}
	}
	w, _ = mergingWriter(r, 0)
	w.WriteBlob([]byte("one too many"))
	commitMerging(r, w)
	if packs, _ := r.Packs(); len(packs) != 1 {
		t.Fatalf("%d packs after %d small ones, want them merged into one", len(packs), maxSmallPacks)
	}
}

// TestConsolidationCopiesEveryObjectOnce merges small packs that hold, side
// by side, versions of a large tree (stored as deltas entry by entry),
// unrelated blobs, and one object that two packs both hold (git's own packs,
// or a crash, can leave such duplicates). The merged pack must hold every
// object exactly once, read back byte for byte, and pass git's checks of its
// checksum and of every entry.
func TestConsolidationCopiesEveryObjectOnce(t *testing.T) {
	r := newRepo(t)
	var names []string
	for i := 0; i < 3000; i++ {
		names = append(names, fmt.Sprintf("job-%05d", i*7))
	}
	want := map[ID][]byte{}
	var prevTree ID
	for v := 0; v < 6; v++ {
		w, err := mergingWriter(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			data := []byte(fmt.Sprintf("unrelated resource %d of version %d", i, v))
			id, _, err := w.WriteBlob(data)
			if err != nil {
				t.Fatal(err)
			}
			want[id] = data
		}
		names = append(names, fmt.Sprintf("job-%05d-new%d", v, v))
		var es []TreeEntry
		for i, n := range names {
			content := n
			if i%500 == v {
				content += fmt.Sprint(" changed in version ", v)
			}
			es = append(es, TreeEntry{Name: n, Mode: ModeFile, ID: HashObject(KindBlob, []byte(content))})
		}
		SortTree(es)
		data, err := EncodeTree(es)
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := w.WriteDelta(KindTree, data, prevTree)
		if err != nil {
			t.Fatal(err)
		}
		want[id], prevTree = data, id
		if _, err := commitMerging(r, w); err != nil {
			t.Fatal(err)
		}
		if v == 3 {
			// A pack made elsewhere that repeats an object this one has.
			other := newRepo(t)
			ow, _ := other.NewPackWriter(0)
			dup := []byte("unrelated resource 7 of version 3")
			ow.WriteBlob(dup)
			ow.WriteBlob([]byte("only in the other pack"))
			want[HashObject(KindBlob, []byte("only in the other pack"))] = []byte("only in the other pack")
			ow.Commit()
			copyPacks(t, other, r)
		}
	}
	packs, _ := r.Packs()
	if len(packs) != 1 {
		t.Fatalf("%d packs, want the small packs merged into one", len(packs))
	}
	x, err := r.index(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	entries, err := x.entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("merged pack holds %d objects, want %d", len(entries), len(want))
	}
	for id, data := range want {
		_, got, err := r.Read(id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("object %s reads back wrong: %v", id, err)
		}
	}
	if git, err := exec.LookPath("git"); err == nil {
		idx := filepath.Join(r.Path(), "objects", "pack", packs[0]+".idx")
		out, err := exec.Command(git, "verify-pack", "-v", idx).CombinedOutput()
		if err != nil {
			t.Fatalf("git verify-pack: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("chain length = ")) {
			t.Errorf("no deltas in the merged pack: the older trees were stored whole\n%s", out)
		}
	}
}

// incompressible returns n bytes of a xorshift generator from seed: content
// that zlib does not shrink.
func incompressible(n int, seed uint64) []byte {
	data := make([]byte, n)
	x := seed
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	return data
}

// mergingWriter starts a pack that absorbs the repository's small packs, as
// package snapshot's writes do.
func mergingWriter(r *Repository, level int) (*PackWriter, error) {
	w, err := r.NewPackWriter(level)
	if err != nil {
		return nil, err
	}
	m, err := r.PlanMerge()
	if err != nil {
		w.Abort()
		return nil, err
	}
	w.Absorb(m)
	return w, nil
}

// commitMerging commits w and removes the packs it absorbed.
func commitMerging(r *Repository, w *PackWriter) (PackStats, error) {
	st, err := w.Commit()
	if err == nil {
		r.RemovePacks(st.Merged)
	}
	return st, err
}

// TestPackWriterLeavesOtherPacksAlone checks that a pack writer merges and
// deletes no other pack unless told: without Absorb the small packs stay;
// with it, the new pack holds their objects, names them, and still leaves
// their files for RemovePacks to delete.
func TestPackWriterLeavesOtherPacksAlone(t *testing.T) {
	r := newRepo(t)
	var ids []ID
	write := func(w *PackWriter, i int) {
		// Incompressible, above the size under which a pack absorbs nothing.
		data := incompressible(tinyPack+1024, uint64(88172645463325252+i))
		id, _, err := w.WriteBlob(data)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 0; i < 3; i++ {
		w, _ := r.NewPackWriter(0)
		write(w, i)
		st, err := w.Commit()
		if err != nil || len(st.Merged) != 0 {
			t.Fatalf("plain write %d: merged %v, %v", i, st.Merged, err)
		}
		if packs, _ := r.Packs(); len(packs) != i+1 {
			t.Fatalf("after %d plain writes: %d packs", i+1, len(packs))
		}
	}
	before, _ := r.Packs()
	w, err := mergingWriter(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(w, 3)
	st, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(st.Merged)), before) {
		t.Errorf("merged %v, want %v", st.Merged, before)
	}
	if packs, _ := r.Packs(); len(packs) != 4 {
		t.Errorf("absorbing packs deleted some: %d packs before RemovePacks, want 4", len(packs))
	}
	r.RemovePacks(st.Merged)
	packs, _ := r.Packs()
	if len(packs) != 1 {
		t.Fatalf("%d packs after RemovePacks, want 1", len(packs))
	}
	for _, id := range ids {
		if !r.Has(id) {
			t.Errorf("object %s lost", id)
		}
	}
}

// TestTreeRebaseHoldsNoTree checks that storing the previous version of a
// large tree as a delta against the new one reads it as a stream: the
// delta is made, rebuilds the old tree, and what is allocated meanwhile is
// a small fraction of one tree (reading the old tree whole, or rebuilding
// it to check the delta, took twice its size: a churn backup of a million
// resources held that for each of its large folders' trees and mirrors).
func TestTreeRebaseHoldsNoTree(t *testing.T) {
	r := newRepo(t)
	names := make([]string, 50000)
	for i := range names {
		names[i] = fmt.Sprintf("%08x-job-%06d", uint32(i)*2654435761, i)
	}
	old := jobTree(t, names, []string{"sub"}, 0)
	w, err := mergingWriter(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := w.Write(KindTree, old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commitMerging(r, w); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(names); i += 100 {
		names[i] += "-changed"
	}
	cur := jobTree(t, names, []string{"sub"}, 1)
	id := HashObject(KindTree, cur)
	w, err = mergingWriter(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.copy.analyze()
	// One P, so that the pools of readers and compressors the first call
	// fills serve the next (a pool's per-P slot is not shared); the least
	// of a few tries, as a collection may empty the pools meanwhile.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var entry []byte
	least := uint64(1 << 62)
	for range 4 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		entry = w.baseDelta(KindTree, base, id, cur)
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if entry == nil {
		t.Fatal("no delta for a tree with 1% of its entries changed")
	}
	if least > uint64(len(old)/8) {
		t.Errorf("storing a %d-byte tree as a delta allocated %d bytes, want under %d", len(old), least, len(old)/8)
	}
	if len(entry) > len(old)/10 {
		t.Errorf("delta entry of %d bytes for a %d-byte tree with 1%% changed", len(entry), len(old))
	}
	// The entry: header, base id, zlib stream of the delta.
	i := 0
	for entry[i]&0x80 != 0 {
		i++
	}
	if got := ID(entry[i+1 : i+21]); got != id {
		t.Fatalf("delta against %s, want %s", got, id)
	}
	zr, err := getZlibReader(bytes.NewReader(entry[i+21:]))
	if err != nil {
		t.Fatal(err)
	}
	delta, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := applyDelta(cur, delta); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("the delta does not rebuild the old tree: %v", err)
	}
}

// copyPacks copies the packs of from, with their indexes, into to, which
// then sees them.
func copyPacks(t *testing.T, from, to *Repository) {
	t.Helper()
	names, _ := from.Packs()
	for _, n := range names {
		for _, ext := range []string{".pack", ".idx"} {
			b, err := os.ReadFile(filepath.Join(from.Path(), "objects", "pack", n+ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(to.Path(), "objects", "pack", n+ext), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	to.reindex()
}

// TestDeltaChainsStopAtMaxDepth writes 60 versions of an object, each in a
// pack that absorbs the previous one: each older version becomes a delta
// against its successor until the chain resting on a whole version would
// reach maxDepth; that version stays whole and the next chain starts on
// the newer ones. Every version reads back.
func TestDeltaChainsStopAtMaxDepth(t *testing.T) {
	r := newRepo(t)
	var lines [][]byte
	for i := 0; i < 3000; i++ {
		lines = append(lines, []byte(fmt.Sprintf("entry %05d with some payload %x\n", i, i*7919)))
	}
	const versions = 60
	var ids []ID
	var datas [][]byte
	prev := ID{}
	for v := 0; v < versions; v++ {
		lines[v*37%len(lines)] = []byte(fmt.Sprintf("changed in version %d\n", v))
		data := bytes.Join(lines, nil)
		w, err := mergingWriter(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := w.WriteDelta(KindBlob, data, prev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := commitMerging(r, w); err != nil {
			t.Fatal(err)
		}
		ids, datas, prev = append(ids, id), append(datas, data), id
	}
	ps, err := r.openPacks()
	if err != nil {
		t.Fatal(err)
	}
	var whole []int
	deepest := 0
	for v, id := range ids {
		got, err := r.ReadKind(id, KindBlob)
		if err != nil || !bytes.Equal(got, datas[v]) {
			t.Fatalf("version %d reads back wrong: %v", v, err)
		}
		d := chainLength(t, ps, id)
		if d == 0 {
			whole = append(whole, v)
		}
		deepest = max(deepest, d)
	}
	// Versions 0-48 rest on version 49 (a chain of 49); version 49 then
	// stays whole, and 50-58 rest on 59, the newest.
	if !slices.Equal(whole, []int{maxDepth - 1, versions - 1}) || deepest != maxDepth-1 {
		t.Errorf("whole versions %v, deepest chain %d; want [%d %d] and %d", whole, deepest, maxDepth-1, versions-1, maxDepth-1)
	}
}

// TestMergeAnalysisSmallPerObject checks that analysing the small packs of
// a merge (entry headers, delta depths and heights) costs the entries
// read from their indexes and 8 bytes an object, not maps by id (which
// took about 150 bytes an object more).
func TestMergeAnalysisSmallPerObject(t *testing.T) {
	if n := unsafe.Sizeof(chainSlot{}); n != 8 {
		t.Errorf("chainSlot is %d bytes, want 8", n)
	}
	r := newRepo(t)
	const perPack = 10000
	prev := ID{}
	for p := 0; p < 2; p++ {
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perPack; i++ {
			data := []byte(fmt.Sprintf("object %d of pack %d, with enough text to be worth a delta %0200d", i, p, i))
			id, _, err := w.WriteDelta(KindBlob, data, prev)
			if err != nil {
				t.Fatal(err)
			}
			prev = id
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	m, err := r.PlanMerge()
	if err != nil || len(m.packs) != 2 {
		t.Fatalf("PlanMerge: %d packs, %v", len(m.packs), err)
	}
	defer m.close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m.analyze()
	runtime.ReadMemStats(&after)
	perObject := float64(after.TotalAlloc-before.TotalAlloc) / (2 * perPack)
	// idxEntry (40 bytes) + chainSlot (8), with room for the slices'
	// rounding.
	if perObject > 64 && !raceEnabled {
		t.Errorf("analysing %d objects allocated %.0f bytes an object, want at most 64", 2*perPack, perObject)
	}
}

// TestMergeCopiesLargeEntriesThroughBuffers checks that a large entry of a
// small pack is copied into the new pack through the copy buffers, not
// read whole first: committing a merge that copies an 8 MiB entry
// allocates less than half of it.
func TestMergeCopiesLargeEntriesThroughBuffers(t *testing.T) {
	r := newRepo(t)
	big := incompressible(8<<20, 7)
	w, err := r.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	bigID, _, err := w.WriteBlob(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w, err = mergingWriter(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.WriteBlob(incompressible(tinyPack+1000, 8)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := commitMerging(r, w)
	runtime.ReadMemStats(&after)
	if err != nil || len(st.Merged) != 1 {
		t.Fatalf("commit: merged %v, %v", st.Merged, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(big)/2) {
		t.Errorf("merging a pack with an entry of %d bytes allocated %d bytes", len(big), n)
	}
	if got, err := r.ReadKind(bigID, KindBlob); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the large blob reads back wrong: %v", err)
	}
}
