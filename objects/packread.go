package objects

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// Packed objects are read here rather than through go-git's storage: go-git
// keeps one lock around its storage, re-hashes every object it resolves from
// a delta chain (with the slower collision-detecting SHA-1) and caches them
// whole, which made reading delta bases the largest cost of an incremental
// backup and the largest use of memory. This reader resolves REF_DELTA and
// OFS_DELTA chains itself, reads packs with ReadAt from any number of
// goroutines, inflates with klauspost/compress, applies deltas into results
// allocated at their size (applyDelta), and caches only a bounded amount of
// delta bases. Loose objects
// still go through go-git.

// maxObjectSize bounds the size a pack entry may claim, so a corrupt header
// cannot make the reader allocate without limit.
const maxObjectSize = 1 << 31

// baseCacheBytes bounds the delta bases kept in memory.
const baseCacheBytes = 48 << 20

// maxCachedBase is the largest delta base the cache keeps any number of.
// Small bases (resources, trees of small folders) are read again and
// again; of larger ones (up to baseCacheBytes/4) it keeps only the last:
// a large tree is the base of one older version of itself, and reading
// versions in turn (verify, history) needs only the last base kept to
// resolve each from the one before. Keeping every one held the 5-9 MB
// trees of moderate folders, 28 MB of verify's 123 MB live heap at a
// million resources with ten snapshots (BENCHMARKS.md).
const maxCachedBase = 1 << 20

type packFile struct {
	name string
	f    *os.File
	size int64 // bytes in the file
	idx  *packIndex
}

type packSet struct {
	packs []*packFile

	mu    sync.Mutex
	cache map[baseKey]*cachedBase
	lru   []baseKey
	bytes int
	large *baseKey // the one base over maxCachedBase kept, if any
}

type baseKey struct {
	pack *packFile
	off  int64
}

type cachedBase struct {
	kind Kind
	data []byte
}

// packSet returns the open packs, opening them on first use.
func (r *Repository) openPacks() (*packSet, error) {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	if r.packs != nil {
		return r.packs, nil
	}
	for try := 0; ; try++ {
		ps, complete, err := r.openPackSet()
		if err != nil {
			return nil, err
		}
		if !complete && try == 0 {
			// A listed pack was merged away (see packIndexes): list again.
			ps.close()
			continue
		}
		// Kept even if incomplete (twice merged away while listing): a
		// read that misses an object lists again (Read, Size).
		r.packs = ps
		return ps, nil
	}
}

// openPackSet opens the packs listed now, leaving out those merged away
// since (complete is then false). The caller holds idxMu.
func (r *Repository) openPackSet() (ps *packSet, complete bool, err error) {
	names, err := r.listPacks()
	if err != nil {
		return nil, false, err
	}
	ps = &packSet{cache: map[baseKey]*cachedBase{}}
	complete = true
	dir := filepath.Join(r.path, "objects", "pack")
	for _, n := range names {
		p, err := r.openPackFile(dir, n)
		if err == nil {
			ps.packs = append(ps.packs, p)
			continue
		}
		if r.vanished(n, err) {
			complete = false
			continue
		}
		ps.close()
		return nil, false, err
	}
	return ps, complete, nil
}

// openPackFile opens pack name with its index. The caller holds idxMu.
func (r *Repository) openPackFile(dir, name string) (*packFile, error) {
	idx, err := r.indexLocked(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, name+".pack"))
	if err != nil {
		return nil, fmt.Errorf("%w: pack %s: %w", ErrCorrupt, name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: pack %s: %w", ErrCorrupt, name, err)
	}
	return &packFile{name: name, f: f, size: st.Size(), idx: idx}, nil
}

func (ps *packSet) close() {
	if ps == nil {
		return
	}
	for _, p := range ps.packs {
		p.f.Close()
	}
}

