package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	"github.com/kylin-tools/metastore/objects"
	"github.com/zeebo/xxh3"
)

// The change cache lets a backup skip reading and hashing resources that did
// not change since the previous backup of the same source, as git's index
// does: for every path it keeps the backend's change fingerprint (for a
// file: device, inode, ctime, mtime and size) and the blob that held the
// content then. A resource is taken from the cache only if its fingerprint is
// non-empty and identical and the repository still has the blob, so a stale
// or damaged cache costs time, never correctness. It lives outside the
// snapshots, in metastore-cache/ inside the repository, one file per source.

type cacheEntry struct {
	fp   fingerprint
	size int64
	ts   int64
	id   objects.ID
}

// fingerprint is a backend's change fingerprint (metastore.Entry.Change)
// reduced to 16 bytes, its XXH3-128 hash; the zero value is no
// fingerprint. A folder's fingerprint is some 50 hexadecimal characters:
// held as a string by every scan record and cache entry, it cost about 64
// bytes per resource (a million resources: 64 MB). Two fingerprints
// sharing a 128-bit hash (and the size, also compared) do not happen by
// accident, and a backend's fingerprint is not chosen by an adversary.
// XXH3 takes about 30 ns a fingerprint where SHA-1 took 300: it is
// computed for every resource listed. A database row's Change is the
// SHA-256 of its bytes, which a writer of metadata chooses: two rows whose
// fingerprints collide would take about 2^64 SHA-256 computations to find.
type fingerprint [16]byte

// fingerprintOf returns the fingerprint of change; zero if change is "".
func fingerprintOf(change string) fingerprint {
	if change == "" {
		return fingerprint{}
	}
	return xxh3.HashString128(change).Bytes()
}

// known reports whether f is a fingerprint, not the zero value.
func (f fingerprint) known() bool { return f != fingerprint{} }

// cacheMagic starts a cache file; the 20-byte id of the snapshot it was
// saved with follows, then the entries, their number (4 bytes, big-endian)
// and the SHA-1 of everything before it. A file of an earlier version (1: a
// map; 2: the fingerprints as the backend's strings, no count) is ignored
// (read as empty).
const cacheMagic = "metastore-cache 3\n"

func cacheName(source string) string {
	h := sha1.Sum([]byte(source))
	return hex.EncodeToString(h[:])
}

// readCacheFile reads a file of the cache folder, never through a symbolic
// link and only if it is a regular file: a link planted in the repository
// to /dev/zero or a FIFO must not make a backup read forever.
func readCacheFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	// One buffer of the file's size (and one byte more, to see that it did
	// not grow meanwhile): the change cache of a million resources is over
	// 100 MB, and io.ReadAll's doubling buffers would allocate twice that.
	size := fi.Size()
	if size < 0 || size > maxCacheFile {
		return nil, fmt.Errorf("%s: %d bytes, more than a cache file holds", path, size)
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil // shorter than it was: its checksum decides
	case err != nil:
		return nil, err
	}
	// Longer than it was (a file being rewritten in place): the rest.
	rest, err := io.ReadAll(f)
	return append(buf, rest...), err
}

// maxCacheFile bounds the size of a cache file read (about 100 bytes per
// resource: 20 million resources), so that offsets in it fit 32 bits.
const maxCacheFile = 2 << 30

// cacheIndex is a loaded change cache: the entries of its file in place,
// in path order, found by binary search (or at once, where lookups come in
// path order). A map of a million entries took about 100 MB beside the
// file; the index takes 4 bytes an entry.
type cacheIndex struct {
	all  string   // the file's entries; paths and fingerprints are slices of it
	offs []uint32 // where each entry starts in all
}

// len returns the number of entries.
func (x *cacheIndex) len() int { return len(x.offs) }

// at returns the path and entry at position k.
func (x *cacheIndex) at(k int) (string, cacheEntry) {
	p, e, _, _ := decodeCacheEntry(x.all, int(x.offs[k]))
	return p, e
}

