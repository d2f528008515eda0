package snapshot

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"unsafe"

	"github.com/kylin-tools/metastore/objects"
)

// A scoped backup or restore reads and writes a few resources: holding the
// whole change cache for them (over 100 MB at a million resources) cost
// more memory than the rest of the command. It reads the file as a stream
// instead, twice: once to check its SHA-1 (a damaged cache is never half
// trusted), then to keep the entries of its paths, or to merge the old
// entries with the new ones as the next file is written.

// cacheHead is the length of a cache file's header: cacheMagic and the
// snapshot id; the entries follow.
const cacheHead = len(cacheMagic) + 20

// errCacheStream reports a cache file that is missing, damaged, of another
// version or out of order: it reads as empty.
var errCacheStream = errors.New("change cache unusable")

// openCacheStream opens a cache file (never through a symbolic link, only a
// regular file), checks its SHA-1 trailer and returns it positioned at its
// first entry, the number of bytes of entries, the number of entries, and
// the commit it names.
func openCacheStream(path string) (f *os.File, n int64, count int, commit objects.ID, err error) {
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, 0, commit, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	head := int64(cacheHead)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < head+24 || fi.Size() > maxCacheFile {
		return nil, 0, 0, commit, errCacheStream
	}
	n = fi.Size() - head - 24
	h := sha1.New()
	buf := make([]byte, head)
	if _, err := io.ReadFull(f, buf); err != nil || string(buf[:len(cacheMagic)]) != cacheMagic {
		return nil, 0, 0, commit, errCacheStream
	}
	h.Write(buf)
	copy(commit[:], buf[len(cacheMagic):])
	var tail [24]byte
	// Read in large pieces: the file is read twice (checked, then used).
	if _, err := io.CopyBuffer(h, io.LimitReader(f, n), make([]byte, 128<<10)); err != nil {
		return nil, 0, 0, commit, errCacheStream
	}
	if _, err := io.ReadFull(f, tail[:]); err != nil {
		return nil, 0, 0, commit, errCacheStream
	}
	h.Write(tail[:4])
	if string(h.Sum(nil)) != string(tail[4:]) {
		return nil, 0, 0, commit, errCacheStream
	}
	if _, err := f.Seek(head, io.SeekStart); err != nil {
		return nil, 0, 0, commit, err
	}
	return f, n, int(binary.BigEndian.Uint32(tail[:4])), commit, nil
}

// streamCache calls fn for every entry of the cache file at path, in path
// order, once its checksum is checked, and returns the commit it names.
// The path fn gets is valid only during the call (it is the reader's
// buffer); fn returns false to stop. A file that is missing, damaged or out
// of order returns errCacheStream, possibly after some calls of fn (whose
// paths were in order).
func streamCache(path string, fn func(p string, e cacheEntry) bool) (objects.ID, error) {
	f, n, count, commit, err := openCacheStream(path)
	if err != nil {
		return objects.ID{}, errCacheStream
	}
	defer f.Close()
	rd := bufio.NewReaderSize(io.LimitReader(f, n), 64<<10)
	var cur, prev []byte
	for k := 0; ; k++ {
		e, p, err := readCacheEntry(rd, cur)
		if err == io.EOF && k == count {
			return commit, nil
		}
		if err != nil || (prev != nil && string(p) <= string(prev)) {
			return objects.ID{}, errCacheStream
		}
		if !fn(unsafe.String(unsafe.SliceData(p), len(p)), e) {
			return commit, nil
		}
		cur, prev = prev[:0], p // two buffers in turn: prev stays valid
	}
}

// cacheCursor reads a checked cache file as a stream, forward only: a scan
// of the whole source looks its paths up in listing order, which is path
// order, so it merges the file with the listing instead of holding the
// file (about 90 bytes per resource). A path listed out of order, or a
// file whose entries turn out to be out of order, is a miss: slower, never
// wrong.
type cacheCursor struct {
	f     *os.File // nil for a copy (cacheLoad.cursorCopy)
	n     int64    // bytes of entries, from the file's first
	rd    *bufio.Reader
	p, pb []byte // the current entry's path; the other buffer
	e     cacheEntry
	ok    bool // p and e hold an entry
}

// openCursor opens the cache file at path as a cursor, and returns the
// number of its entries and the commit it names; nil if it is unusable.
func openCursor(path string) (*cacheCursor, int, objects.ID) {
	f, n, count, commit, err := openCacheStream(path)
	if err != nil {
		return nil, 0, objects.ID{}
	}
	c := &cacheCursor{f: f, n: n, rd: bufio.NewReaderSize(io.LimitReader(f, n), 64<<10), ok: true}
	c.advance(true)
	return c, count, commit
}

