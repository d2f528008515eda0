package objects

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Mode is the git file mode of a tree entry.
type Mode uint32

// The modes a snapshot tree uses.
const (
	ModeFile Mode = 0o100644
	ModeDir  Mode = 0o040000
)

// TreeEntry is one named entry of a tree: a blob (ModeFile) or a subtree
// (ModeDir).
type TreeEntry struct {
	Name string
	Mode Mode
	ID   ID
}

// IsDir reports whether the entry names a subtree.
func (e TreeEntry) IsDir() bool { return e.Mode == ModeDir }

// SortTree sorts entries into git's tree order, which is the byte order of the
// full paths they lead to.
func SortTree(entries []TreeEntry) {
	cmp := func(a, b TreeEntry) int {
		return CompareTreeKeys(a.Name, a.IsDir(), b.Name, b.IsDir())
	}
	if !slices.IsSortedFunc(entries, cmp) {
		slices.SortFunc(entries, cmp)
	}
}

// EncodeTree returns the canonical git encoding of a tree holding entries,
// which must already be in git's order (see SortTree) with unique names.
func EncodeTree(entries []TreeEntry) ([]byte, error) {
	n := 0
	for _, e := range entries {
		n += len("100644 ") + len(e.Name) + 1 + len(e.ID)
	}
	b := make([]byte, 0, n)
	for i, e := range entries {
		if err := checkEntryName(e.Name); err != nil {
			return nil, err
		}
		if e.Mode != ModeFile && e.Mode != ModeDir {
			return nil, fmt.Errorf("tree entry %q: unsupported mode %o", e.Name, e.Mode)
		}
		if i > 0 && CompareTreeKeys(entries[i-1].Name, entries[i-1].IsDir(), e.Name, e.IsDir()) >= 0 {
			return nil, fmt.Errorf("tree entry %q: entries not in git order or duplicated", e.Name)
		}
		if e.Mode == ModeFile {
			b = append(b, "100644 "...)
		} else {
			b = append(b, "40000 "...)
		}
		b = append(b, e.Name...)
		b = append(b, 0)
		b = append(b, e.ID[:]...)
	}
	return b, nil
}

// TreeEncoder encodes a tree entry by entry, as EncodeTree does, without a
// slice of entries: a flat folder of 300,000 jobs took 48 bytes per entry
// in the slice (and its timestamps mirror as much again, with a name
// allocated per entry) beside the encoded tree. The zero value is an empty
// tree.
type TreeEncoder struct {
	b        []byte
	prev     int // where the previous entry's name starts in b; -1: none
	prevLen  int
	prevDir  bool
	notFirst bool
}

// Grow makes room for n more bytes of entries.
func (t *TreeEncoder) Grow(n int) { t.b = slices.Grow(t.b, n) }

// Add appends an entry: a subtree if dir, else a file. name is copied. It
// returns an error, and adds nothing, if name is not a valid entry name or
// does not come after the previous entry in git's order.
func (t *TreeEncoder) Add(name string, dir bool, id ID) error {
	if err := checkEntryName(name); err != nil {
		return err
	}
	if t.notFirst {
		prev := unsafe.String(unsafe.SliceData(t.b[t.prev:]), t.prevLen)
		if CompareTreeKeys(prev, t.prevDir, name, dir) >= 0 {
			return fmt.Errorf("tree entry %q: entries not in git order or duplicated", name)
		}
	}
	if dir {
		t.b = append(t.b, "40000 "...)
	} else {
		t.b = append(t.b, "100644 "...)
	}
	t.prev, t.prevLen, t.prevDir, t.notFirst = len(t.b), len(name), dir, true
	t.b = append(t.b, name...)
	t.b = append(t.b, 0)
	t.b = append(t.b, id[:]...)
	return nil
}

// Bytes returns the encoded tree.
func (t *TreeEncoder) Bytes() []byte { return t.b }

// DecodeTree parses the content of a git tree object. The names share one
// copy of data (a folder of 50,000 jobs is one allocation, not 50,000).
func DecodeTree(data []byte) ([]TreeEntry, error) {
	return decodeTree(string(data))
}

// DecodeTreeShared is DecodeTree whose names point into data itself, which
// must not change afterwards: a caller that owns data and only reads it
// (verify, checking a flat folder of 300,000 jobs) saves the copy.
func DecodeTreeShared(data []byte) ([]TreeEntry, error) {
	return decodeTree(unsafe.String(unsafe.SliceData(data), len(data)))
}

// ScanTree calls fn with each entry of the encoded tree data, in order, as
// DecodeTree decodes them, until fn returns false, and returns the error
// DecodeTree returns for data (after fn has seen the entries before the
// malformed one). Names point into data, which must not change while they
// are used; nothing is allocated.
func ScanTree(data []byte, fn func(TreeEntry) bool) error {
	return walkDecoded(unsafe.String(unsafe.SliceData(data), len(data)), fn)
}

// EncodingCheck checks that a tree's bytes, Data, are exactly what
// EncodeTree writes for the entries given to Add in turn (those ScanTree
// reads from Data), without building that encoding. The zero value with
// Data set is ready.
type EncodingCheck struct {
	Data    []byte
	off     int
	prev    TreeEntry
	started bool
	differs bool
	err     error
}