// pathAt returns the path at position k.
func (x *cacheIndex) pathAt(k int) string {
	i := int(x.offs[k])
	n, w := binary.Uvarint([]byte(x.all[i:min(len(x.all), i+binary.MaxVarintLen64)]))
	return x.all[i+w : i+w+int(n)]
}

// get returns the entry of path p.
func (x *cacheIndex) get(p string) (cacheEntry, bool) {
	e, _, ok := x.find(p, -1)
	return e, ok
}

// find returns the entry of path p, and the position after it (a hint for
// the next lookup: a scan looks paths up in order); hint is where p is
// likely to be, or -1.
func (x *cacheIndex) find(p string, hint int) (cacheEntry, int, bool) {
	k := hint
	if k < 0 || k >= len(x.offs) || x.pathAt(k) != p {
		k = sort.Search(len(x.offs), func(k int) bool { return x.pathAt(k) >= p })
		if k == len(x.offs) || x.pathAt(k) != p {
			return cacheEntry{}, k, false
		}
	}
	_, e := x.at(k)
	return e, k + 1, true
}

// decodeCacheEntry decodes the entry at all[i:] and returns the position
// after it; ok is false if it is malformed.
func decodeCacheEntry(all string, i int) (p string, e cacheEntry, next int, ok bool) {
	str := func() (string, bool) {
		n, k := binary.Uvarint([]byte(all[i:min(len(all), i+binary.MaxVarintLen64)]))
		if k <= 0 || n > uint64(len(all)-i-k) {
			return "", false
		}
		s := all[i+k : i+k+int(n)]
		i += k + int(n)
		return s, true
	}
	varint := func() (int64, bool) {
		v, k := binary.Varint([]byte(all[i:min(len(all), i+binary.MaxVarintLen64)]))
		if k <= 0 {
			return 0, false
		}
		i += k
		return v, true
	}
	p, ok1 := str()
	if !ok1 || len(all)-i < len(e.fp) {
		return "", cacheEntry{}, 0, false
	}
	copy(e.fp[:], all[i:])
	i += len(e.fp)
	sz, ok3 := varint()
	ts, ok4 := varint()
	if !ok3 || !ok4 || len(all)-i < 20 {
		return "", cacheEntry{}, 0, false
	}
	e.size, e.ts = sz, ts
	copy(e.id[:], all[i:i+20])
	return p, e, i + 20, true
}

// loadCache reads a cache file; a missing or unreadable one is empty.
func loadCache(path string) *cacheIndex {
	x, _ := loadCacheFile(path)
	return x
}

// loadCacheFile reads a cache file and the id of the snapshot it was saved
// with. A file that is damaged, or whose paths are not in order, reads as
// empty.
func loadCacheFile(path string) (*cacheIndex, objects.ID) {
	data, err := readCacheFile(path)
	if err != nil || !bytes.HasPrefix(data, []byte(cacheMagic)) || len(data) < len(cacheMagic)+44 {
		return &cacheIndex{}, objects.ID{}
	}
	// A SHA-1 of everything before it ends the file: a damaged cache is
	// discarded whole, never half trusted.
	if sum := sha1.Sum(data[:len(data)-20]); string(sum[:]) != string(data[len(data)-20:]) {
		return &cacheIndex{}, objects.ID{}
	}
	count := binary.BigEndian.Uint32(data[len(data)-24:])
	data = data[:len(data)-24]
	var commit objects.ID
	copy(commit[:], data[len(cacheMagic):])
	// One string for the whole file: paths and fingerprints are slices of
	// it, not an allocation each. It is the buffer just read, which nothing
	// else holds or changes: a copy would double the load's peak memory
	// (the file of a million resources is over 100 MB).
	body := data[len(cacheMagic)+20:]
	x := &cacheIndex{all: unsafe.String(unsafe.SliceData(body), len(body))}
	x.offs = make([]uint32, 0, len(body)/96)
	prev := ""
	for i := 0; i < len(x.all); {
		p, _, next, ok := decodeCacheEntry(x.all, i)
		if !ok || (len(x.offs) > 0 && p <= prev) {
			return &cacheIndex{}, objects.ID{}
		}
		x.offs = append(x.offs, uint32(i))
		prev, i = p, next
	}
	if len(x.offs) != int(count) {
		return &cacheIndex{}, objects.ID{}
	}
	return x, commit
}

