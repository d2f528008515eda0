package objects

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"sort"

	"github.com/kylin-tools/metastore/objects/internal/iocount"
)

// PackOut describes a pack written by WritePack.
type PackOut struct {
	// Checksum is the pack's trailing SHA-1, which names it
	// (pack-<checksum>.pack).
	Checksum ID
	// Objects counts its objects; Size is its length in bytes.
	Objects int
	Size    int64
	// Copied counts the entries copied as stored (compressed, or as a
	// delta) rather than inflated and compressed again.
	Copied int

	entries []packEntry
}

// Name returns the pack's base name, pack-<checksum>.
func (p *PackOut) Name() string { return "pack-" + p.Checksum.String() }

// WriteIndex writes the pack's version 2 index (.idx).
func (p *PackOut) WriteIndex(w io.Writer) error {
	_, err := writeIndex(w, p.entries, p.Checksum)
	return err
}

// WritePack writes a self-contained pack holding the objects ids (each once,
// in the order given) to w, as git's pack protocol and pack files carry
// them. Entries of the repository's packs are copied as stored, without
// inflating them, when they are whole objects or deltas whose base is also
// in ids (git calls this pack reuse); an OFS_DELTA entry is rewritten as a
// REF_DELTA; anything else (a delta whose base is not sent, a loose object)
// is inflated and written whole. Each copied entry's CRC-32 is checked
// against its index, so a damaged entry is an error, not a damaged copy.
// progress, if not nil, is called after each object with the bytes written
// so far.
func (r *Repository) WritePack(w io.Writer, ids []ID, progress func(objects int, bytes int64)) (*PackOut, error) {
	send := make(map[ID]struct{}, len(ids))
	uniq := ids[:0:0]
	for _, id := range ids {
		if _, dup := send[id]; !dup {
			send[id] = struct{}{}
			uniq = append(uniq, id)
		}
	}
	ps, err := r.openPacks()
	if err != nil {
		return nil, err
	}
	ps.storedOrder(uniq)
	out, err := newPackStream(w, len(uniq))
	if err != nil {
		return nil, err
	}
	res := &PackOut{entries: make([]packEntry, 0, len(uniq))}
	windows := map[*packFile]*readWindow{}
	layouts := map[*packFile]*packLayout{}
	layout := func(p *packFile) (*packLayout, error) {
		if l, ok := layouts[p]; ok {
			return l, nil
		}
		l, err := newPackLayout(p)
		if err != nil {
			return nil, err
		}
		layouts[p] = l
		return l, nil
	}
	crc := crc32.NewIEEE()
	for _, id := range uniq {
		start := out.N
		crc.Reset()
		copied, err := r.copyEntry(io.MultiWriter(out, crc), ps, id, send, layout, windows)
		if err != nil {
			return nil, err
		}
		if copied {
			res.Copied++
		}
		res.entries = append(res.entries, packEntry{id: id, offset: start, crc: crc.Sum32()})
		if progress != nil {
			progress(len(res.entries), out.N)
		}
	}
	sum, err := out.finish()
	if err != nil {
		return nil, err
	}
	res.Checksum, res.Objects, res.Size = sum, len(uniq), out.N+20
	sort.Slice(res.entries, func(i, j int) bool { return bytes.Compare(res.entries[i].id[:], res.entries[j].id[:]) < 0 })
	return res, nil
}

// storedOrder sorts ids in the order they are stored (pack by pack, by
// offset), objects not in a pack last, so that a pack written in that
// order reads the packs front to back through a window rather than with a
// system call per object. (A pack's order does not matter to its readers.)
func (ps *packSet) storedOrder(ids []ID) {
	type place struct {
		pack int
		off  int64
	}
	packNo := map[*packFile]int{}
	for i, p := range ps.packs {
		packNo[p] = i
	}
	where := make(map[ID]place, len(ids))
	for _, id := range ids {
		if p, off, ok := ps.find(id); ok {
			where[id] = place{packNo[p], off}
		} else {
			where[id] = place{len(ps.packs), 0}
		}
	}
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := where[ids[i]], where[ids[j]]
		if a.pack != b.pack {
			return a.pack < b.pack
		}
		return a.off < b.off
	})
}