// find returns the pack and offset of id.
func (ps *packSet) find(id ID) (*packFile, int64, bool) {
	for _, p := range ps.packs {
		if off, ok := p.idx.find(id); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// read returns a packed object; ok is false if no pack holds it.
func (ps *packSet) read(id ID) (Kind, []byte, bool, error) {
	p, off, ok := ps.find(id)
	if !ok {
		return 0, nil, false, nil
	}
	k, data, err := ps.readAt(p, off, 0)
	if err != nil {
		return 0, nil, true, fmt.Errorf("%w: object %s in %s: %v", ErrCorrupt, id, p.name, err)
	}
	return k, data, true, nil
}

// entry is a pack entry's header.
type entry struct {
	typ     int
	size    int64 // inflated size of the content (of the delta, for deltas)
	dataOff int64 // where the zlib stream starts
	base    ID    // REF_DELTA
	baseOff int64 // OFS_DELTA: absolute offset of the base
}

func (p *packFile) header(off int64) (entry, error) {
	var buf [64]byte
	n, err := p.f.ReadAt(buf[:], off)
	if n == 0 && err != nil {
		return entry{}, err
	}
	return parseHeader(buf[:n], off)
}

// parseHeader parses the header of the entry at off from b, its first
// bytes (64 are enough for any header).
func parseHeader(b []byte, off int64) (entry, error) {
	var e entry
	if len(b) == 0 {
		return e, io.ErrUnexpectedEOF
	}
	e.typ = int(b[0]>>4) & 7
	size := int64(b[0] & 0x0f)
	shift := uint(4)
	i := 0
	for b[i]&0x80 != 0 {
		i++
		if i >= len(b) || shift > 35 {
			return e, errors.New("bad entry header")
		}
		size |= int64(b[i]&0x7f) << shift
		shift += 7
	}
	i++
	if size > maxObjectSize {
		return e, fmt.Errorf("entry claims %d bytes", size)
	}
	e.size = size
	switch e.typ {
	case 1, 2, 3, 4:
	case typeRefDelta:
		if i+20 > len(b) {
			return e, io.ErrUnexpectedEOF
		}
		copy(e.base[:], b[i:i+20])
		i += 20
	case typeOfsDelta:
		if i >= len(b) {
			return e, io.ErrUnexpectedEOF
		}
		c := b[i]
		o := int64(c & 0x7f)
		for c&0x80 != 0 {
			i++
			if i >= len(b) || o > 1<<50 {
				return e, errors.New("bad delta offset")
			}
			c = b[i]
			o = ((o + 1) << 7) | int64(c&0x7f)
		}
		i++
		e.baseOff = off - o
		if e.baseOff <= 0 || e.baseOff >= off {
			return e, errors.New("delta base offset out of range")
		}
	default:
		return e, fmt.Errorf("unknown entry type %d", e.typ)
	}
	e.dataOff = off + int64(i)
	return e, nil
}

// zlibReaders reuses decompressors (getZlibReader); put them back when
// done.
var zlibReaders sync.Pool

// getZlibReader returns a pooled zlib reader of r.
func getZlibReader(r io.Reader) (io.ReadCloser, error) {
	zr, _ := zlibReaders.Get().(io.ReadCloser)
	if zr == nil {
		return zlib.NewReader(r)
	}
	if err := zr.(zlib.Resetter).Reset(r, nil); err != nil {
		return nil, err
	}
	return zr, nil
}

// maxDeflateRatio bounds how much deflate can expand its input (1032:1, for
// long runs of one byte).
const maxDeflateRatio = 1032

// Pack reads: an entry is read through a pooled bufio.Reader over a
// chunkReader, whose first read at the entry takes 4 KiB (the header and,
// for most objects, the whole zlib stream: one pread where there were two)
// and whose later reads double up to the reader's 256 KiB (a large tree:
// a few preads where 4 KiB ones took over a hundred). zlib reads a
// *bufio.Reader directly, with its fastest decoding loop, instead of
// wrapping what it is given in a new 4 KiB bufio.Reader of its own.
const (
	firstPackRead = 4 << 10
	packReadBuf   = 256 << 10
)

// chunkReader reads a pack file from an offset on, in growing chunks.
type chunkReader struct {
	f     *os.File
	off   int64
	chunk int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	b = b[:min(len(b), c.chunk)]
	c.chunk = min(2*c.chunk, packReadBuf)
	n, err := c.f.ReadAt(b, c.off)
	c.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

type packReader struct {
	src chunkReader
	br  *bufio.Reader
}

var packReaders = sync.Pool{New: func() any {
	pr := &packReader{}
	pr.br = bufio.NewReaderSize(&pr.src, packReadBuf)
	return pr
}}

// reader returns a pooled reader of the pack from off on; put it back with
// putReader.
func (p *packFile) reader(off int64) *packReader {
	pr := packReaders.Get().(*packReader)
	pr.src = chunkReader{f: p.f, off: off, chunk: firstPackRead}
	pr.br.Reset(&pr.src)
	return pr
}

func putReader(pr *packReader) {
	pr.src.f = nil
	packReaders.Put(pr)
}

// entryAt reads the header of the entry at off from pr, which reads from
// off, and leaves pr at the entry's zlib stream.
func (p *packFile) entryAt(pr *packReader, off int64) (entry, error) {
	b, err := pr.br.Peek(64)
	if len(b) == 0 && err != nil {
		return entry{}, err
	}
	e, err := parseHeader(b, off)
	if err != nil {
		return e, err
	}
	_, err = pr.br.Discard(int(e.dataOff - off))
	return e, err
}

// inflate reads the zlib stream at off, which must inflate to exactly size
// bytes.
func (p *packFile) inflate(off, size int64) ([]byte, error) {
	pr := p.reader(off)
	defer putReader(pr)
	return p.inflateFrom(pr, off, size)
}

// inflateFrom reads the zlib stream at off from pr (which reads from there)
// and checks that it inflates to exactly size bytes. A size the rest of the
// pack could not inflate to is refused before anything is allocated, so a
// damaged header cannot cost gigabytes.
func (p *packFile) inflateFrom(pr *packReader, off, size int64) ([]byte, error) {
	if avail := p.size - off; avail < 0 || size > avail*maxDeflateRatio+64 {
		return nil, fmt.Errorf("entry claims %d bytes, more than the %d bytes left in the pack can hold", size, max(avail, 0))
	}
	zr, err := getZlibReader(pr.br)
	if err != nil {
		return nil, err
	}
	defer zlibReaders.Put(zr)
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	// Read to the end of the stream: that is where zlib checks its
	// checksum, so damaged bytes are an error, not different content.
	var one [1]byte
	n, err := zr.Read(one[:])
	for n == 0 && err == nil {
		n, err = zr.Read(one[:])
	}
	if n != 0 {
		return nil, errors.New("inflated content longer than its header says")
	}
	if err != io.EOF {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	return out, nil
}

// readWhole reads the entry at off if it is a whole object of kind k, and
// returns its content and its zlib stream; ok is false for anything else
// (a delta, another kind, an error: the caller reads the object the usual
// way, which reports errors).
func (p *packFile) readWhole(off int64, k Kind) (data, z []byte, ok bool) {
	pr := p.reader(off)
	defer putReader(pr)
	e, err := p.entryAt(pr, off)
	if err != nil || e.typ != int(k) {
		return nil, nil, false
	}
	// What pr read with the header and has not handed on yet: the start of
	// the stream, and for most entries all of it. It stays as it is unless
	// inflating needs more, which makes the stream longer than it.
	read, _ := pr.br.Peek(pr.br.Buffered())
	data, err = p.inflateFrom(pr, e.dataOff, e.size)
	if err != nil {
		return nil, nil, false
	}
	// zlib read the stream byte by byte from pr.br: what pr read, less
	// what it holds unread, is where the stream ended.
	n := pr.src.off - int64(pr.br.Buffered()) - e.dataOff
	if n < 2 || n > p.size-e.dataOff {
		return nil, nil, false
	}
	if n <= int64(len(read)) {
		return data, bytes.Clone(read[:n]), true // no second read of the file
	}
	z = make([]byte, n)
	if _, err := p.f.ReadAt(z, e.dataOff); err != nil {
		return nil, nil, false
	}
	return data, z, true
}

// readAt resolves the entry at off, following delta chains.
func (ps *packSet) readAt(p *packFile, off int64, depth int) (Kind, []byte, error) {
	if depth > 4096 {
		return 0, nil, errors.New("delta chain too deep (cycle?)")
	}
	if c := ps.cached(p, off); c != nil {
		if depth == 0 {
			// Callers own what Read returns; the cache keeps its copy.
			return c.kind, append([]byte(nil), c.data...), nil
		}
		return c.kind, c.data, nil
	}
	pr := p.reader(off)
	e, err := p.entryAt(pr, off)
	var data []byte
	if err == nil {
		data, err = p.inflateFrom(pr, e.dataOff, e.size)
	}
	putReader(pr)
	if err != nil {
		return 0, nil, err
	}
	if e.typ <= 4 {
		return Kind(e.typ), data, nil
	}
	delta := data
	var bk Kind
	var base []byte
	if e.typ == typeOfsDelta {
		bk, base, err = ps.readAt(p, e.baseOff, depth+1)
	} else {
		bp, boff, ok := p, int64(0), false
		if o, found := p.idx.find(e.base); found {
			boff, ok = o, true
		} else {
			bp, boff, ok = ps.find(e.base)
		}
		if !ok {
			return 0, nil, fmt.Errorf("delta base %s missing", e.base)
		}
		bk, base, err = ps.readAt(bp, boff, depth+1)
		p = bp
		if err == nil {
			ps.remember(bp, boff, bk, base)
		}
	}
	if err != nil {
		return 0, nil, err
	}
	if e.typ == typeOfsDelta {
		ps.remember(p, e.baseOff, bk, base)
	}
	data, err = applyDelta(base, delta)
	if err != nil {
		return 0, nil, fmt.Errorf("apply delta: %w", err)
	}
	return bk, data, nil
}

// errBadDelta is the error of a delta that cannot apply to its base.
var errBadDelta = errors.New("invalid delta")

// applyDelta applies a git delta to base, into a result allocated at its
// final size (go-git's PatchDelta grows a buffer from 64 KiB, copying and
// clearing a large tree's bytes several times). The allocation is bounded
// by what base and delta can make, however large a size a corrupt delta
// claims.
func applyDelta(base, delta []byte) ([]byte, error) {
	size, ops, err := deltaHeader(base, delta)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, min(size, 2*len(base)+len(delta)))
	err = deltaPieces(base, ops, size, func(p []byte) bool {
		out = append(out, p...)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deltaRebuilds reports whether delta applied to base makes target, as
// comparing applyDelta's result with target would, without making it (the
// tree of a flat folder of 300,000 jobs is 20 MB).
func deltaRebuilds(base, delta, target []byte) bool {
	size, ops, err := deltaHeader(base, delta)
	if err != nil || size != len(target) {
		return false
	}
	pos := 0
	return deltaPieces(base, ops, size, func(p []byte) bool {
		same := bytes.Equal(p, target[pos:pos+len(p)])
		pos += len(p)
		return same
	}) == nil
}

// walkDelta checks a git delta against base and calls start with the size
// of its result, then part with each piece of the result in order (slices
// of base or of delta, not to be kept). It returns the result's size, or
// errBadDelta if the delta does not apply to base.
func walkDelta(base, delta []byte, start func(size int), part func([]byte)) (int, error) {
	size, ops, err := deltaHeader(base, delta)
	if err != nil {
		return 0, err
	}
	start(size)
	if err := deltaPieces(base, ops, size, func(p []byte) bool { part(p); return true }); err != nil {
		return 0, err
	}
	return size, nil
}

// deltaMakes reports whether delta, applied to base, rebuilds the object
// of kind k named want. It hashes the result as the delta makes it,
// instead of building it: checking the delta of a large tree costs no
// copy of the tree.
func deltaMakes(k Kind, base, delta []byte, want ID) bool {
	h := sha1.New()
	_, err := walkDelta(base, delta, func(size int) { writeObjectHeader(h, k, size) },
		func(b []byte) { h.Write(b) })
	var got ID
	h.Sum(got[:0])
	return err == nil && got == want
}

// deltaHeader checks that a git delta is for base and returns the size of
// its result and its instructions.
func deltaHeader(base, delta []byte) (size int, ops []byte, err error) {
	leb := func() (int, bool) {
		var n, shift uint
		for i, c := range delta {
			if shift > 56 {
				return 0, false
			}
			n |= uint(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				delta = delta[i+1:]
				return int(n), n <= 1<<62
			}
		}
		return 0, false
	}
	srcSize, ok := leb()
	if !ok || srcSize != len(base) {
		return 0, nil, errBadDelta
	}
	if size, ok = leb(); !ok {
		return 0, nil, errBadDelta
	}
	return size, delta, nil
}

// deltaPieces hands the pieces of a delta's result (slices of base and of
// the instructions ops), in order, to emit, which stops it by returning
// false. It returns errBadDelta if the instructions do not fit base, do not
// make exactly size bytes, or emit stopped.
func deltaPieces(base, ops []byte, size int, emit func(piece []byte) bool) error {
	made := 0
	for len(ops) > 0 {
		cmd := ops[0]
		ops = ops[1:]
		var piece []byte
		switch {
		case cmd&0x80 != 0: // copy from base: offset and size, little-endian, the bytes present as flagged
			var v [7]uint
			for i := range v {
				if cmd&(1<<i) != 0 {
					if len(ops) == 0 {
						return errBadDelta
					}
					v[i], ops = uint(ops[0]), ops[1:]
				}
			}
			off := v[0] | v[1]<<8 | v[2]<<16 | v[3]<<24
			n := v[4] | v[5]<<8 | v[6]<<16
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint(len(base)) {
				return errBadDelta
			}
			piece = base[off : off+n]
		case cmd != 0: // insert the next cmd bytes
			if int(cmd) > len(ops) {
				return errBadDelta
			}
			piece, ops = ops[:cmd], ops[cmd:]
		default:
			return errBadDelta
		}
		if made+len(piece) > size || !emit(piece) {
			return errBadDelta
		}
		made += len(piece)
	}
	if made != size {
		return errBadDelta
	}
	return nil
}

func (ps *packSet) cached(p *packFile, off int64) *cachedBase {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.cache[baseKey{p, off}]
}

// remember keeps a delta base, evicting the oldest beyond baseCacheBytes.
func (ps *packSet) remember(p *packFile, off int64, k Kind, data []byte) {
	if len(data) > baseCacheBytes/4 {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	key := baseKey{p, off}
	if _, ok := ps.cache[key]; ok {
		return
	}
	if len(data) > maxCachedBase {
		if ps.large != nil {
			ps.forget(*ps.large)
		}
		ps.large = &key
	}
	ps.cache[key] = &cachedBase{kind: k, data: data}
	ps.lru = append(ps.lru, key)
	ps.bytes += len(data)
	for ps.bytes > baseCacheBytes && len(ps.lru) > 0 {
		old := ps.lru[0]
		ps.lru = ps.lru[1:]
		ps.forget(old)
	}
}

// forget drops a cached base, if kept. The caller holds mu.
func (ps *packSet) forget(key baseKey) {
	if c, ok := ps.cache[key]; ok {
		ps.bytes -= len(c.data)
		delete(ps.cache, key)
	}
}

// size returns the size of a packed object without inflating it whole.
func (ps *packSet) size(id ID) (int64, bool, error) {
	p, off, ok := ps.find(id)
	if !ok {
		return 0, false, nil
	}
	e, err := p.header(off)
	if err != nil {
		return 0, true, fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, err)
	}
	if e.typ <= 4 {
		return e.size, true, nil
	}
	// A delta starts with the base's size and the result's size.
	head, err := p.inflatePrefix(e.dataOff, 32)
	if err != nil {
		return 0, true, fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, err)
	}
	r := bytes.NewReader(head)
	if _, err := readLEB(r); err != nil {
		return 0, true, fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, err)
	}
	n, err := readLEB(r)
	if err != nil {
		return 0, true, fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, err)
	}
	return int64(n), true, nil
}

func (p *packFile) inflatePrefix(off int64, n int) ([]byte, error) {
	zr, err := zlib.NewReader(io.NewSectionReader(p.f, off, 1<<62))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(zr, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return buf[:m], nil
}

func readLEB(r io.ByteReader) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("bad delta size")
}
