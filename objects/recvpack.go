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
	"github.com/kylin-tools/metastore/objects/internal/iocount"
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
	dir, f, err := r.createTempPack("receive pack")
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum, size, err := receivePackFile(f, rd, progress)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return &Received{}, nil
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
	if err := installPack(f, out, base); err != nil {
		return nil, err
	}
	keep = true
	syncDir(dir)
	r.reindex()
	return rc, nil
}

// receivePackFile copies the pack rd carries into f, checks its trailing
// checksum and syncs it; it returns the checksum and the pack's size (0 for
// an empty stream, which is no error).
func receivePackFile(f *os.File, rd io.Reader, progress func(int64)) (ID, int64, error) {
	hw := &holdback{h: sha1.New()}
	cw := &iocount.Writer{W: io.MultiWriter(f, hw)}
	var src io.Reader = rd
	if progress != nil {
		src = &iocount.Reader{R: rd, Progress: progress}
	}
	var sum ID
	if _, err := io.CopyBuffer(cw, src, make([]byte, copyBuffer)); err != nil {
		return sum, 0, fmt.Errorf("receive pack: %w", err)
	}
	size := cw.N
	if size == 0 {
		return sum, 0, nil
	}
	if size < 32 {
		return sum, 0, fmt.Errorf("%w: received pack is %d bytes long", ErrCorrupt, size)
	}
	hw.h.Sum(sum[:0])
	if !bytes.Equal(sum[:], hw.tail[:]) {
		return sum, 0, fmt.Errorf("%w: received pack does not match its checksum (truncated or damaged in transit)", ErrCorrupt)
	}
	if err := f.Sync(); err != nil {
		return sum, 0, fmt.Errorf("receive pack: %w", err)
	}
	return sum, size, nil
}

// installPack writes out's index beside the pack file f (synced) and
// renames both to base.idx and base.pack, closing f. On an error the index
// is removed; f is left for the caller to remove.
func installPack(f *os.File, out *PackOut, base string) error {
	xf, err := os.CreateTemp(filepath.Dir(base), tmpIdxPrefix)
	if err != nil {
		return err
	}
	if err := out.WriteIndex(xf); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return fmt.Errorf("write pack index: %w", err)
	}
	if err := xf.Sync(); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return fmt.Errorf("write pack index: %w", err)
	}
	xf.Close()
	if err := f.Close(); err != nil {
		os.Remove(xf.Name())
		return err
	}
	// Index first, as PackWriter does: readers look for .pack files.
	if err := os.Rename(xf.Name(), base+".idx"); err != nil {
		os.Remove(xf.Name())
		return err
	}
	if err := os.Rename(f.Name(), base+".pack"); err != nil {
		os.Remove(base + ".idx")
		return err
	}
	return nil
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

