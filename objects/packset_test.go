package objects

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// goGitIndex is the index go-git's idxfile writer and encoder make of
// entries, the reference writeIndex must match byte for byte.
func goGitIndex(t testing.TB, entries []packEntry, sum ID) []byte {
	t.Helper()
	iw := new(idxfile.Writer)
	if err := iw.OnHeader(uint32(len(entries))); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		iw.Add(plumbing.Hash(e.id), uint64(e.offset), e.crc)
	}
	if err := iw.OnFooter(plumbing.Hash(sum)); err != nil {
		t.Fatal(err)
	}
	idx, err := iw.Index()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := idxfile.NewEncoder(&b).Encode(idx); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// idOf is a SHA-1-like id made from n.
func idOf(n int) ID {
	return HashObject(KindBlob, []byte(fmt.Sprint(n)))
}

func TestWriteIndexMatchesGoGit(t *testing.T) {
	tests := []struct {
		name    string
		entries func() []packEntry
	}{
		{"empty", func() []packEntry { return nil }},
		{"one", func() []packEntry { return []packEntry{{id: idOf(1), offset: 12, crc: 7}} }},
		{"many, unsorted", func() []packEntry {
			var es []packEntry
			for i := range 3000 {
				es = append(es, packEntry{id: idOf(i), offset: int64(12 + 100*i), crc: uint32(i * 31)})
			}
			return es
		}},
		{"large offsets", func() []packEntry {
			var es []packEntry
			for i := range 50 {
				es = append(es, packEntry{id: idOf(i), offset: int64(i) << 28, crc: uint32(i)})
			}
			return es
		}},
		{"an id twice", func() []packEntry {
			return []packEntry{{id: idOf(1), offset: 12, crc: 1}, {id: idOf(2), offset: 40, crc: 2}, {id: idOf(1), offset: 12, crc: 1}}
		}},
	}
	sum := idOf(-1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := goGitIndex(t, tt.entries(), sum)
			var got bytes.Buffer
			n, err := writeIndex(&got, tt.entries(), sum)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(got.Len()) {
				t.Errorf("writeIndex returned %d, wrote %d bytes", n, got.Len())
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("index of %d bytes differs from go-git's (%d bytes)", got.Len(), len(want))
			}
			if _, err := parseIndex(got.Bytes()); err != nil {
				t.Errorf("parseIndex: %v", err)
			}
		})
	}
}

func TestEntrySet(t *testing.T) {
	var s entrySet
	var entries []packEntry
	for i := range 5000 {
		entries = append(entries, packEntry{id: idOf(i)})
		s.add(entries, i)
	}
	// Ids sharing their first 8 bytes (the probe start) still differ.
	var a, b ID
	binary.LittleEndian.PutUint64(a[:], 42)
	b = a
	b[19] = 1
	entries = append(entries, packEntry{id: a})
	s.add(entries, len(entries)-1)
	for i := range 5000 {
		if !s.has(entries, idOf(i)) {
			t.Fatalf("id %d added, not found", i)
		}
		if s.has(entries, idOf(-1-i)) {
			t.Fatalf("id %d not added, found", -1-i)
		}
	}
	if !s.has(entries, a) || s.has(entries, b) {
		t.Errorf("has(a), has(b) = %v, %v; want true, false", s.has(entries, a), s.has(entries, b))
	}
	if got := len(s.slots); got > 4*len(entries) {
		t.Errorf("%d slots for %d entries; want at most 4 per entry", got, len(entries))
	}
}

// TestPackWriterSmallPerObject fails if the state a PackWriter keeps per
// object written grows again: its entry (32 bytes) and its slot in the set
// of ids (4 to 8 bytes), not a map entry beside them (about 40 bytes more).
func TestPackWriterSmallPerObject(t *testing.T) {
	if got := unsafe.Sizeof(packEntry{}); got != 32 {
		t.Errorf("packEntry is %d bytes; want 32", got)
	}
	r := newRepo(t)
	w, err := r.NewPackWriter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	const n = 60000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// A first thousand objects, so that the compressor and its pool are in
	// both measures.
	for i := range 1000 {
		if _, _, err := w.WriteBlob([]byte(fmt.Sprint(-1 - i))); err != nil {
			t.Fatal(err)
		}
	}
	before := heap()
	for i := range n {
		if _, _, err := w.WriteBlob([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Written again: skipped, not stored twice.
	if _, added, err := w.WriteBlob([]byte("7")); err != nil || added {
		t.Fatalf("second write of an object: added %v, %v", added, err)
	}
	grown := heap() - before
	per := float64(grown) / n
	t.Logf("%.1f bytes per object", per)
	if per > 64 {
		t.Errorf("the writer holds %.0f bytes per object written; want at most 64", per)
	}
	runtime.KeepAlive(w)
}
