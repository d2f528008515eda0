package objects

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// PackStats counts what a PackWriter wrote.
type PackStats struct {
	// Objects and Bytes count the objects added to the pack and the size of
	// their uncompressed content.
	Objects int
	Bytes   int64
	// PackBytes is what the new objects take in the pack (compressed, or as
	// deltas).
	PackBytes int64
	// Merged names the packs this one absorbed (see Absorb), which its
	// caller removes (RemovePacks); CopiedBytes counts the bytes copied
	// from them.
	Merged      []string
	CopiedBytes int64
	// Skipped counts objects that were offered but already present.
	Skipped int
}

// PackWriter streams new objects into one pack file. Its Write methods may be
// called from several goroutines at once: hashing and compression run in the
// caller's goroutine, only the append to the file is serialised. Nothing it
// writes is visible to readers until Commit, and Abort (or a crash) leaves
// nothing behind but a temporary file that the next writer removes. It
// touches no other pack, unless told to absorb some (Absorb).
type PackWriter struct {
	repo  *Repository
	level int

	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer // appends to f; flushed by finish
	offset  int64
	entries []packEntry
	written entrySet        // the ids of entries
	pending map[ID]struct{} // ids reserved by a write not yet appended
	stats   PackStats
	done    bool
	err     error

	copy    *Merge        // packs merged into this one; nil: none
	rewrite map[ID][]byte // copied objects re-encoded as deltas against new ones

	bufs  sync.Pool // *bytes.Buffer: entries being encoded, reused
	loose bool      // the repository had loose objects when the writer started
}

// packEntry is 32 bytes: the id, then the 4-byte CRC beside it, then the
// offset (a pack writer keeps one per object it writes).
type packEntry struct {
	id     ID
	crc    uint32
	offset int64
}

// DefaultCompression is the zlib level a PackWriter uses unless told
// otherwise. It is 5, not zlib's (and git's) 6: klauspost/compress's level 6
// searches longer for matches, which on Kylin metadata cost 18% more CPU
// than level 5 for output 0.3% larger (kylin-metagen's 100,000 resources:
// 5.05 s against 6.14 s of one thread, 272.4 against 273.2 MiB; its
// job-heavy shape alike, BENCHMARKS.md "Databases").
const DefaultCompression = 5

// A pack of less than tinyPack new bytes does not absorb the small packs,
// unless there are maxSmallPacks of them.
const (
	tinyPack      = 64 << 10
	maxSmallPacks = 16
)

// tmpPackPrefix names the temporary files of packs being written.
const tmpPackPrefix = "tmp_pack_"

// createTempPack makes the pack folder if need be and a new temporary pack
// file in it; op names the operation in the file's creation error. It
// returns the folder and the file.
func (r *Repository) createTempPack(op string) (string, *os.File, error) {
	dir := filepath.Join(r.path, "objects", "pack")
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp(dir, tmpPackPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", op, err)
	}
	return dir, f, nil
}

// NewPackWriter starts a pack. Writers of one repository should hold its
// Lock; level is the zlib compression level (1-9, or 0 for
// DefaultCompression).
func (r *Repository) NewPackWriter(level int) (*PackWriter, error) {
	if level <= 0 || level > 9 {
		level = DefaultCompression
	}
	_, f, err := r.createTempPack("start pack")
	if err != nil {
		return nil, err
	}
	// Header with a count to be filled in at Commit.
	hdr := []byte{'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, 0}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("start pack: %w", err)
	}
	return &PackWriter{
		repo: r, level: level, f: f, bw: bufio.NewWriterSize(f, appendBuffer), offset: int64(len(hdr)),
		pending: map[ID]struct{}{}, rewrite: map[ID][]byte{}, loose: r.mayHaveLoose(),
	}, nil
}

// Absorb makes the pack absorb the packs of m (see PlanMerge), so that
// successive versions of an object share one pack, where git resolves
// deltas: objects m holds are not written again; at Commit, the entries of
// m's packs are copied into the new pack byte for byte, and the previous
// version of an object written with WriteDelta, if m holds it, is stored as
// a delta against the new version (git's order: the newest whole). A pack
// of less than 64 KiB of new objects absorbs nothing, unless m has 16 packs
// or more: they wait for a later pack. Absorb is called before the first
// write. The absorbed packs stay on disk: Commit names them
// (PackStats.Merged) for the caller to remove (RemovePacks) once the new
// pack is referenced.
func (w *PackWriter) Absorb(m *Merge) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m == nil || len(m.packs) == 0 || w.done {
		m.close()
		return
	}
	w.copy.close()
	w.copy = m
}

