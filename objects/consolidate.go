package objects

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// Packs are merged so that successive versions of a tree or blob can be
// stored as deltas. Git (and go-git) only resolve a delta against a base in
// the same pack, so a writer may absorb the repository's small packs
// (PlanMerge, PackWriter.Absorb): it copies their entries, byte for byte,
// into the new pack, and stores the previous versions found there as deltas
// against the new ones; its caller then removes them (RemovePacks). Large
// packs (a first full backup) are never rewritten. The entries this package
// writes are REF_DELTA, so copying them needs no rewriting of offsets; packs
// with OFS_DELTA entries (written by git itself) are left alone.

const (
	// consolidateMin is the size under which a pack is always merged into
	// the next one.
	consolidateMin = 32 << 20
	// consolidateShare: packs smaller than this share of all pack bytes are
	// merged too.
	consolidateShare = 10
	// maxDepth bounds delta chains, so reading the newest version of an
	// object applies at most this many deltas.
	maxDepth = 50
	// typeRefDelta is the pack entry type of a delta naming its base by id.
	typeRefDelta = 7
	typeOfsDelta = 6
)

// smallPack is a pack being merged into a new one.
type smallPack struct {
	name    string // pack-<sha1>
	f       *os.File
	size    int64 // bytes before the trailing checksum
	x       *packIndex
	entries []idxEntry // in pack order; read by analyze
	first   int        // the slot of its first object in the Merge's chains
}

// Merge is a choice of packs for a new pack to absorb (see PlanMerge and
// PackWriter.Absorb).
type Merge struct {
	packs    []*smallPack
	analyzed bool
	// chains has a slot per object of the packs (pack after pack, each in
	// the order of its index): 8 bytes an object, where maps by id took
	// about 150 (the small packs of a million-resource repository after
	// ten churn backups hold about 100,000 objects).
	chains []chainSlot
}

// chainSlot is what analyze finds of one copied object: the slot of the
// base of its delta, and how deep it is and how long the chains of copied
// deltas resting on it are.
type chainSlot struct {
	base   int32  // slot of its base; noBase (whole), outsideBase (a base not copied)
	depth  uint16 // delta chain length (0: whole)
	height uint16 // longest chain of copied deltas that rests on it
}

const (
	noBase      = -1
	outsideBase = -2
	// maxChain bounds the chains analyze follows (a cycle in damaged packs).
	maxChain = 1000
)

// slot returns the slot of id: in the first pack that holds it, whose copy
// of it the new pack takes (planCopy).
func (cs *Merge) slot(id ID) (int, bool) {
	for _, p := range cs.packs {
		if k, ok := p.x.pos(id); ok {
			return p.first + k, true
		}
	}
	return 0, false
}

// rebaseable reports whether base is copied whole, with a chain of copied
// deltas resting on it short enough for one more.
func (cs *Merge) rebaseable(base ID) bool {
	k, ok := cs.slot(base)
	return ok && cs.chains[k].depth == 0 && int(cs.chains[k].height)+1 < maxDepth
}

// holds reports whether one of the small packs has id (a search of their
// indexes, which stay mapped: nothing is decoded for it).
func (cs *Merge) holds(id ID) bool {
	for _, p := range cs.packs {
		if _, ok := p.x.find(id); ok {
			return true
		}
	}
	return false
}

// PlanMerge chooses the packs a new pack should absorb: those smaller than
// 32 MiB or a tenth of all pack bytes, whichever is larger, and that can be
// opened. Their indexes are only searched until the merge is certain; their
// entries and entry headers are read then (packs with OFS_DELTA entries are
// left out at that point), so a backup that writes almost nothing (which
// merges nothing) does not pay for reading them. A Merge is used by one
// PackWriter, which closes it.
func (r *Repository) PlanMerge() (*Merge, error) {
	names, err := r.Packs()
	if err != nil {
		return nil, err
	}
	var total int64
	sizes := map[string]int64{}
	for _, n := range names {
		st, err := os.Stat(filepath.Join(r.path, "objects", "pack", n+".pack"))
		if err != nil {
			continue
		}
		sizes[n] = st.Size()
		total += st.Size()
	}
	limit := int64(consolidateMin)
	if share := total / consolidateShare; share > limit {
		limit = share
	}
	cs := &Merge{}
	for _, n := range names {
		size, ok := sizes[n]
		if !ok || size >= limit {
			continue
		}
		p, err := r.openSmallPack(n, size)
		if err != nil {
			// A pack we cannot parse is simply not merged.
			continue
		}
		cs.packs = append(cs.packs, p)
	}
	return cs, nil
}

