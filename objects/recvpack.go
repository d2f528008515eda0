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
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/klauspost/compress/zlib"
)

// Received describes a pack stored by ReceivePack.
type Received struct {
	// Name is the pack's base name (pack-<checksum>); empty when the
	// stream held no objects and nothing was stored.
	Name string
	// Objects counts its objects; Size is its length in bytes.
	Objects int
	Size    int64

	ids map[ID]Kind
}

// Holds reports whether the pack holds object id.
func (rc *Received) Holds(id ID) bool {
	_, ok := rc.ids[id]
	return ok
}

// IDs returns the objects the pack holds, with their kinds.
func (rc *Received) IDs() map[ID]Kind { return rc.ids }

// ReceivePack reads a pack (as git's pack protocol carries it, up to the end
// of rd) and stores it in the repository with an index it computes itself,
// as git's index-pack does: the trailing checksum, every entry's zlib stream
// and every delta are checked, and every object is hashed from its
// content. A pack whose deltas refer to objects it does not hold (a thin
// pack) is refused. The pack and its index become visible together, and only
// when all of it is sound; otherwise nothing is left behind. Writers hold the
// repository Lock. progress, if not nil, receives the bytes read so far.
func (r *Repository) ReceivePack(rd io.Reader, progress func(int64)) (*Received, error) {
	dir := filepath.Join(r.path, "objects", "pack")
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, tmpPackPrefix)
	if err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	hw := &holdback{h: sha1.New()}
	cw := &packCounter{w: io.MultiWriter(f, hw)}
	var src io.Reader = rd
	if progress != nil {
		src = &progressReader{r: rd, fn: progress}
	}
	if _, err := io.CopyBuffer(cw, src, make([]byte, copyBuffer)); err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	size := cw.n
	if size == 0 {
		return &Received{}, nil
	}
	if size < 32 {
		return nil, fmt.Errorf("%w: received pack is %d bytes long", ErrCorrupt, size)
	}
	var sum ID
	hw.h.Sum(sum[:0])
	if !bytes.Equal(sum[:], hw.tail[:]) {
		return nil, fmt.Errorf("%w: received pack does not match its checksum (truncated or damaged in transit)", ErrCorrupt)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("receive pack: %w", err)
	}
	entries, err := indexPack(f, size)
	if err != nil {
		return nil, fmt.Errorf("%w: received pack: %v", ErrCorrupt, err)
	}
	rc := &Received{Objects: len(entries), Size: size, ids: make(map[ID]Kind, len(entries))}
	if len(entries) == 0 {
		return rc, nil
	}
	out := &PackOut{Checksum: sum, Objects: len(entries), Size: size}
	for _, e := range entries {
		rc.ids[e.id] = e.kind
		out.entries = append(out.entries, packEntry{id: e.id, offset: e.offset, crc: e.crc})
	}
	sort.Slice(out.entries, func(i, j int) bool { return bytes.Compare(out.entries[i].id[:], out.entries[j].id[:]) < 0 })
	for i := 1; i < len(out.entries); i++ {
		if out.entries[i].id == out.entries[i-1].id {
			return nil, fmt.Errorf("%w: received pack holds object %s twice", ErrCorrupt, out.entries[i].id)
		}
	}
	rc.Name = out.Name()
	base := filepath.Join(dir, rc.Name)
	if _, err := os.Stat(base + ".pack"); err == nil {
		// The same pack (it is named by its content) is already here.
		return rc, nil
	}
	xf, err := os.CreateTemp(dir, tmpIdxPrefix)
	if err != nil {
		return nil, err
	}
	if err := out.WriteIndex(xf); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return nil, fmt.Errorf("write pack index: %w", err)
	}
	if err := xf.Sync(); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return nil, fmt.Errorf("write pack index: %w", err)
	}
	xf.Close()
	if err := f.Close(); err != nil {
		os.Remove(xf.Name())
		return nil, err
	}
	// Index first, as PackWriter does: readers look for .pack files.
	if err := os.Rename(xf.Name(), base+".idx"); err != nil {
		os.Remove(xf.Name())
		return nil, err
	}
	if err := os.Rename(f.Name(), base+".pack"); err != nil {
		os.Remove(base + ".idx")
		return nil, err
	}
	keep = true
	syncDir(dir)
	r.reindex()
	return rc, nil
}