// Add checks the next entry.
func (c *EncodingCheck) Add(e TreeEntry) {
	if c.err != nil {
		return
	}
	prev, first := c.prev, !c.started
	c.prev, c.started = e, true
	if err := checkEntryName(e.Name); err != nil {
		c.err = err
		return
	}
	mode := "100644 "
	switch {
	case e.Mode == ModeDir:
		mode = "40000 "
	case e.Mode != ModeFile:
		c.err = fmt.Errorf("tree entry %q: unsupported mode %o", e.Name, e.Mode)
		return
	}
	if !first && CompareTreeKeys(prev.Name, prev.IsDir(), e.Name, e.IsDir()) >= 0 {
		c.err = fmt.Errorf("tree entry %q: entries not in git order or duplicated", e.Name)
		return
	}
	n := len(mode) + len(e.Name) + 1 + len(e.ID)
	if c.differs || c.off+n > len(c.Data) {
		// Go on: an error of EncodeTree's further on comes first.
		c.differs = true
		return
	}
	b := c.Data[c.off : c.off+n]
	c.differs = string(b[:len(mode)]) != mode || string(b[len(mode):len(mode)+len(e.Name)]) != e.Name ||
		b[len(mode)+len(e.Name)] != 0 || ID(b[n-20:]) != e.ID
	c.off += n
}

// Err returns nil if Data is exactly EncodeTree of the entries added, the
// error EncodeTree returns for them if it fails, and else an error wrapping
// ErrCorrupt.
func (c *EncodingCheck) Err() error {
	if c.err != nil {
		return c.err
	}
	if c.differs || c.off != len(c.Data) {
		return fmt.Errorf("%w: tree not encoded as git does", ErrCorrupt)
	}
	return nil
}

func decodeTree(all string) ([]TreeEntry, error) {
	out := make([]TreeEntry, 0, len(all)/48+1)
	err := walkDecoded(all, func(e TreeEntry) bool {
		out = append(out, e)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkDecoded is ScanTree over the tree's bytes as a string.
func walkDecoded(all string, fn func(TreeEntry) bool) error {
	for i := 0; i < len(all); {
		sp := strings.IndexByte(all[i:], ' ')
		if sp < 0 {
			return fmt.Errorf("%w: tree entry without mode", ErrCorrupt)
		}
		m, err := strconv.ParseUint(all[i:i+sp], 8, 32)
		if err != nil {
			return fmt.Errorf("%w: tree entry mode %q", ErrCorrupt, all[i:i+sp])
		}
		i += sp + 1
		nul := strings.IndexByte(all[i:], 0)
		if nul < 0 || len(all)-i < nul+1+20 {
			return fmt.Errorf("%w: truncated tree entry", ErrCorrupt)
		}
		e := TreeEntry{Name: all[i : i+nul], Mode: normalMode(Mode(m))}
		copy(e.ID[:], all[i+nul+1:i+nul+21])
		i += nul + 21
		if err := checkEntryName(e.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// WalkTree calls fn for each entry of the encoded tree data, in order,
// without allocating: name is only valid during the call. It stops when fn
// returns false, and returns an error wrapping ErrCorrupt at the first
// malformed entry it reaches.
func WalkTree(data []byte, fn func(mode Mode, name []byte, id ID) bool) error {
	for off := 0; off < len(data); {
		m, name, id, next, err := NextTreeEntry(data, off)
		if err != nil {
			return err
		}
		if !fn(m, name, id) {
			return nil
		}
		off = next
	}
	return nil
}

// NextTreeEntry decodes the entry of the encoded tree data that starts at
// byte off, and returns the offset of the entry after it (len(data) after
// the last one). name is a slice of data. It returns an error wrapping
// ErrCorrupt if the entry is malformed.
func NextTreeEntry(data []byte, off int) (mode Mode, name []byte, id ID, next int, err error) {
	rest := data[off:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || sp > 7 {
		return 0, nil, id, 0, fmt.Errorf("%w: tree entry without mode", ErrCorrupt)
	}
	var m Mode
	for _, c := range rest[:sp] {
		if c < '0' || c > '7' {
			return 0, nil, id, 0, fmt.Errorf("%w: tree entry mode %q", ErrCorrupt, rest[:sp])
		}
		m = m<<3 | Mode(c-'0')
	}
	rest = rest[sp+1:]
	nul := bytes.IndexByte(rest, 0)
	if nul < 0 || len(rest) < nul+1+20 {
		return 0, nil, id, 0, fmt.Errorf("%w: truncated tree entry", ErrCorrupt)
	}
	copy(id[:], rest[nul+1:nul+21])
	return normalMode(m), rest[:nul:nul], id, off + sp + 1 + nul + 21, nil
}

// normalMode maps the modes git may write for regular files onto ModeFile.
func normalMode(m Mode) Mode {
	switch m {
	case ModeDir:
		return ModeDir
	case 0o100644, 0o100755, 0o100664:
		return ModeFile
	}
	return m
}

func checkEntryName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("tree entry name %q is not allowed", name)
	case strings.IndexByte(name, '/') >= 0, strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("tree entry name %q contains a slash or NUL", name)
	}
	return nil
}