// RemoveStaleTemp deletes temporary pack files last written before cutoff,
// left by writers that crashed. Call it while holding the repository lock.
func (r *Repository) RemoveStaleTemp(cutoff time.Time) {
	dir := filepath.Join(r.path, "objects", "pack")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		stale := strings.HasPrefix(n, tmpPackPrefix) || strings.HasPrefix(n, tmpIdxPrefix)
		if !stale {
			// An index whose pack never arrived (a crash between the renames).
			if strings.HasSuffix(n, ".idx") {
				if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(n, ".idx")+".pack")); errors.Is(err, os.ErrNotExist) {
					stale = true
				}
			}
		}
		if !stale {
			continue
		}
		if info, err := e.Info(); err == nil && !info.ModTime().After(cutoff) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// Write adds an object of kind k with content data unless the repository or
// this pack already has it. It returns the object's ID and whether it was
// added.
func (w *PackWriter) Write(k Kind, data []byte) (ID, bool, error) {
	return w.WriteDelta(k, data, ID{})
}

// WriteZlib is Write for content its caller also has compressed: z is a
// zlib stream that inflates to exactly data, such as Kylin 5 keeps in a
// database. The pack entry is z as it is, which saves compressing data
// again; a z whose zlib header or Adler-32 trailer does not fit data is
// not used (data is compressed as by Write). That z inflates to data is
// the caller's word: the writer does not inflate it (verify --read-data
// does).
func (w *PackWriter) WriteZlib(k Kind, data, z []byte) (ID, bool, error) {
	id := HashObject(k, data)
	if ok, err := w.claim(id); !ok {
		return id, false, err
	}
	// Checked only for a new object: an unchanged backup passes every
	// resource here, and its Adler-32 was 4% of such a backup's CPU.
	if !zlibFits(data, z) {
		return id, true, w.compressNew(id, k, data)
	}
	if len(z) >= streamEntry {
		return id, true, w.appendStored(id, k, int64(len(data)), z)
	}
	b := w.encodeStored(k, len(data), z)
	defer w.release(b)
	return id, true, w.append(id, b.Bytes(), int64(len(data)))
}

// appendStored writes the entry of an object of kind k and size bytes
// whose zlib stream is z straight into the pack's buffer, as appendStream
// does for a large object: no copy of z.
func (w *PackWriter) appendStored(id ID, k Kind, size int64, z []byte) error {
	return w.appendDirect(id, size, func(cw entryWriter) { appendStoredEntry(cw, k, size, z) })
}

// appendStoredEntry writes the entry of an object of kind k and size bytes
// whose zlib stream is z: the header, then z.
func appendStoredEntry(b entryWriter, k Kind, size int64, z []byte) {
	appendHeader(b, k, uint64(size))
	b.Write(z)
}

// zlibFits reports whether z can be the zlib stream of data: a valid zlib
// header without a preset dictionary (RFC 1950: deflate, a window of at
// most 32 KiB, a check value that divides by 31), at least an empty
// deflate block, and data's Adler-32 as its trailer.
func zlibFits(data, z []byte) bool {
	if len(z) < 2+2+4 {
		return false
	}
	cmf, flg := z[0], z[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint16(cmf)<<8|uint16(flg))%31 != 0 || flg&0x20 != 0 {
		return false
	}
	return binary.BigEndian.Uint32(z[len(z)-4:]) == adler32.Checksum(data)
}

// encodeStored is encode for an entry whose zlib stream z is given: the
// header of an object of kind k and size bytes, then z.
func (w *PackWriter) encodeStored(k Kind, size int, z []byte) *bytes.Buffer {
	b := w.buffer(len(z) + 16)
	appendStoredEntry(b, k, int64(size), z)
	return b
}

// reserve claims id for this writer; false if it is already written (or
// being written) or the writer failed.
func (w *PackWriter) reserve(id ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.done {
		return false
	}
	if _, dup := w.pending[id]; dup || w.written.has(w.entries, id) {
		w.stats.Skipped++
		return false
	}
	w.pending[id] = struct{}{}
	return true
}

// unreserve gives up the reservation of id, which the repository has
// already: a later write of it finds it there again.
func (w *PackWriter) unreserve(id ID) {
	w.mu.Lock()
	delete(w.pending, id)
	w.stats.Skipped++
	w.mu.Unlock()
}

// failure is the error to return for an id reserve refused: the writer's
// error, if any.
func (w *PackWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("pack writer already finished")
	}
	return nil
}

func (w *PackWriter) skip() {
	w.mu.Lock()
	w.stats.Skipped++
	w.mu.Unlock()
}

// appendBuffer is how much of the new entries a PackWriter gathers before
// it writes them to its file: one system call per entry, under the lock
// every writer takes, made the file the bottleneck of a backup's workers.
const appendBuffer = 1 << 20