// cursorCopy returns another cursor over the cache file a whole scan
// opened, from its first entry: it reads the file (checked already) on its
// own (pread), and its close leaves the file open. nil without a cache
// file. It waits for the cache to be opened.
func (c *cacheLoad) cursorCopy() *cacheCursor {
	if c == nil {
		return nil
	}
	c.wait()
	if c.cursor == nil {
		return nil
	}
	cc := &cacheCursor{n: c.cursor.n, rd: bufio.NewReaderSize(io.NewSectionReader(c.cursor.f, int64(cacheHead), c.cursor.n), 64<<10), ok: true}
	cc.advance(true)
	return cc
}

// close closes the cursor's file, unless it is a copy.
func (c *cacheCursor) close() {
	if c.f != nil {
		c.f.Close()
	}
}

// advance reads the next entry; first says there is no current one.
func (c *cacheCursor) advance(first bool) {
	e, p, err := readCacheEntry(c.rd, c.pb)
	if err != nil || (!first && string(p) <= string(c.p)) {
		c.ok = false
		return
	}
	c.pb, c.p, c.e = c.p, p, e
}

// seek returns the entry of path p, if the file has one after the entries
// already passed.
func (c *cacheCursor) seek(p string) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	for c.ok && string(c.p) < p {
		c.advance(false)
	}
	if c.ok && string(c.p) == p {
		return c.e, true
	}
	return cacheEntry{}, false
}

// readCacheEntry reads one entry of a cache file into buf; io.EOF at the
// end of the entries. It decodes the entry in the reader's buffer
// (decodeCacheEntry over what Peek shows, an entry being far shorter than
// the buffer) and copies its path into buf.
func readCacheEntry(rd *bufio.Reader, buf []byte) (cacheEntry, []byte, error) {
	// What is buffered, or at least a typical entry's worth: Peek of more
	// than is buffered moves the rest to the buffer's start, which once
	// per entry would copy the buffer once per entry.
	for n := max(rd.Buffered(), 4<<10); ; n = rd.Size() {
		win, err := rd.Peek(min(n, rd.Size()))
		if len(win) == 0 {
			if err == nil || err == io.EOF {
				return cacheEntry{}, nil, io.EOF
			}
			return cacheEntry{}, nil, err
		}
		p, e, next, ok := decodeCacheEntry(unsafe.String(unsafe.SliceData(win), len(win)), 0)
		if ok {
			buf = append(buf[:0], p...)
			rd.Discard(next)
			return e, buf, nil
		}
		if err != nil || len(win) == rd.Size() {
			return cacheEntry{}, nil, errCacheStream // damaged, or longer than any entry
		}
	}
}

// loadCacheFor reads the entries of the cache file at path whose paths are
// among paths (sorted), into an index of their own: a scoped scan holds
// what it may use, not the whole file. A damaged file reads as empty.
func loadCacheFor(path string, paths []string) (*cacheIndex, objects.ID) {
	var all []byte
	var offs []uint32
	k := 0
	commit, err := streamCache(path, func(p string, e cacheEntry) bool {
		for k < len(paths) && paths[k] < p {
			k++
		}
		if k == len(paths) {
			return false
		}
		if paths[k] == p {
			offs = append(offs, uint32(len(all)))
			all = appendCacheEntry(all, p, e)
		}
		return true
	})
	if err != nil {
		return &cacheIndex{}, objects.ID{}
	}
	return &cacheIndex{all: string(all), offs: offs}, commit
}

// cacheMerge is the next cache file of a scoped scan: the entries of the
// old file (streamed, not held), with those of the items that have a
// fingerprint in their place, in path order. A scoped scan reads by path
// and learns no fingerprint: the entry it has stays (if the file changed,
// its fingerprint no longer matches anyway). A damaged old file
// contributes nothing.
func cacheMerge(oldPath string, list scanList, commit objects.ID) cacheFile {
	items := list.flat() // a scoped scan's: one slab
	return cacheFile{commit: commit, entries: func(yield func(string, cacheEntry) bool) {
		i := 0
		// upTo yields the items before p (every one left if last), and the
		// item at p if it has a fingerprint: replaced says so.
		upTo := func(p string, last bool) (replaced, ok bool) {
			for ; i < len(items) && (last || items[i].path < p); i++ {
				if it := &items[i]; it.fp.known() && !yield(it.path, it.entry()) {
					return false, false
				}
			}
			if !last && i < len(items) && items[i].path == p {
				it := &items[i]
				i++
				if it.fp.known() {
					return true, yield(it.path, it.entry())
				}
			}
			return false, true
		}
		stopped := false
		streamCache(oldPath, func(p string, e cacheEntry) bool {
			replaced, ok := upTo(p, false)
			if !ok || (!replaced && !yield(p, e)) {
				stopped = true
			}
			return !stopped
		})
		if !stopped {
			upTo("", true)
		}
	}}
}

// cachePaths returns members sorted (a copy: the strings are shared).
func cachePaths(members []string) []string {
	return slices.Sorted(slices.Values(members))
}

// String describes a cache entry (for test failures).
func (e cacheEntry) String() string {
	return fmt.Sprintf("{fp %x size %d ts %d id %s}", e.fp, e.size, e.ts, e.id)
}