// holdback hashes everything written to it except the last 20 bytes, which
// it keeps in tail (a pack's trailing checksum).
type holdback struct {
	h    hash.Hash
	tail [20]byte
	n    int // bytes in tail
}

func (w *holdback) Write(p []byte) (int, error) {
	total := len(p)
	if w.n+len(p) <= 20 {
		copy(w.tail[w.n:], p)
		w.n += len(p)
		return total, nil
	}
	// Flush what of tail and p is not among the last 20 bytes.
	over := w.n + len(p) - 20
	fromTail := min(over, w.n)
	w.h.Write(w.tail[:fromTail])
	copy(w.tail[:], w.tail[fromTail:w.n])
	w.n -= fromTail
	over -= fromTail
	w.h.Write(p[:over])
	copy(w.tail[w.n:], p[over:])
	w.n += len(p) - over
	return total, nil
}

type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if n > 0 {
		p.fn(p.n)
	}
	return n, err
}

// rawEntry is an entry found while indexing a pack.
type rawEntry struct {
	offset  int64
	end     int64
	typ     int
	size    int64
	dataOff int64
	base    ID    // REF_DELTA
	baseOff int64 // OFS_DELTA
	crc     uint32
	id      ID
	kind    Kind
	done    bool
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// indexPack reads the pack in f (size bytes, checksum verified) and returns
// its entries with their object ids, resolving every delta.
func indexPack(f *os.File, size int64) ([]*rawEntry, error) {
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:4]) != "PACK" {
		return nil, errors.New("not a pack")
	}
	if v := binary.BigEndian.Uint32(hdr[4:]); v != 2 && v != 3 {
		return nil, fmt.Errorf("pack version %d", v)
	}
	count := int64(binary.BigEndian.Uint32(hdr[8:]))
	// Every entry takes at least two bytes.
	if count > (size-32)/2+1 {
		return nil, fmt.Errorf("pack claims %d objects in %d bytes", count, size)
	}
	// zlib is given the bufio.Reader itself (flate decodes fastest from
	// one, and reads no further than its stream from an io.ByteReader);
	// the position is what went into the buffer less what is still in it.
	cr := &countReader{r: io.NewSectionReader(f, 12, size-32), n: 12}
	br := bufio.NewReaderSize(cr, copyBuffer)
	pos := func() int64 { return cr.n - int64(br.Buffered()) }
	entries := make([]*rawEntry, 0, count)
	byOffset := make(map[int64]*rawEntry, count)
	var zr io.ReadCloser
	for i := int64(0); i < count; i++ {
		e := &rawEntry{offset: pos()}
		if err := readEntryHeader(br, e); err != nil {
			return nil, fmt.Errorf("entry at %d: %w", e.offset, err)
		}
		e.dataOff = pos()
		if e.size > maxObjectSize {
			return nil, fmt.Errorf("entry at %d claims %d bytes", e.offset, e.size)
		}
		var err error
		if zr == nil {
			zr, err = zlib.NewReader(br)
		} else {
			err = zr.(zlib.Resetter).Reset(br, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("entry at %d: %w", e.offset, err)
		}
		if e.typ <= 4 {
			data := make([]byte, e.size)
			if _, err := io.ReadFull(zr, data); err != nil {
				return nil, fmt.Errorf("entry at %d: inflate: %w", e.offset, err)
			}
			e.kind = Kind(e.typ)
			e.id = HashObject(e.kind, data)
			e.done = true
		} else if n, err := io.CopyN(io.Discard, zr, e.size); err != nil || n != e.size {
			return nil, fmt.Errorf("entry at %d: inflate: %v", e.offset, err)
		}
		// The rest of the stream: its checksum, and no extra bytes.
		var one [1]byte
		if n, err := io.ReadFull(zr, one[:]); n != 0 || err != io.EOF {
			return nil, fmt.Errorf("entry at %d: content longer than its header says, or damaged", e.offset)
		}
		e.end = pos()
		if e.typ == typeOfsDelta && byOffset[e.baseOff] == nil {
			return nil, fmt.Errorf("entry at %d: delta base offset %d is not an entry", e.offset, e.baseOff)
		}
		entries = append(entries, e)
		byOffset[e.offset] = e
	}
	if end := pos(); end != size-20 {
		return nil, fmt.Errorf("%d bytes after the last entry", size-20-end)
	}
	// Each entry's CRC-32, for the index, over its bytes as stored.
	buf := make([]byte, copyBuffer)
	for _, e := range entries {
		crc := uint32(0)
		for off := e.offset; off < e.end; {
			n := min(int64(len(buf)), e.end-off)
			if _, err := f.ReadAt(buf[:n], off); err != nil {
				return nil, err
			}
			crc = crc32.Update(crc, crc32.IEEETable, buf[:n])
			off += n
		}
		e.crc = crc
	}

	// Resolve deltas from their bases down.
	st, _ := f.Stat()
	pf := &packFile{f: f, size: st.Size()}
	ofsKids := map[int64][]*rawEntry{}
	refKids := map[ID][]*rawEntry{}
	for _, e := range entries {
		switch e.typ {
		case typeOfsDelta:
			ofsKids[e.baseOff] = append(ofsKids[e.baseOff], e)
		case typeRefDelta:
			refKids[e.base] = append(refKids[e.base], e)
		}
	}
	var resolve func(base *rawEntry, data []byte, depth int) error
	resolve = func(base *rawEntry, data []byte, depth int) error {
		if depth > 4096 {
			return errors.New("delta chain too deep")
		}
		kids := append(ofsKids[base.offset], refKids[base.id]...)
		delete(refKids, base.id)
		for _, k := range kids {
			if k.done {
				continue
			}
			delta, err := pf.inflate(k.dataOff, k.size)
			if err != nil {
				return fmt.Errorf("entry at %d: %w", k.offset, err)
			}
			obj, err := packfile.PatchDelta(data, delta)
			if err != nil {
				return fmt.Errorf("entry at %d: apply delta: %w", k.offset, err)
			}
			k.kind, k.id, k.done = base.kind, HashObject(base.kind, obj), true
			if err := resolve(k, obj, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range entries {
		if e.typ > 4 || (len(ofsKids[e.offset]) == 0 && len(refKids[e.id]) == 0) {
			continue
		}
		data, err := pf.inflate(e.dataOff, e.size)
		if err != nil {
			return nil, fmt.Errorf("entry at %d: %w", e.offset, err)
		}
		if err := resolve(e, data, 0); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		if !e.done {
			if e.typ == typeRefDelta {
				return nil, fmt.Errorf("%w: base %s", errThinPack, e.base)
			}
			return nil, fmt.Errorf("entry at %d: delta cannot be resolved", e.offset)
		}
	}
	return entries, nil
}

// readEntryHeader parses an entry's type and size, and a delta's base.
func readEntryHeader(r io.ByteReader, e *rawEntry) error {
	b, err := r.ReadByte()
	if err != nil {
		return err
	}
	e.typ = int(b>>4) & 7
	size := int64(b & 0x0f)
	shift := uint(4)
	for b&0x80 != 0 {
		if b, err = r.ReadByte(); err != nil {
			return err
		}
		if shift > 56 {
			return errors.New("bad entry header")
		}
		size |= int64(b&0x7f) << shift
		shift += 7
	}
	e.size = size
	switch e.typ {
	case 1, 2, 3, 4:
	case typeRefDelta:
		for i := range e.base {
			if e.base[i], err = r.ReadByte(); err != nil {
				return err
			}
		}
	case typeOfsDelta:
		if b, err = r.ReadByte(); err != nil {
			return err
		}
		o := int64(b & 0x7f)
		for b&0x80 != 0 {
			if b, err = r.ReadByte(); err != nil {
				return err
			}
			if o > 1<<50 {
				return errors.New("bad delta offset")
			}
			o = ((o + 1) << 7) | int64(b&0x7f)
		}
		e.baseOff = e.offset - o
		if e.baseOff <= 0 || e.baseOff >= e.offset {
			return errors.New("delta base offset out of range")
		}
	default:
		return fmt.Errorf("unknown entry type %d", e.typ)
	}
	return nil
}
