package objects

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
)

// A changed folder's tree differs from its previous version in a few entries
// (a new job, a changed cube), but a large one (tens of thousands of job
// outputs) makes a general-purpose delta (go-git's DiffDelta, which indexes
// and searches the whole base) expensive. treeDelta builds the same kind of
// git delta by matching the two trees' entries by name, which is linear and
// allocates only the delta.

// Delta instruction limits (git's patch-delta.c): an insert carries at most
// 127 bytes; copies are kept to 64 KiB each, as git itself writes them.
const (
	maxInsert = 127
	maxCopy   = 0x10000
)

// treeDelta returns a git delta that rebuilds target from src, both encoded
// trees, and false if either does not parse as a tree or src is empty
// (nothing to copy from; go-git refuses such deltas).
func treeDelta(src, target []byte) ([]byte, bool) {
	return buildTreeDelta(src, &treeCursor{data: target}, len(target))
}

// treeEntries is a walk through the entries of an encoded tree: a
// treeCursor over the tree in memory or a streamCursor reading it.
type treeEntries interface {
	// next moves to the following entry; false at the end or on a
	// malformed entry (failed is then true).
	next() bool
	// name is the current entry's name, entry all of it (mode, name and
	// id), both valid until the next move.
	name() []byte
	entry() []byte
	isDir() bool
	failed() bool
}

// buildTreeDelta is treeDelta with the target, of size bytes, read through
// t: the target is walked once, in order, and only what the delta inserts
// is kept of it.
func buildTreeDelta[T treeEntries](src []byte, t T, size int) ([]byte, bool) {
	if len(src) == 0 {
		return nil, false
	}
	d := deltaBuilder{buf: make([]byte, 0, 256)}
	d.buf = appendDeltaSize(d.buf, len(src))
	d.buf = appendDeltaSize(d.buf, size)
	s := treeCursor{data: src}
	s.next()
	for t.next() {
		for !s.end() && CompareTreeKeys(s.name(), s.dir, t.name(), t.isDir()) < 0 {
			s.next()
		}
		entry := t.entry()
		if !s.end() && bytes.Equal(src[s.start:s.stop], entry) {
			d.copy(s.start, s.stop-s.start)
			s.next()
			continue
		}
		d.insert(entry)
	}
	if t.failed() || s.err {
		return nil, false
	}
	return d.finish(), true
}

// treeCursor walks the entries of an encoded tree.
type treeCursor struct {
	data        []byte
	start, stop int // the current entry: data[start:stop]
	nameStart   int
	nameStop    int
	dir         bool
	err         bool
}

// next moves to the following entry; false at the end or on a malformed
// entry (err set).
func (c *treeCursor) next() bool {
	c.start = c.stop
	if c.start >= len(c.data) {
		c.start = len(c.data)
		return false
	}
	rest := c.data[c.start:]
	sp := bytes.IndexByte(rest, ' ')
	nul := bytes.IndexByte(rest, 0)
	if sp <= 0 || nul <= sp+1 || len(rest) < nul+21 {
		c.err = true
		c.start = len(c.data)
		return false
	}
	c.dir = string(rest[:sp]) == "40000"
	c.nameStart, c.nameStop = c.start+sp+1, c.start+nul
	c.stop = c.start + nul + 21
	return true
}

func (c *treeCursor) entry() []byte { return c.data[c.start:c.stop] }
func (c *treeCursor) isDir() bool   { return c.dir }
func (c *treeCursor) failed() bool  { return c.err }

// streamCursor walks the entries of an encoded tree of size bytes read
// from r, holding one entry at a time. Its walk fails if the tree is
// malformed, r fails (a zlib stream's checksum is checked at its end,
// which the walk reads), or r holds other than size bytes.
type streamCursor struct {
	r         *bufio.Reader
	size      int
	read      int    // bytes of the tree read so far
	buf       []byte // the current entry
	nameStart int
	dir       bool
	err       bool
}