// cacheLoad is a change cache being opened in the background, so that a
// backup lists the source while the cache file is checked. The cache of a
// whole-source scan is read as a stream merged with the listing (both are
// in path order: see cacheCursor), never held whole; that of a scoped scan
// is read once the scan names its paths (startFor), and only their entries
// are kept.
type cacheLoad struct {
	r    *Repository
	path string
	once sync.Once
	done chan struct{}

	entries *cacheIndex  // a scoped scan's entries; nil for a whole scan
	cursor  *cacheCursor // a whole scan's stream; nil if the file is unusable
	count   int          // entries in the file, for a whole scan
	commit  objects.ID
	trusted bool // saved with a snapshot the repository still has
	same    bool // a whole scan found exactly the file's entries (set by scan)
}

// loadCacheAsync starts opening the cache file at path as a stream.
func (r *Repository) loadCacheAsync(path string) *cacheLoad {
	c := &cacheLoad{r: r, path: path, done: make(chan struct{})}
	c.start(func() { c.cursor, c.count, c.commit = openCursor(path) })
	return c
}

// lazyCache is the cache file at path, to be read for some paths only.
func (r *Repository) lazyCache(path string) *cacheLoad {
	return &cacheLoad{r: r, path: path, done: make(chan struct{})}
}

// startFor starts reading the entries of members (of a scoped scan); it
// does nothing if the cache is opened already or being opened.
func (c *cacheLoad) startFor(members []string) {
	c.start(func() { c.entries, c.commit = loadCacheFor(c.path, cachePaths(members)) })
}

// start runs load in the background, once.
func (c *cacheLoad) start(load func()) {
	c.once.Do(func() {
		go func() {
			defer close(c.done)
			load()
			c.trusted = !c.commit.IsZero() && c.r.objs.Has(c.commit)
		}()
	})
}