// append writes an encoded entry (through the buffer, which finish
// flushes). The entry may be reused once append returns.
func (w *PackWriter) append(id ID, entry []byte, size int64) error {
	crc := crc32.ChecksumIEEE(entry)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.bw.Write(entry); err != nil {
		w.err = fmt.Errorf("write pack: %w", err)
		return w.err
	}
	w.added(id, crc, int64(len(entry)), size)
	return nil
}

// added records the entry of id just written at w.offset: n bytes, of
// size bytes of content. The caller holds w.mu.
func (w *PackWriter) added(id ID, crc uint32, n, size int64) {
	w.entries = append(w.entries, packEntry{id: id, offset: w.offset, crc: crc})
	w.written.add(w.entries, len(w.entries)-1)
	delete(w.pending, id)
	w.offset += n
	w.stats.Objects++
	w.stats.Bytes += size
}

// streamEntry is the size from which an object is compressed straight
// into the pack, under the writer's lock, rather than into a buffer of its
// own first: the compressed copy of a flat folder's tree (20 MB for
// 300,000 jobs, two or more being written at once) cost as much memory as
// the tree, and an encoding buffer this large is not kept for reuse anyway
// (release).
const streamEntry = 4 << 20

// appendStream encodes and writes the entry of an object of kind k with
// content data, compressing it into the pack's buffer as it goes.
func (w *PackWriter) appendStream(id ID, k Kind, data []byte, level int) error {
	return w.appendDirect(id, int64(len(data)), func(cw entryWriter) { appendEntry(cw, k, data, level) })
}

// appendDirect has write write the entry of id (size bytes of content)
// straight into the pack's buffer, under the writer's lock.
func (w *PackWriter) appendDirect(id ID, size int64, write func(entryWriter)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	cw := crcWriter{w: w.bw}
	write(&cw)
	if cw.err != nil {
		w.err = fmt.Errorf("write pack: %w", cw.err)
		return w.err
	}
	w.added(id, cw.crc, cw.n, size)
	return nil
}

// crcWriter writes through w, counting the bytes and their CRC-32; it
// keeps the first error.
type crcWriter struct {
	w   *bufio.Writer
	crc uint32
	n   int64
	err error
}

func (c *crcWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, b[:n])
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *crcWriter) WriteByte(b byte) error {
	_, err := c.Write([]byte{b})
	return err
}

// has is Repository.Has without the search for a loose object when the
// repository had no folder of them when the writer started (this tool
// writes packs only; git may have left loose objects, and the writer
// holds the repository's lock): WriteDelta asks for every object, and the
// search was one stat per object written.
func (w *PackWriter) has(id ID) bool {
	if w.loose {
		return w.repo.Has(id)
	}
	return w.repo.hasPacked(id)
}

// WriteBlob is Write for a blob.
func (w *PackWriter) WriteBlob(data []byte) (ID, bool, error) { return w.Write(KindBlob, data) }

// WriteTree encodes entries (in git order) and writes the tree.
func (w *PackWriter) WriteTree(entries []TreeEntry) (ID, bool, error) {
	data, err := EncodeTree(entries)
	if err != nil {
		return ID{}, false, err
	}
	return w.Write(KindTree, data)
}

// WriteCommit encodes c and writes the commit.
func (w *PackWriter) WriteCommit(c Commit) (ID, error) {
	id, _, err := w.Write(KindCommit, EncodeCommit(c))
	return id, err
}

// zlibWriters reuses compressors: a zlib writer holds about a megabyte of
// state, and allocating (and zeroing) one per object dominated the cost of a
// backup.
var zlibWriters [10]sync.Pool

// levelFor is the compression level for objects of kind k: trees are
// mostly object ids, which do not compress, so they get the fastest level.
func (w *PackWriter) levelFor(k Kind) int {
	if k == KindTree {
		return 1
	}
	return w.level
}

// encodeEntry returns a pack entry: the type-and-size header followed by the
// zlib-compressed content.
func encodeEntry(k Kind, data []byte, level int) []byte {
	var b bytes.Buffer
	b.Grow(len(data)/3 + 64)
	appendEntry(&b, k, data, level)
	return b.Bytes()
}

// entryWriter is where appendEntry writes: a buffer, or the pack itself
// (crcWriter).
type entryWriter interface {
	io.Writer
	io.ByteWriter
}

// appendEntry is encodeEntry into b.
func appendEntry(b entryWriter, k Kind, data []byte, level int) {
	appendHeader(b, k, uint64(len(data)))
	zw, _ := zlibWriters[level].Get().(*zlib.Writer)
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(b, level); err != nil {
			// Only an invalid level fails, and NewPackWriter checked it.
			panic(err)
		}
	} else {
		zw.Reset(b)
	}
	zw.Write(data)
	zw.Close()
	zw.Reset(nil)
	zlibWriters[level].Put(zw)
}