// analyze reads the entry headers of the packs to merge: it leaves out packs
// with OFS_DELTA entries (git's own, whose offsets would need rewriting) and
// computes how deep each copied delta is and how long the chains resting on
// each object are.
func (cs *Merge) analyze() {
	if cs.analyzed {
		return
	}
	cs.analyzed = true
	type delta struct {
		slot int32
		base ID
	}
	var deltas []delta
	kept := cs.packs[:0]
	n := 0
	for _, p := range cs.packs {
		ok := p.load() == nil
		mark := len(deltas)
		for _, e := range p.entries {
			if !ok {
				break
			}
			typ, base, err := p.entryHeader(e.offset)
			k, found := p.x.pos(e.id)
			if err != nil || !found || typ == typeOfsDelta || typ < 1 || typ > typeRefDelta {
				ok = false
				break
			}
			if typ == typeRefDelta {
				deltas = append(deltas, delta{int32(n + k), base})
			}
		}
		if !ok {
			// Not merged: its objects stay where they are.
			p.f.Close()
			deltas = deltas[:mark]
			continue
		}
		p.first = n
		n += p.x.n
		kept = append(kept, p)
	}
	cs.packs = kept
	cs.chains = make([]chainSlot, n)
	for i := range cs.chains {
		cs.chains[i].base = noBase
	}
	for _, d := range deltas {
		b, ok := cs.slot(d.base)
		if !ok {
			b = outsideBase
		}
		cs.chains[d.slot].base = int32(b)
	}
	cs.measureChains()
}

// measureChains computes the depth of every slot, and the height of every
// object a copied delta rests on.
func (cs *Merge) measureChains() {
	c := cs.chains
	for i := range c {
		// The chain below i, up to a slot whose depth is known.
		d, b, steps := 0, int32(i), 0
		for ; b >= 0 && c[b].base != noBase && steps < maxChain; steps++ {
			if c[b].depth > 0 {
				d += int(c[b].depth)
				break
			}
			if c[b].base == outsideBase {
				d++
				break
			}
			d++
			b = c[b].base
		}
		if steps == maxChain {
			d = 0 // a cycle: as if whole
		}
		c[i].depth = uint16(min(d, maxChain))
	}
	for i := range c {
		h := 1
		for b := c[i].base; b >= 0 && h < maxChain; b = c[b].base {
			c[b].height = max(c[b].height, uint16(h))
			h++
		}
	}
}

func (r *Repository) openSmallPack(name string, size int64) (*smallPack, error) {
	x, err := r.index(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(r.path, "objects", "pack", name+".pack"))
	if err != nil {
		return nil, err
	}
	return &smallPack{name: name, f: f, size: size - 20, x: x}, nil
}

// load reads the pack's entries from its index, in pack order.
func (p *smallPack) load() error {
	if p.entries != nil {
		return nil
	}
	entries, err := p.x.entries()
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].offset < entries[j].offset })
	p.entries = entries
	return nil
}

// entryHeader reads the type of the entry at off and, for a REF_DELTA, its
// base.
func (p *smallPack) entryHeader(off int64) (int, ID, error) {
	var buf [32]byte
	n, err := p.f.ReadAt(buf[:], off)
	if n < 2 && err != nil {
		return 0, ID{}, err
	}
	typ := int(buf[0]>>4) & 7
	i := 0
	for buf[i]&0x80 != 0 {
		i++
		if i >= n {
			return 0, ID{}, errors.New("bad entry header")
		}
	}
	i++
	var base ID
	if typ == typeRefDelta {
		if i+20 > n {
			return 0, ID{}, errors.New("short delta header")
		}
		copy(base[:], buf[i:i+20])
	}
	return typ, base, nil
}

// close releases the small packs' files.
func (cs *Merge) close() {
	if cs == nil {
		return
	}
	for _, p := range cs.packs {
		p.f.Close()
	}
}

// copyBuffer is the size of the buffers copying entries between packs.
const copyBuffer = 1 << 20

// copyOp is one entry of a small pack to copy into the new pack: as it is,
// or as the delta in the writer's rewrite.
type copyOp struct {
	p *smallPack
	i int // index in p.entries
}

// planCopy lists the small packs' entries the new pack copies: every object
// not written already, once (from the first small pack that has it), in
// pack order.
func (w *PackWriter) planCopy() []copyOp {
	cs := w.copy
	if cs == nil {
		return nil
	}
	var ops []copyOp
	for _, p := range cs.packs {
		for i, e := range p.entries {
			if k, _ := cs.slot(e.id); k < p.first || w.written.has(w.entries, e.id) {
				continue // written new, or in an earlier small pack
			}
			ops = append(ops, copyOp{p: p, i: i})
		}
	}
	return ops
}

