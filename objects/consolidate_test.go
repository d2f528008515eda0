package objects

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"
)

// TestConsolidationStoresVersionsAsDeltas writes twenty versions of a large
// tree-like object, each in its own pack, hinting the previous version: the
// small packs are merged as they come, later versions are deltas, and git
// itself reads every version.
func TestConsolidationStoresVersionsAsDeltas(t *testing.T) {
	r := newRepo(t)
	var lines [][]byte
	for i := 0; i < 5000; i++ {
		lines = append(lines, []byte(fmt.Sprintf("entry %05d with some payload %x\n", i, i*7919)))
	}
	var ids []ID
	var versions [][]byte
	prev := ID{}
	var sizes []int64
	for v := 0; v < 20; v++ {
		lines[v*37%len(lines)] = []byte(fmt.Sprintf("changed in version %d\n", v))
		data := bytes.Join(lines, nil)
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		id, added, err := w.WriteDelta(KindBlob, data, prev)
		if err != nil || !added {
			t.Fatalf("version %d: added=%v err=%v", v, added, err)
		}
		st, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.PackBytes)
		ids, versions, prev = append(ids, id), append(versions, data), id
		packs, _ := r.Packs()
		if len(packs) != 1 {
			t.Fatalf("version %d: %d packs, want the small packs merged into one", v, len(packs))
		}
	}
	if sizes[1]*10 > sizes[0] {
		t.Errorf("second version took %d bytes, first %d: want a delta far smaller", sizes[1], sizes[0])
	}
	for i, id := range ids {
		got, err := r.ReadKind(id, KindBlob)
		if err != nil || !bytes.Equal(got, versions[i]) {
			t.Fatalf("version %d reads back wrong: %v", i, err)
		}
	}
	// A full copy at least every maxDepth versions.
	full := 0
	for _, s := range sizes {
		if s*10 > sizes[0] {
			full++
		}
	}
	if full < 2 || full > 3 {
		t.Errorf("%d full copies among 20 versions with depth limit %d (sizes %v)", full, maxDepth, sizes)
	}
	if git, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command(git, "--git-dir", r.Path(), "fsck", "--strict", "--unreachable").CombinedOutput()
		if err != nil {
			t.Fatalf("git fsck: %v\n%s", err, out)
		}
		out, err = exec.Command(git, "--git-dir", r.Path(), "cat-file", "-p", ids[19].String()).Output()
		if err != nil || !bytes.Equal(out, versions[19]) {
			t.Fatalf("git cat-file of the newest version: %v", err)
		}
	}
}

// TestLargePacksAreNotRewritten checks that a pack above the consolidation
// limit stays as it is.
func TestLargePacksAreNotRewritten(t *testing.T) {
	r := newRepo(t)
	w, _ := r.NewPackWriter(1)
	// Incompressible content above consolidateMin.
	data := make([]byte, consolidateMin+1024)
	x := uint64(88172645463325252)
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	big, _, _ := w.WriteBlob(data)
	w.Commit()
	before, _ := r.Packs()
	w, _ = r.NewPackWriter(0)
	w.WriteBlob([]byte("small"))
	w.Commit()
	after, _ := r.Packs()
	if len(after) != 2 || after[0] != before[0] && after[1] != before[0] {
		t.Errorf("packs %v after a small write, want the large pack %v kept", after, before)
	}
	if !r.Has(big) {
		t.Error("large object lost")
	}
}
