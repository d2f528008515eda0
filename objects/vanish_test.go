package objects

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// mergeDuringListing makes the next listing of packs by a reader trigger,
// from the other handle w, a backup's merge: a new pack absorbing the small
// ones, then RemovePacks. It returns the id of the object the new pack adds.
func mergeDuringListing(t *testing.T, w *Repository, tag string) *ID {
	t.Helper()
	var added ID
	fired := false
	packsListed = func() {
		if fired {
			return
		}
		fired = true
		pw, err := mergingWriter(w, 0)
		if err != nil {
			t.Error(err)
			return
		}
		if added, _, err = pw.WriteBlob(append([]byte("written by the merging backup "+tag), incompressible(tinyPack+1024, uint64(len(tag)+7))...)); err != nil {
			t.Error(err)
		}
		st, err := commitMerging(w, pw)
		if err != nil || len(st.Merged) == 0 {
			t.Errorf("merging backup: merged %v, %v", st.Merged, err)
		}
	}
	t.Cleanup(func() { packsListed = nil })
	return &added
}

// smallPacks writes n packs of one blob each and returns the blobs' ids.
func smallPacks(t *testing.T, r *Repository, tag string, n int) []ID {
	t.Helper()
	var ids []ID
	for i := 0; i < n; i++ {
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		// Above the size under which packs wait to be merged.
		data := append([]byte(fmt.Sprintf("%s blob %d ", tag, i)), incompressible(tinyPack+1024, uint64(len(tag)*1000+i+1))...)
		id, _, err := w.WriteBlob(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func openHandle(t *testing.T, path string) *Repository {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestReadersSeeMergedPacks reproduces, deterministically, a reader (verify,
// log, diff) racing a backup that merges small packs and removes them
// (TestReadersDuringBackups in cmd/metastore): each packs are listed by the
// reader, merged away by another handle, then opened. Has, Read, Size and
// CheckPacks must find every object in the new pack and report nothing; an
// object or index truly missing must still be reported.
func TestReadersSeeMergedPacks(t *testing.T) {
	w := newRepo(t)
	path := w.Path()

	// Has: the listed indexes vanish before they are mapped.
	ids := smallPacks(t, w, "has", 3)
	a := openHandle(t, path)
	added := mergeDuringListing(t, w, "has")
	for _, id := range ids {
		if !a.Has(id) {
			t.Errorf("Has(%s) = false after its pack was merged away while listing", id)
		}
	}
	if !a.Has(*added) {
		t.Errorf("Has does not see the object the merging pack added")
	}

	// Read and Size: the listed packs vanish before they are opened.
	ids = smallPacks(t, w, "read", 3)
	a = openHandle(t, path)
	added = mergeDuringListing(t, w, "read")
	for _, id := range ids {
		if _, _, err := a.Read(id); err != nil {
			t.Errorf("Read(%s): %v", id, err)
		}
	}
	for _, id := range append(ids, *added) {
		if _, _, err := a.Read(id); err != nil {
			t.Errorf("Read(%s): %v", id, err)
		}
		if _, err := a.Size(id); err != nil {
			t.Errorf("Size(%s): %v", id, err)
		}
	}

	// A reader that has read objects already (packs open, indexes
	// mapped) reads them, and the new pack's object, after a merge.
	ids = smallPacks(t, w, "open", 3)
	a = openHandle(t, path)
	for _, id := range ids {
		if _, _, err := a.Read(id); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := mergingWriter(w, 0)
	if err != nil {
		t.Fatal(err)
	}
	late, _, _ := pw.WriteBlob(append([]byte("after the reader opened its packs"), incompressible(tinyPack+1024, 99)...))
	if st, err := commitMerging(w, pw); err != nil || len(st.Merged) == 0 {
		t.Fatalf("merge: %v %v", st.Merged, err)
	}
	for _, id := range append(ids, late) {
		if _, _, err := a.Read(id); err != nil {
			t.Errorf("Read(%s) after the merge: %v", id, err)
		}
		if _, err := a.Size(id); err != nil {
			t.Errorf("Size(%s) after the merge: %v", id, err)
		}
	}

	// CheckPacks: fresh (indexes not mapped yet), and with the listed
	// packs' indexes mapped already.
	for _, mapped := range []bool{false, true} {
		ids = smallPacks(t, w, fmt.Sprint("check ", mapped), 3)
		a = openHandle(t, path)
		if mapped {
			for _, id := range ids {
				a.Has(id)
			}
		}
		mergeDuringListing(t, w, fmt.Sprint("check ", mapped))
		if errs := a.CheckPacks(true); len(errs) > 0 {
			t.Errorf("CheckPacks (indexes mapped: %v) while a backup merged: %v", mapped, errs)
		}
		packsListed = nil
	}

	// Truly missing: an object no pack holds, and an index gone beside
	// its pack.
	var absent ID
	absent[0] = 0x42
	if _, _, err := a.Read(absent); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read of an absent object: %v, want ErrNotFound", err)
	}
	if a.Has(absent) {
		t.Errorf("Has of an absent object is true")
	}
	smallPacks(t, w, "damaged", 1)
	packs, _ := w.Packs()
	var victim string
	for _, p := range packs {
		if st, err := os.Stat(filepath.Join(path, "objects", "pack", p+".pack")); err == nil && st.Size() < 2*tinyPack {
			victim = p
		}
	}
	if victim == "" {
		t.Fatal("no small pack to damage")
	}
	if err := os.Remove(filepath.Join(path, "objects", "pack", victim+".idx")); err != nil {
		t.Fatal(err)
	}
	b := openHandle(t, path)
	errs := b.CheckPacks(false)
	if len(errs) != 1 || !errors.Is(errs[0], ErrCorrupt) {
		t.Errorf("CheckPacks with an index missing beside its pack: %v, want one ErrCorrupt", errs)
	}
	if _, err := b.packIndexes(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("listing packs with an index missing beside its pack: %v, want ErrCorrupt", err)
	}
}