func (c *streamCursor) next() bool {
	if c.err {
		return false
	}
	head, err := c.r.ReadSlice(0) // mode, space, name, NUL
	if len(head) == 0 && err == io.EOF && c.read == c.size {
		return false
	}
	sp := bytes.IndexByte(head, ' ')
	if err != nil || sp <= 0 || len(head) < sp+3 {
		c.err = true
		return false
	}
	c.buf = append(c.buf[:0], head...)
	c.nameStart = sp + 1
	c.dir = string(head[:sp]) == "40000"
	n := len(c.buf)
	c.buf = append(c.buf, make([]byte, 20)...)
	if _, err := io.ReadFull(c.r, c.buf[n:]); err != nil {
		c.err = true
		return false
	}
	c.read += len(c.buf)
	if c.read > c.size {
		c.err = true
		return false
	}
	return true
}

func (c *streamCursor) name() []byte  { return c.buf[c.nameStart : len(c.buf)-21] }
func (c *streamCursor) entry() []byte { return c.buf }
func (c *streamCursor) isDir() bool   { return c.dir }
func (c *streamCursor) failed() bool  { return c.err }

// end reports whether the cursor is past the last entry.
func (c *treeCursor) end() bool { return c.start >= len(c.data) }

func (c *treeCursor) name() []byte { return c.data[c.nameStart:c.nameStop] }

// CompareTreeKeys compares two entry names in git's tree order (see
// SortTree): a subtree (adir, bdir) sorts as if its name ended with "/".
// Names hold no "/", so the first byte where the keys differ decides. It
// returns -1, 0 or +1.
func CompareTreeKeys[T string | []byte](a T, adir bool, b T, bdir bool) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	x, y := treeKeyByte(a, adir, n), treeKeyByte(b, bdir, n)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// treeKeyByte is the byte at n of the sort key of a name (-1 past its end).
func treeKeyByte[T string | []byte](k T, dir bool, n int) int {
	switch {
	case n < len(k):
		return int(k[n])
	case dir:
		return '/'
	}
	return -1
}

// deltaBuilder writes git delta instructions, joining adjacent copies and
// adjacent inserts.
type deltaBuilder struct {
	buf                []byte
	copyOff, copyLen   int
	pending            []byte // insert not yet written
	copying, inserting bool
}

func (d *deltaBuilder) copy(off, n int) {
	d.flushInsert()
	if d.copying && d.copyOff+d.copyLen == off {
		d.copyLen += n
		return
	}
	d.flushCopy()
	d.copying, d.copyOff, d.copyLen = true, off, n
}

func (d *deltaBuilder) insert(b []byte) {
	d.flushCopy()
	d.pending = append(d.pending, b...)
	d.inserting = true
}

func (d *deltaBuilder) flushCopy() {
	if !d.copying {
		return
	}
	off, n := d.copyOff, d.copyLen
	for n > 0 {
		k := min(n, maxCopy)
		d.buf = appendCopy(d.buf, off, k)
		off += k
		n -= k
	}
	d.copying = false
}

func (d *deltaBuilder) flushInsert() {
	if !d.inserting {
		return
	}
	p := d.pending
	for len(p) > 0 {
		k := min(len(p), maxInsert)
		d.buf = append(d.buf, byte(k))
		d.buf = append(d.buf, p[:k]...)
		p = p[k:]
	}
	d.pending, d.inserting = d.pending[:0], false
}

func (d *deltaBuilder) finish() []byte {
	d.flushCopy()
	d.flushInsert()
	return d.buf
}

// appendDeltaSize appends a size in a delta header: seven bits a byte, least
// significant first.
func appendDeltaSize(b []byte, n int) []byte {
	return binary.AppendUvarint(b, uint64(n))
}

// appendCopy appends a copy instruction: the offset and size bytes that are
// not zero, flagged in the command byte.
func appendCopy(b []byte, off, n int) []byte {
	if n == maxCopy {
		n = 0 // a size of 0 means 0x10000
	}
	cmd := len(b)
	b = append(b, 0x80)
	for i := 0; i < 4; i++ {
		if v := byte(off >> (8 * i)); v != 0 {
			b[cmd] |= 1 << i
			b = append(b, v)
		}
	}
	for i := 0; i < 3; i++ {
		if v := byte(n >> (8 * i)); v != 0 {
			b[cmd] |= 0x10 << i
			b = append(b, v)
		}
	}
	return b
}