// copyEntry writes the pack entry of id to w, reusing the stored entry when
// it can. It reports whether it did.
func (r *Repository) copyEntry(w io.Writer, ps *packSet, id ID, send map[ID]struct{}, layout func(*packFile) (*packLayout, error), windows map[*packFile]*readWindow) (bool, error) {
	p, off, ok := ps.find(id)
	if ok {
		l, err := layout(p)
		if err != nil {
			return false, err
		}
		end, want, ok := l.bounds(off, id)
		if !ok {
			return false, fmt.Errorf("%w: object %s in %s: entry not found in the index", ErrCorrupt, id, p.name)
		}
		win := windows[p]
		if win == nil {
			win = &readWindow{f: p.f}
			windows[p] = win
		}
		raw, err := win.read(off, end)
		if err != nil {
			return false, fmt.Errorf("%w: object %s in %s: %v", ErrCorrupt, id, p.name, err)
		}
		e, err := parseHeader(raw, off)
		if err != nil {
			return false, fmt.Errorf("%w: object %s in %s: %v", ErrCorrupt, id, p.name, err)
		}
		reuse := false
		var head []byte
		switch {
		case e.typ <= 4:
			reuse = true
		case e.typ == typeRefDelta:
			_, reuse = send[e.base]
		case e.typ == typeOfsDelta:
			if base, found := l.idAt(e.baseOff); found {
				if _, ok := send[base]; ok {
					// The same delta, naming its base by id.
					reuse = true
					head = entryHeader(typeRefDelta, e.size)
					head = append(head, base[:]...)
				}
			}
		}
		if reuse {
			if crc32.ChecksumIEEE(raw) != want {
				return false, fmt.Errorf("%w: object %s in %s: entry does not match its CRC", ErrCorrupt, id, p.name)
			}
			if head != nil {
				raw = append(head, raw[e.dataOff-off:]...)
			}
			// raw is the window's memory: written before the window moves.
			_, err = w.Write(raw)
			return true, err
		}
	}
	k, data, err := r.Read(id)
	if err != nil {
		return false, err
	}
	_, err = w.Write(encodeEntry(k, data, DefaultCompression))
	return false, err
}

// readWindow reads a file front to back through a large buffer.
type readWindow struct {
	f     *os.File
	buf   []byte
	start int64 // file offset of buf[0]
}

const windowSize = 4 << 20

// read returns the bytes [off, end) of the file, valid until the next call.
func (w *readWindow) read(off, end int64) ([]byte, error) {
	if off >= w.start && end <= w.start+int64(len(w.buf)) {
		return w.buf[off-w.start : end-w.start], nil
	}
	n := max(end-off, windowSize)
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	w.buf = w.buf[:n]
	m, err := w.f.ReadAt(w.buf, off)
	if int64(m) < end-off {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		w.buf = w.buf[:0]
		return nil, err
	}
	w.buf, w.start = w.buf[:m], off
	return w.buf[:end-off], nil
}

// entryHeader encodes a pack entry's type and size.
func entryHeader(typ int, size int64) []byte {
	var b []byte
	c := byte(typ)<<4 | byte(size&0x0f)
	size >>= 4
	for size != 0 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(b, c)
}

// packLayout knows where each entry of a pack ends and which object starts
// at an offset, from the pack's index.
type packLayout struct {
	p    *packFile
	offs []int64 // entry offsets, sorted
	ids  []ID    // the object at offs[i]
	crcs []uint32
}

func newPackLayout(p *packFile) (*packLayout, error) {
	entries, err := p.idx.entries()
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].offset < entries[j].offset })
	l := &packLayout{p: p, offs: make([]int64, len(entries)), ids: make([]ID, len(entries)), crcs: make([]uint32, len(entries))}
	for i, e := range entries {
		l.offs[i], l.ids[i], l.crcs[i] = e.offset, e.id, e.crc
	}
	return l, nil
}

// bounds returns where the entry at off ends and its CRC-32.
func (l *packLayout) bounds(off int64, id ID) (end int64, crc uint32, ok bool) {
	i := sort.Search(len(l.offs), func(i int) bool { return l.offs[i] >= off })
	if i == len(l.offs) || l.offs[i] != off || l.ids[i] != id {
		return 0, 0, false
	}
	end = l.p.size - 20
	if i+1 < len(l.offs) {
		end = l.offs[i+1]
	}
	if end <= off {
		return 0, 0, false
	}
	return end, l.crcs[i], true
}

// idAt returns the object whose entry starts at off.
func (l *packLayout) idAt(off int64) (ID, bool) {
	i := sort.Search(len(l.offs), func(i int) bool { return l.offs[i] >= off })
	if i == len(l.offs) || l.offs[i] != off {
		return ID{}, false
	}
	return l.ids[i], true
}

// packStream writes a pack to dst through a buffer: the header, then the
// entries, counting the bytes (N is where the next entry starts) and hashing
// them for the trailing checksum.
type packStream struct {
	iocount.Writer
	h   hash.Hash
	bw  *bufio.Writer
	dst io.Writer
}

// newPackStream starts a pack of count objects on dst with its header.
func newPackStream(dst io.Writer, count int) (*packStream, error) {
	h := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(dst, h), copyBuffer)
	s := &packStream{Writer: iocount.Writer{W: bw}, h: h, bw: bw, dst: dst}
	hdr := []byte{'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[8:], uint32(count))
	_, err := s.Write(hdr)
	return s, err
}

// finish flushes the entries and appends the pack's checksum, which it
// returns; the pack is then N+20 bytes long.
func (s *packStream) finish() (ID, error) {
	var sum ID
	if err := s.bw.Flush(); err != nil {
		return sum, err
	}
	s.h.Sum(sum[:0])
	_, err := s.dst.Write(sum[:])
	return sum, err
}

// errThinPack means a received pack has deltas against objects it does not
// hold.
var errThinPack = errors.New("pack has deltas against objects it does not hold (a thin pack)")
