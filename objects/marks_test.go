package objects

import (
	"fmt"
	"runtime"
	"testing"
)

// TestMarks checks the set against a map: objects of two packs, one of them
// in both, and ids no pack holds, each added twice; and that a set of the
// 20,000 packed objects takes under a byte per object (bits, and the
// listing of the packs), not a map entry.
func TestMarks(t *testing.T) {
	r := newRepo(t)
	var ids []ID
	writePack := func(r *Repository, names ...string) {
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			id, _, err := w.WriteBlob([]byte(n))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for i := 0; i < 20000; i++ {
		names = append(names, fmt.Sprint("object ", i))
	}
	writePack(r, names[:10000]...)
	writePack(r, names[10000:]...)
	// A pack made elsewhere with an object the first pack has.
	other := newRepo(t)
	writePack(other, names[5], "only in the third pack")
	copyPacks(t, other, r)
	ids = append(ids, HashObject(KindBlob, []byte("in no pack")), HashObject(KindTree, nil))

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := r.NewMarks()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 20000 { // a map: over 40 bytes an object
		t.Errorf("an empty set of 20,000 packed objects allocated %d bytes", n)
	}
	want := ObjectSet{}
	for round := 0; round < 2; round++ {
		for i, id := range ids {
			if i%3 == round {
				continue // added in the other round only
			}
			if got, was := m.Add(id), want.Has(id); got == was {
				t.Fatalf("Add(%s) = %v, want %v", id, got, !was)
			}
			want.Add(id)
		}
	}
	for _, id := range ids {
		if m.Has(id) != want.Has(id) {
			t.Errorf("Has(%s) = %v, want %v", id, m.Has(id), want.Has(id))
		}
	}
}
