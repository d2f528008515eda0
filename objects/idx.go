package objects

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// packIndex reads a version 2 pack index (.idx) in place, memory-mapped, as
// git does: a lookup is a binary search in the file's sorted ids, and
// opening an index costs nothing per object. (go-git decodes every index
// whole and checksums it with its collision-detecting SHA-1 each time it is
// opened; with a hundred thousand objects that was a tenth of a second per
// command.) The checksum is checked by Verify, not on every open.
type packIndex struct {
	data    []byte // the whole file, mapped read-only
	n       int    // number of objects
	names   int    // offset of the sorted ids
	crcs    int    // offset of the CRC32s
	offs    int    // offset of the 4-byte offsets
	large   int    // offset of the 8-byte offsets
	largeN  int
	mmapped bool
}

var idxMagic = []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}

// openIndex maps and checks the shape of an index file.
func openIndex(path string) (*packIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: pack index: %w", ErrCorrupt, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: pack index: %w", ErrCorrupt, err)
	}
	size := st.Size()
	if size < int64(len(idxMagic))+256*4+40 || size > 1<<40 {
		return nil, fmt.Errorf("%w: pack index %s: %d bytes", ErrCorrupt, path, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	mmapped := err == nil
	if err != nil {
		// No mmap (an unusual file system): read it instead.
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("%w: pack index: %w", ErrCorrupt, err)
		}
	}
	x, err := parseIndex(data)
	if err != nil {
		if mmapped {
			unix.Munmap(data)
		}
		return nil, fmt.Errorf("%w: pack index %s: %v", ErrCorrupt, path, err)
	}
	x.mmapped = mmapped
	return x, nil
}

// parseIndex checks the layout of an index held in data.
func parseIndex(data []byte) (*packIndex, error) {
	if !bytes.HasPrefix(data, idxMagic) {
		return nil, errors.New("not a version 2 pack index")
	}
	fan := data[8 : 8+256*4]
	prev := uint32(0)
	for i := 0; i < 256; i++ {
		v := binary.BigEndian.Uint32(fan[i*4:])
		if v < prev {
			return nil, errors.New("fan-out table not ascending")
		}
		prev = v
	}
	n := int(prev)
	x := &packIndex{data: data, n: n}
	x.names = 8 + 256*4
	x.crcs = x.names + n*20
	x.offs = x.crcs + n*4
	x.large = x.offs + n*4
	if x.large+40 > len(data) {
		return nil, errors.New("truncated")
	}
	x.largeN = (len(data) - 40 - x.large) / 8
	if x.large+x.largeN*8+40 != len(data) {
		return nil, errors.New("size does not match its object count")
	}
	return x, nil
}

func (x *packIndex) close() {
	if x != nil && x.mmapped {
		unix.Munmap(x.data)
		x.mmapped = false
	}
}

func (x *packIndex) id(i int) []byte { return x.data[x.names+i*20 : x.names+i*20+20] }

// offset returns the pack offset of object number i.
func (x *packIndex) offset(i int) (int64, bool) {
	v := binary.BigEndian.Uint32(x.data[x.offs+i*4:])
	if v&0x80000000 == 0 {
		return int64(v), true
	}
	j := int(v & 0x7fffffff)
	if j >= x.largeN {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(x.data[x.large+j*8:])), true
}

func (x *packIndex) crc(i int) uint32 { return binary.BigEndian.Uint32(x.data[x.crcs+i*4:]) }

// find returns the pack offset of id.
func (x *packIndex) find(id ID) (int64, bool) {
	if i, ok := x.pos(id); ok {
		return x.offset(i)
	}
	return 0, false
}

// pos returns the position of id in the index (0 to x.n-1, in id order).
func (x *packIndex) pos(id ID) (int, bool) {
	lo := 0
	if id[0] > 0 {
		lo = int(binary.BigEndian.Uint32(x.data[8+(int(id[0])-1)*4:]))
	}
	hi := int(binary.BigEndian.Uint32(x.data[8+int(id[0])*4:]))
	if hi > x.n || lo > hi {
		return 0, false
	}
	i := lo + sort.Search(hi-lo, func(k int) bool { return bytes.Compare(x.id(lo+k), id[:]) >= 0 })
	if i < hi && bytes.Equal(x.id(i), id[:]) {
		return i, true
	}
	return 0, false
}

// packChecksum returns the checksum of the pack the index describes.
func (x *packIndex) packChecksum() []byte { return x.data[len(x.data)-40 : len(x.data)-20] }

// checksumOK reports whether the index's own trailing checksum matches.
func (x *packIndex) checksumOK() bool {
	sum := sha1.Sum(x.data[:len(x.data)-20])
	return bytes.Equal(sum[:], x.data[len(x.data)-20:])
}

// idxEntry is one object of an index.
type idxEntry struct {
	id     ID
	offset int64
	crc    uint32
}

// entries lists the index's objects.
func (x *packIndex) entries() ([]idxEntry, error) {
	out := make([]idxEntry, x.n)
	for i := 0; i < x.n; i++ {
		copy(out[i].id[:], x.id(i))
		off, ok := x.offset(i)
		if !ok {
			return nil, fmt.Errorf("%w: pack index: bad large offset", ErrCorrupt)
		}
		out[i].offset, out[i].crc = off, x.crc(i)
	}
	return out, nil
}

// CheckPacks checks every pack's index: its own checksum, and that it names
// the pack beside it (the pack's trailing checksum). With full, each pack's
// content is hashed too and compared with its trailer. It returns one error
// per problem, naming the pack.
func (r *Repository) CheckPacks(full bool) []error {
	names, err := r.listPacks()
	if err != nil {
		return []error{err}
	}
	var out []error
	// A pack listed but gone when opened was merged into a new one by a
	// backup running meanwhile: not a problem. The objects are checked
	// through the packs that hold them now.
	gone := r.vanished
	for _, n := range names {
		x, err := r.index(n)
		if err != nil {
			if !gone(n, err) {
				out = append(out, err)
			}
			continue
		}
		if !x.checksumOK() {
			out = append(out, fmt.Errorf("%w: pack index %s: checksum does not match its content", ErrCorrupt, n))
		}
		path := filepath.Join(r.path, "objects", "pack", n+".pack")
		f, err := os.Open(path)
		if err != nil {
			if !gone(n, err) {
				out = append(out, fmt.Errorf("%w: pack %s: %v", ErrCorrupt, n, err))
			}
			continue
		}
		st, err := f.Stat()
		if err != nil || st.Size() < 32 {
			f.Close()
			out = append(out, fmt.Errorf("%w: pack %s: too short", ErrCorrupt, n))
			continue
		}
		var trailer [20]byte
		if _, err := f.ReadAt(trailer[:], st.Size()-20); err != nil || !bytes.Equal(trailer[:], x.packChecksum()) {
			out = append(out, fmt.Errorf("%w: pack %s: its index describes another pack", ErrCorrupt, n))
		} else if hex.EncodeToString(trailer[:]) != strings.TrimPrefix(n, "pack-") {
			out = append(out, fmt.Errorf("%w: pack %s: named after another checksum", ErrCorrupt, n))
		}
		if full {
			h := sha1.New()
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size()-20)); err != nil || !bytes.Equal(h.Sum(nil), trailer[:]) {
				out = append(out, fmt.Errorf("%w: pack %s: content does not match its checksum", ErrCorrupt, n))
			}
		}
		f.Close()
	}
	return out
}