// appendHeader writes the header of a pack entry: the kind and the size of
// the content.
func appendHeader(b io.ByteWriter, k Kind, size uint64) {
	c := byte(k)<<4 | byte(size&0x0f)
	size >>= 4
	for size != 0 {
		b.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.WriteByte(c)
}

// encode encodes an entry into a buffer of w's, which release gives back:
// a backup encodes one entry per resource, and a new buffer for each (most
// of them grown once or twice) cost as much in allocation and clearing as
// hashing the content did.
func (w *PackWriter) encode(k Kind, data []byte, level int) *bytes.Buffer {
	b := w.buffer(len(data)/2 + 64)
	appendEntry(b, k, data, level)
	return b
}

// buffer returns an empty buffer of w's with room for n bytes; release
// gives it back.
func (w *PackWriter) buffer(n int) *bytes.Buffer {
	b, _ := w.bufs.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	b.Reset()
	b.Grow(n)
	return b
}

// release gives back a buffer of encode's; one that grew past 4 MiB is
// dropped rather than kept.
func (w *PackWriter) release(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		w.bufs.Put(b)
	}
}

// Abort discards the pack.
func (w *PackWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
	w.copy.close()
}

// tmpIdxPrefix names temporary index files.
const tmpIdxPrefix = "tmp_idx_"

// Commit finishes the pack and its index and makes their objects visible to
// readers of the repository. A pack with no new objects is discarded (and
// absorbs nothing).
func (w *PackWriter) Commit() (PackStats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.copy.close()
	if w.done {
		return w.stats, errors.New("pack writer already finished")
	}
	w.done = true
	newBytes := w.offset - 12
	if w.copy != nil && len(w.rewrite) == 0 && newBytes < tinyPack && len(w.copy.packs) < maxSmallPacks {
		// Too little to be worth rewriting the small packs for (a backup
		// that found nothing new): they are merged next time.
		w.copy.close()
		w.copy = nil
	}
	var ops []copyOp
	if w.err == nil && len(w.entries) > 0 && w.copy != nil {
		w.copy.analyze()
		ops = w.planCopy()
	}
	if w.err == nil && len(w.entries) == 0 {
		w.f.Close()
		os.Remove(w.f.Name())
		return w.stats, nil
	}
	if w.err == nil {
		_, _, w.err = w.finish(ops)
	}
	if w.err != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		return w.stats, w.err
	}
	w.stats.PackBytes = newBytes
	if w.copy != nil {
		for _, p := range w.copy.packs {
			w.stats.Merged = append(w.stats.Merged, p.name)
		}
	}
	w.repo.reindex()
	return w.stats, nil
}

// finish completes the pack: the object count in its header, the entries
// ops copies from the small packs, the checksum, the index, and the renames
// that make it visible. The entries written so far are read back once for
// the checksum; the copied ones are hashed as they are written.
func (w *PackWriter) finish(ops []copyOp) (plumbing.Hash, int64, error) {
	f := w.f
	if err := w.bw.Flush(); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	var cnt [4]byte
	binary.BigEndian.PutUint32(cnt[:], uint32(len(w.entries)+len(ops)))
	if _, err := f.WriteAt(cnt[:], 8); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	h := sha1.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, w.offset)); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	if _, err := f.Seek(w.offset, io.SeekStart); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), copyBuffer)
	if err := w.copyInto(ops, bw); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	var sum plumbing.Hash
	if err := bw.Flush(); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	h.Sum(sum[:0])
	if _, err := f.Write(sum[:]); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	if err := f.Sync(); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	size := w.offset + 20
	if err := f.Close(); err != nil {
		return plumbing.ZeroHash, 0, err
	}

	dir := filepath.Dir(f.Name())
	xf, err := os.CreateTemp(dir, tmpIdxPrefix)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	// The entries are sorted in place: the writer is done with them.
	if _, err := writeIndex(xf, w.entries, ID(sum)); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack index: %w", err)
	}
	if err := xf.Sync(); err != nil {
		xf.Close()
		os.Remove(xf.Name())
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack index: %w", err)
	}
	xf.Close()
	base := filepath.Join(dir, "pack-"+sum.String())
	// The index first: readers only look at .pack files, so a crash between
	// the renames leaves an unused index, never a pack without one.
	if err := os.Rename(xf.Name(), base+".idx"); err != nil {
		os.Remove(xf.Name())
		return plumbing.ZeroHash, 0, err
	}
	if err := os.Rename(f.Name(), base+".pack"); err != nil {
		os.Remove(base + ".idx")
		return plumbing.ZeroHash, 0, err
	}
	syncDir(dir)
	return sum, size, nil
}