// ready reports whether the cache has been opened.
func (c *cacheLoad) ready() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for the cache to be opened; a cache never started (a scan
// that failed before naming its paths) is empty.
func (c *cacheLoad) wait() {
	c.start(func() {})
	<-c.done
}

// close waits for the cache and closes its file.
func (c *cacheLoad) close() {
	c.wait()
	if c.cursor != nil {
		c.cursor.close()
	}
}

// cacheFile is the content of a cache file, streamed to its file by
// WriteTo: the change cache of a million resources is over 100 MB, and
// encoding it in memory first held all of it beside the backup's own state.
type cacheFile struct {
	commit  objects.ID                    // the snapshot it is saved with
	entries iter.Seq2[string, cacheEntry] // in path order
}

// cacheFileOf is the cache file of entries, in path order.
func cacheFileOf(entries map[string]cacheEntry, commit objects.ID) cacheFile {
	paths := slices.Sorted(maps.Keys(entries))
	return cacheFile{commit: commit, entries: func(yield func(string, cacheEntry) bool) {
		for _, p := range paths {
			if !yield(p, entries[p]) {
				return
			}
		}
	}}
}

// cacheFileOfItems is the cache file of the fingerprints of items, which
// are in path order; items without one (read by path, not listed) are left
// out.
func cacheFileOfItems(items scanList, commit objects.ID) cacheFile {
	return cacheFile{commit: commit, entries: func(yield func(string, cacheEntry) bool) {
		for it := range items.all() {
			if it.fp.known() && !yield(it.path, it.entry()) {
				return
			}
		}
	}}
}

// WriteTo writes the file to w through a buffer of bounded size, with the
// SHA-1 of everything before it at the end.
func (c cacheFile) WriteTo(w io.Writer) (int64, error) {
	cw := newCacheWriter(w, c.commit)
	for p, e := range c.entries {
		if !cw.add(p, e) {
			break
		}
	}
	return cw.finish()
}

// cacheWriter writes a cache file entry by entry, through a buffer of
// bounded size (see cacheFile).
type cacheWriter struct {
	w     io.Writer
	h     hash.Hash
	cw    *countingWriter
	bw    *bufio.Writer
	buf   []byte
	count uint32
	err   error
}

// newCacheWriter starts a cache file saved with snapshot commit.
func newCacheWriter(w io.Writer, commit objects.ID) *cacheWriter {
	h := sha1.New()
	cw := &countingWriter{w: io.MultiWriter(w, h)}
	c := &cacheWriter{w: w, h: h, cw: cw, bw: bufio.NewWriterSize(cw, 256<<10), buf: make([]byte, 0, 512)}
	_, c.err = c.bw.Write(append(append(c.buf, cacheMagic...), commit[:]...))
	return c
}

// add writes an entry; false once writing failed.
func (c *cacheWriter) add(p string, e cacheEntry) bool {
	if c.err == nil {
		c.buf = appendCacheEntry(c.buf[:0], p, e)
		_, c.err = c.bw.Write(c.buf)
		c.count++
	}
	return c.err == nil
}

// finish writes the count and the SHA-1, and returns the bytes written.
func (c *cacheWriter) finish() (int64, error) {
	if c.err != nil {
		return c.cw.n, c.err
	}
	if _, err := c.bw.Write(binary.BigEndian.AppendUint32(c.buf[:0], c.count)); err != nil {
		return c.cw.n, err
	}
	if err := c.bw.Flush(); err != nil {
		return c.cw.n, err
	}
	n, err := c.w.Write(c.h.Sum(nil))
	return c.cw.n + int64(n), err
}

// countingWriter counts what it writes.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// appendCacheEntry appends one entry of a cache file.
func appendCacheEntry(buf []byte, p string, e cacheEntry) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(p)))
	buf = append(buf, p...)
	buf = append(buf, e.fp[:]...)
	buf = binary.AppendVarint(buf, e.size)
	buf = binary.AppendVarint(buf, e.ts)
	return append(buf, e.id[:]...)
}

// encodeCache returns the next change cache, for the old file at oldPath:
// a full scan replaces it, a partial one updates the paths it saw (a merge
// of the old file, streamed, and the items). It returns false when there
// is nothing new to write: same says the full scan found exactly the old
// file's entries (see scan). items are in path order.
func encodeCache(oldPath string, items scanList, full, same bool, commit objects.ID) (cacheFile, bool) {
	if !full {
		return cacheMerge(oldPath, items, commit), true
	}
	if same {
		// Nothing to learn; the snapshot the file names still holds every
		// blob it lists.
		return cacheFile{}, false
	}
	// The items are in path order: the file is written from them directly.
	return cacheFileOfItems(items, commit), true
}

// setCacheCommit writes commit into the cache file at path, which was
// written with a zero one (see fileCaches.stage), and the SHA-1 at its end
// again, reading the file back: it is over 100 MB at a million resources,
// and is not kept in memory to be hashed twice.
func setCacheCommit(path string, commit objects.ID) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size() - sha1.Size
	if end < int64(len(cacheMagic)+len(commit)+4) {
		return fmt.Errorf("cache file %s: %d bytes, too short", path, st.Size())
	}
	if _, err := f.WriteAt(commit[:], int64(len(cacheMagic))); err != nil {
		return err
	}
	h := sha1.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, end)); err != nil {
		return err
	}
	_, err = f.WriteAt(h.Sum(nil), end)
	return err
}
