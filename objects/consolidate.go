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
}

// Merge is a choice of packs for a new pack to absorb (see PlanMerge and
// PackWriter.Absorb).
type Merge struct {
	packs    []*smallPack
	analyzed bool
	depth    map[ID]int // delta chain length of each copied object (0: whole)
	height   map[ID]int // longest chain of copied deltas that rests on it
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
	cs.depth, cs.height = map[ID]int{}, map[ID]int{}
	bases := map[ID]ID{}
	kept := cs.packs[:0]
	for _, p := range cs.packs {
		ok := p.load() == nil
		local := map[ID]ID{}
		for _, e := range p.entries {
			if !ok {
				break
			}
			typ, base, err := p.entryHeader(e.offset)
			if err != nil || typ == typeOfsDelta || typ < 1 || typ > typeRefDelta {
				ok = false
				break
			}
			if typ == typeRefDelta {
				local[e.id] = base
			}
		}
		if !ok {
			// Not merged: its objects stay where they are.
			p.f.Close()
			continue
		}
		kept = append(kept, p)
		for k, v := range local {
			bases[k] = v
		}
	}
	cs.packs = kept
	// Depths, following bases inside the copied set.
	var depth func(id ID, seen int) int
	depth = func(id ID, seen int) int {
		if d, ok := cs.depth[id]; ok {
			return d
		}
		b, ok := bases[id]
		if !ok || seen > 1000 {
			cs.depth[id] = 0
			return 0
		}
		d := depth(b, seen+1) + 1
		cs.depth[id] = d
		return d
	}
	for _, p := range cs.packs {
		for _, e := range p.entries {
			depth(e.id, 0)
		}
	}
	// Heights: walk each delta's chain down to its whole base.
	for id := range bases {
		h := 1
		for b, ok := bases[id], true; ok && h < 1000; b, ok = bases[b] {
			if cs.height[b] < h {
				cs.height[b] = h
			}
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
// or as the delta in rewrite.
type copyOp struct {
	p       *smallPack
	i       int    // index in p.entries
	rewrite []byte // the entry to write instead; nil: copy as is
}

// planCopy lists the small packs' entries the new pack copies: every object
// not written already, once, in pack order.
func (w *PackWriter) planCopy() []copyOp {
	cs := w.copy
	if cs == nil {
		return nil
	}
	var ops []copyOp
	planned := ObjectSet{}
	for _, p := range cs.packs {
		for i, e := range p.entries {
			if planned.Has(e.id) || w.written.has(w.entries, e.id) {
				continue // written new, or in an earlier small pack
			}
			planned.Add(e.id)
			ops = append(ops, copyOp{p: p, i: i, rewrite: w.rewrite[e.id]})
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
		buf []byte
	)
	for _, op := range ops {
		p, e := op.p, op.p.entries[op.i]
		if op.rewrite != nil {
			// The previous version of a new object, now stored as a delta
			// against it.
			if _, err := out.Write(op.rewrite); err != nil {
				return fmt.Errorf("write pack: %w", err)
			}
			w.entries = append(w.entries, packEntry{id: e.id, offset: w.offset, crc: crc32.ChecksumIEEE(op.rewrite)})
			w.offset += int64(len(op.rewrite))
			w.stats.CopiedBytes += int64(len(op.rewrite))
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
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if _, err := io.ReadFull(rd, b); err != nil {
			return fmt.Errorf("copy from pack %s: %w", p.name, err)
		}
		pos += n
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("write pack: %w", err)
		}
		w.entries = append(w.entries, packEntry{id: e.id, offset: w.offset, crc: e.crc})
		w.offset += n
		w.stats.CopiedBytes += n
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
	_, has := w.copy.depth[base]
	ok := has && w.copy.depth[base] == 0 && w.copy.height[base]+1 < maxDepth && w.rewrite[base] == nil
	if ok {
		w.rewrite[base] = []byte{} // claimed
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	_, old, err := w.repo.Read(base)
	if err == nil && len(old) >= 64 {
		if delta := diffDelta(k, data, old); len(delta) < len(old)/2 {
			entry := encodeDeltaEntry(id, delta, w.level)
			w.mu.Lock()
			w.rewrite[base] = entry
			w.mu.Unlock()
			return
		}
	}
	w.mu.Lock()
	delete(w.rewrite, base)
	w.mu.Unlock()
}

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
	if w.inCopy(id) {
		// Already in a small pack: copied with it at Commit.
		w.skip()
		return id, false, nil
	}
	if !w.reserve(id) {
		return id, false, w.failure()
	}
	if w.has(id) {
		w.unreserve(id)
		return id, false, nil
	}
	w.rebase(k, base, id, data)
	b := w.encode(k, data, w.levelFor(k))
	defer w.release(b)
	return id, true, w.append(id, b.Bytes(), int64(len(data)))
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