// copyInto appends the planned entries to the pack being finished, writing
// through out (the file, buffered, and the pack's checksum). Entries are
// read in order through a buffer: a small pack is read sequentially, not
// one system call per entry.
func (w *PackWriter) copyInto(ops []copyOp, out io.Writer) error {
	var (
		cur *smallPack
		rd  *bufio.Reader
		pos int64 // offset in cur that rd reads next
	)
	for _, op := range ops {
		p, e := op.p, op.p.entries[op.i]
		if rw := w.rewrite[e.id]; len(rw) > 0 {
			// The previous version of a new object, now stored as a delta
			// against it.
			if _, err := out.Write(rw); err != nil {
				return fmt.Errorf("write pack: %w", err)
			}
			w.entries = append(w.entries, packEntry{id: e.id, offset: w.offset, crc: crc32.ChecksumIEEE(rw)})
			w.offset += int64(len(rw))
			w.stats.CopiedBytes += int64(len(rw))
			continue
		}
		end := p.size
		if op.i+1 < len(p.entries) {
			end = p.entries[op.i+1].offset
		}
		n := end - e.offset
		if n <= 0 || n > 1<<32 {
			return fmt.Errorf("%w: pack %s: entry %s has length %d", ErrCorrupt, p.name, e.id, n)
		}
		switch {
		case p == cur && e.offset == pos:
		case p == cur && e.offset > pos && e.offset-pos <= copyBuffer:
			// Entries skipped: read past them.
			if _, err := rd.Discard(int(e.offset - pos)); err != nil {
				return fmt.Errorf("copy from pack %s: %w", p.name, err)
			}
		default:
			if rd == nil {
				rd = bufio.NewReaderSize(nil, copyBuffer)
			}
			rd.Reset(io.NewSectionReader(p.f, e.offset, p.size-e.offset))
		}
		cur, pos = p, e.offset
		// Through the buffers, never the entry whole (a large folder's
		// tree is tens of megabytes).
		if err := copyEntry(out, rd, n); err != nil {
			return fmt.Errorf("copy from pack %s: %w", p.name, err)
		}
		pos += n
		w.entries = append(w.entries, packEntry{id: e.id, offset: w.offset, crc: e.crc})
		w.offset += n
		w.stats.CopiedBytes += n
	}
	return nil
}