// indexPack reads the pack in f (size bytes, checksum verified) and returns
// its entries with their object ids, resolving every delta.
func indexPack(f *os.File, size int64) ([]*rawEntry, error) {
	count, err := readPackHeader(f, size)
	if err != nil {
		return nil, err
	}
	entries, err := scanEntries(f, size, count)
	if err != nil {
		return nil, err
	}
	if err := entryCRCs(f, entries); err != nil {
		return nil, err
	}
	if err := resolveDeltas(f, entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// readPackHeader checks the header of the pack in f (size bytes) and
// returns the number of entries it claims.
func readPackHeader(f *os.File, size int64) (int64, error) {
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, err
	}
	if string(hdr[:4]) != "PACK" {
		return 0, errors.New("not a pack")
	}
	if v := binary.BigEndian.Uint32(hdr[4:]); v != 2 && v != 3 {
		return 0, fmt.Errorf("pack version %d", v)
	}
	count := int64(binary.BigEndian.Uint32(hdr[8:]))
	// Every entry takes at least two bytes.
	if count > (size-32)/2+1 {
		return 0, fmt.Errorf("pack claims %d objects in %d bytes", count, size)
	}
	return count, nil
}

// scanEntries reads the count entries of the pack in f one after the other,
// inflating each (a whole object is hashed; a delta only checked), and
// returns them in pack order with their extents.
func scanEntries(f *os.File, size, count int64) ([]*rawEntry, error) {
	// zlib is given the bufio.Reader itself (flate decodes fastest from
	// one, and reads no further than its stream from an io.ByteReader);
	// the position is what went into the buffer less what is still in it.
	cr := &iocount.Reader{R: io.NewSectionReader(f, 12, size-32), N: 12}
	br := bufio.NewReaderSize(cr, copyBuffer)
	pos := func() int64 { return cr.N - int64(br.Buffered()) }
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
		if zr, err = resetZlib(zr, br); err != nil {
			return nil, fmt.Errorf("entry at %d: %w", e.offset, err)
		}
		if err := inflateEntry(zr, e); err != nil {
			return nil, fmt.Errorf("entry at %d: %w", e.offset, err)
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
	return entries, nil
}

// resetZlib returns zr reset to read a zlib stream from br, or a new reader
// if zr is nil.
func resetZlib(zr io.ReadCloser, br *bufio.Reader) (io.ReadCloser, error) {
	if zr == nil {
		return zlib.NewReader(br)
	}
	return zr, zr.(zlib.Resetter).Reset(br, nil)
}

// inflateEntry reads e's zlib stream from zr to its end: a whole object is
// hashed (e's kind and id are then known), a delta only inflated. The
// stream must hold exactly e.size bytes.
func inflateEntry(zr io.Reader, e *rawEntry) error {
	if e.typ <= 4 {
		data := make([]byte, e.size)
		if _, err := io.ReadFull(zr, data); err != nil {
			return fmt.Errorf("inflate: %w", err)
		}
		e.kind = Kind(e.typ)
		e.id = HashObject(e.kind, data)
		e.done = true
	} else if n, err := io.CopyN(io.Discard, zr, e.size); err != nil || n != e.size {
		return fmt.Errorf("inflate: %v", err)
	}
	// The rest of the stream: its checksum, and no extra bytes.
	var one [1]byte
	if n, err := io.ReadFull(zr, one[:]); n != 0 || err != io.EOF {
		return errors.New("content longer than its header says, or damaged")
	}
	return nil
}

// entryCRCs sets each entry's CRC-32, for the index, over its bytes as
// stored in f.
func entryCRCs(f *os.File, entries []*rawEntry) error {
	buf := make([]byte, copyBuffer)
	for _, e := range entries {
		crc := uint32(0)
		for off := e.offset; off < e.end; {
			n := min(int64(len(buf)), e.end-off)
			if _, err := f.ReadAt(buf[:n], off); err != nil {
				return err
			}
			crc = crc32.Update(crc, crc32.IEEETable, buf[:n])
			off += n
		}
		e.crc = crc
	}
	return nil
}

// deltaResolver applies the deltas of a pack from their bases down.
type deltaResolver struct {
	pf      *packFile
	ofsKids map[int64][]*rawEntry // deltas by the offset of their base
	refKids map[ID][]*rawEntry    // deltas by the id of their base
}

// resolveDeltas gives every delta among entries (of the pack in f) its kind
// and id, applying it to its base; a delta whose base the pack does not
// hold is an error (errThinPack).
func resolveDeltas(f *os.File, entries []*rawEntry) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	dr := &deltaResolver{pf: &packFile{f: f, size: st.Size()}, ofsKids: map[int64][]*rawEntry{}, refKids: map[ID][]*rawEntry{}}
	for _, e := range entries {
		switch e.typ {
		case typeOfsDelta:
			dr.ofsKids[e.baseOff] = append(dr.ofsKids[e.baseOff], e)
		case typeRefDelta:
			dr.refKids[e.base] = append(dr.refKids[e.base], e)
		}
	}
	for _, e := range entries {
		if e.typ > 4 || (len(dr.ofsKids[e.offset]) == 0 && len(dr.refKids[e.id]) == 0) {
			continue
		}
		data, err := dr.pf.inflate(e.dataOff, e.size)
		if err != nil {
			return fmt.Errorf("entry at %d: %w", e.offset, err)
		}
		if err := dr.resolve(e, data, 0); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if !e.done {
			if e.typ == typeRefDelta {
				return fmt.Errorf("%w: base %s", errThinPack, e.base)
			}
			return fmt.Errorf("entry at %d: delta cannot be resolved", e.offset)
		}
	}
	return nil
}

// resolve applies the deltas whose base is base (its content data), and
// theirs in turn.
func (dr *deltaResolver) resolve(base *rawEntry, data []byte, depth int) error {
	if depth > 4096 {
		return errors.New("delta chain too deep")
	}
	kids := append(dr.ofsKids[base.offset], dr.refKids[base.id]...)
	delete(dr.refKids, base.id)
	for _, k := range kids {
		if k.done {
			continue
		}
		delta, err := dr.pf.inflate(k.dataOff, k.size)
		if err != nil {
			return fmt.Errorf("entry at %d: %w", k.offset, err)
		}
		obj, err := packfile.PatchDelta(data, delta)
		if err != nil {
			return fmt.Errorf("entry at %d: apply delta: %w", k.offset, err)
		}
		k.kind, k.id, k.done = base.kind, HashObject(base.kind, obj), true
		if err := dr.resolve(k, obj, depth+1); err != nil {
			return err
		}
	}
	return nil
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
