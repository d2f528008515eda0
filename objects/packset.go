package objects

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"io"
	"slices"

	"github.com/kylin-tools/metastore/objects/internal/iocount"
)

// entrySet finds the entries a PackWriter wrote by id: an open-addressing
// hash table of positions in the writer's entries, at most half full, with
// linear probing. It takes 4 to 8 bytes per object, where a map[ID]struct{}
// took about 40 (a first backup of a million resources writes a million
// objects). Ids are SHA-1 sums: their first bytes are already uniform.
type entrySet struct {
	slots []uint32 // position in entries + 1; 0 is an empty slot
	n     int
}

// slot is where id's probe sequence starts in a table of size mask+1.
func slot(id ID, mask int) int {
	return int(binary.LittleEndian.Uint64(id[:8]) & uint64(mask))
}

// has reports whether entries holds id at a position in the set.
func (s *entrySet) has(entries []packEntry, id ID) bool {
	if len(s.slots) == 0 {
		return false
	}
	mask := len(s.slots) - 1
	for i := slot(id, mask); ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return false
		}
		if entries[v-1].id == id {
			return true
		}
	}
}

// add puts position k of entries in the set, doubling the table when it
// would be more than half full.
func (s *entrySet) add(entries []packEntry, k int) {
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]uint32, max(1024, 2*len(old)))
		for _, v := range old {
			if v != 0 {
				s.put(entries, int(v-1))
			}
		}
	}
	s.put(entries, k)
	s.n++
}

func (s *entrySet) put(entries []packEntry, k int) {
	mask := len(s.slots) - 1
	i := slot(entries[k].id, mask)
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = uint32(k + 1)
}

// writeIndex writes the version 2 index (.idx) of a pack whose entries are
// entries and whose checksum is sum, as git and go-git's idxfile encoder
// write it, and returns its size. It sorts entries by id, in place, and
// writes an id listed twice once (as go-git's idxfile.Writer did). Beside
// the entries it holds only a write buffer: go-git's writer kept a map, a
// copy of the entries and a decoded index (about 100 bytes per object).
func writeIndex(w io.Writer, entries []packEntry, sum ID) (int64, error) {
	slices.SortFunc(entries, func(a, b packEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	entries = slices.CompactFunc(entries, func(a, b packEntry) bool { return a.id == b.id })
	h := sha1.New()
	cw := &iocount.Writer{W: io.MultiWriter(w, h)}
	bw := bufio.NewWriterSize(cw, 64<<10)
	var b [8]byte
	put32 := func(v uint32) {
		binary.BigEndian.PutUint32(b[:4], v)
		bw.Write(b[:4])
	}
	bw.Write(idxMagic)
	var fan [256]uint32
	for _, e := range entries {
		fan[e.id[0]]++
	}
	total := uint32(0)
	for _, c := range fan {
		total += c
		put32(total)
	}
	for _, e := range entries {
		bw.Write(e.id[:])
	}
	for _, e := range entries {
		put32(e.crc)
	}
	large := uint32(0)
	for _, e := range entries {
		if e.offset > 0x7fffffff {
			put32(0x80000000 | large)
			large++
		} else {
			put32(uint32(e.offset))
		}
	}
	for _, e := range entries {
		if e.offset > 0x7fffffff {
			binary.BigEndian.PutUint64(b[:], uint64(e.offset))
			bw.Write(b[:])
		}
	}
	bw.Write(sum[:])
	if err := bw.Flush(); err != nil {
		return cw.N, err
	}
	n, err := w.Write(h.Sum(nil))
	return cw.N + int64(n), err
}