// copyEntry copies n bytes from rd to out.
func copyEntry(out io.Writer, rd *bufio.Reader, n int64) error {
	for n > 0 {
		b, err := rd.Peek(int(min(n, copyBuffer)))
		if len(b) == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("write pack: %w", err)
		}
		rd.Discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// RemovePacks deletes packs whose objects another pack holds now: the
// packs a committed PackWriter absorbed (PackStats.Merged), once the new
// pack is referenced. Each pack goes first, then its index: readers only
// look for .pack files, and a reader that had already listed a removed pack
// finds its objects again after reindexing (see Read).
func (r *Repository) RemovePacks(names []string) {
	if len(names) == 0 {
		return
	}
	dir := filepath.Join(r.path, "objects", "pack")
	for _, n := range names {
		os.Remove(filepath.Join(dir, n+".pack"))
		os.Remove(filepath.Join(dir, n+".idx"))
	}
	syncDir(dir)
	r.reindex()
}

// rebase stores base, the previous version of data, as a delta against
// data (git's order: the newest version whole, older ones as deltas, so the
// snapshot read most often costs one inflate). It does so only if the new
// pack copies base, base is whole, the chain resting on it stays under
// maxDepth, and the delta is worth it.
func (w *PackWriter) rebase(k Kind, base, id ID, data []byte) {
	if w.copy == nil || base.IsZero() || base == id || len(data) < 256 {
		return
	}
	w.mu.Lock()
	w.copy.analyze()
	ok := w.copy.rebaseable(base) && w.rewrite[base] == nil
	if ok {
		w.rewrite[base] = []byte{} // claimed
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	entry := w.baseDelta(k, base, id, data)
	w.mu.Lock()
	if entry != nil {
		w.rewrite[base] = entry
	} else {
		delete(w.rewrite, base)
	}
	w.mu.Unlock()
}

// baseDelta returns the entry storing base as a delta against data (the
// object id), or nil if that delta is not worth it. A tree base, often a
// flat folder of hundreds of thousands of entries, is read from its small
// pack as a stream, entry by entry (Merge.treeDelta): neither it nor the
// tree the delta rebuilds is ever held whole. Anything else, or a tree
// that does not parse, is read whole (diffDelta).
func (w *PackWriter) baseDelta(k Kind, base, id ID, data []byte) []byte {
	var delta []byte
	size := 0
	if k == KindTree {
		delta, size = w.copy.treeDelta(base, data)
	}
	if delta == nil {
		_, old, err := w.repo.Read(base)
		if err != nil {
			return nil
		}
		delta, size = diffDelta(k, data, old), len(old)
	}
	if size < 64 || len(delta) >= size/2 {
		return nil
	}
	return encodeDeltaEntry(id, delta, w.level)
}

// treeDelta returns a delta that rebuilds tree base, which one of the
// packs holds whole, from src, and base's size; nil if base is not a whole
// tree there or does not parse. base is inflated as the delta is built,
// and the delta checked by hashing what it makes (deltaMakes): the memory
// is the delta and a buffer, whatever the size of the trees.
func (cs *Merge) treeDelta(base ID, src []byte) ([]byte, int) {
	for _, p := range cs.packs {
		off, ok := p.x.find(base)
		if !ok {
			continue
		}
		pf := &packFile{name: p.name, f: p.f, size: p.size + 20, idx: p.x}
		pr := pf.reader(off)
		defer putReader(pr)
		e, err := pf.entryAt(pr, off)
		if err != nil || e.typ != int(KindTree) || e.size > maxObjectSize {
			return nil, 0
		}
		zr, err := getZlibReader(pr.br)
		if err != nil {
			return nil, 0
		}
		defer zlibReaders.Put(zr)
		c := &streamCursor{r: bufio.NewReaderSize(zr, treeStreamBuffer), size: int(e.size)}
		delta, ok := buildTreeDelta(src, c, c.size)
		if !ok || !deltaMakes(KindTree, src, delta, base) {
			return nil, 0
		}
		return delta, c.size
	}
	return nil, 0
}

// treeStreamBuffer is the buffer of a tree read as a stream: an entry
// whose name is longer fails the stream (the tree is then read whole).
const treeStreamBuffer = 16 << 10

// diffDelta returns a delta that rebuilds target from src, objects of kind
// k. Trees are matched entry by entry (treeDelta), and the result checked;
// anything else, or a tree that does not parse, goes through go-git's
// general-purpose DiffDelta.
func diffDelta(k Kind, src, target []byte) []byte {
	if k == KindTree {
		if d, ok := treeDelta(src, target); ok {
			if deltaRebuilds(src, d, target) {
				return d
			}
		}
	}
	return packfile.DiffDelta(src, target)
}

// WriteDelta is Write with a hint: base is an earlier version of the same
// object (the tree or blob at the same path in the previous snapshot). The
// new object is stored whole; if this pack will hold base, base is stored as
// a delta against it.
func (w *PackWriter) WriteDelta(k Kind, data []byte, base ID) (ID, bool, error) {
	id := HashObject(k, data)
	if ok, err := w.claim(id); !ok {
		return id, false, err
	}
	w.rebase(k, base, id, data)
	return id, true, w.compressNew(id, k, data)
}

// compressNew compresses and appends the new object id, claimed.
func (w *PackWriter) compressNew(id ID, k Kind, data []byte) error {
	if len(data) >= streamEntry {
		return w.appendStream(id, k, data, w.levelFor(k))
	}
	b := w.encode(k, data, w.levelFor(k))
	defer w.release(b)
	return w.append(id, b.Bytes(), int64(len(data)))
}

// claim reserves id for a write of this writer: false when the object is
// already written or being written, in the repository, or in a pack being
// absorbed (copied with it at Commit), and then the writer's error if it
// failed.
func (w *PackWriter) claim(id ID) (bool, error) {
	if w.inCopy(id) {
		w.skip()
		return false, nil
	}
	if !w.reserve(id) {
		return false, w.failure()
	}
	if w.has(id) {
		w.unreserve(id)
		return false, nil
	}
	return true, nil
}

func (w *PackWriter) inCopy(id ID) bool {
	if w.copy == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.copy.holds(id)
}

// encodeDeltaEntry returns a REF_DELTA pack entry.
func encodeDeltaEntry(base ID, delta []byte, level int) []byte {
	e := encodeEntry(Kind(typeRefDelta), delta, level)
	// encodeEntry wrote header+zlib; splice the base id after the header.
	i := 0
	for e[i]&0x80 != 0 {
		i++
	}
	i++
	out := make([]byte, 0, len(e)+20)
	out = append(out, e[:i]...)
	out = append(out, base[:]...)
	return append(out, e[i:]...)
}
