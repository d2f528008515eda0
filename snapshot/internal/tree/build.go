package tree

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/kylin-tools/metastore/objects"
	"golang.org/x/sync/errgroup"
)

// Item is a resource to record: its key, blob and timestamp.
type Item struct {
	Key       string
	ID        objects.ID
	Timestamp int64
}

// Items are the resources of a snapshot, sorted by key: an interface, not
// a slice, so that a caller's own records serve as they are (a copy of a
// million Items took 48 MB beside them).
type Items interface {
	Len() int
	At(i int) Item
}

// ItemSlice is Items held in a slice.
type ItemSlice []Item

func (s ItemSlice) Len() int      { return len(s) }
func (s ItemSlice) At(i int) Item { return s[i] }

// WriteFunc stores an object (or, in a dry run, only names it). base is an
// earlier version of the object (the tree at the same path in the previous
// snapshot), which the store may use as a delta base; zero if unknown.
type WriteFunc func(k objects.Kind, data []byte, base objects.ID) (objects.ID, error)

// Memo remembers the trees of folders between backups (the tree memo of
// package snapshot): a folder whose fingerprint (the names, blobs and
// timestamps of everything below it) did not change keeps its tree and
// timestamps tree, without encoding or hashing them again.
type Memo interface {
	// Get returns the trees remembered for folder path ("cube", "dict/T")
	// with fingerprint fp, if the repository still has them.
	Get(path string, fp [20]byte) (tree, mirror objects.ID, ok bool)
	// Put remembers the trees written for folder path.
	Put(path string, fp [20]byte, tree, mirror objects.ID)
}

// Builder writes the trees of a snapshot.
type Builder struct {
	// Write stores each tree (and the empty blob of the timestamp records).
	Write WriteFunc
	// Has says whether the repository already holds an object, whose
	// write is then skipped; nil writes every tree.
	Has func(objects.ID) bool
	// Prev is the previous snapshot's tree, whose folders are the delta
	// bases of the new versions of the same folders; nil for none.
	Prev *Root
	// Memo, if not nil, remembers the trees of unchanged folders.
	Memo Memo
	// Workers is how many large trees are stored at once, in the
	// background while the walk goes on (a folder of thousands of
	// resources); below 2, every tree is stored in turn. The largest
	// (syncTreeSize) are always stored in turn.
	Workers int
	// Passed, if not nil, is told after each folder is written that the
	// walk is done with the items before position hi: it reads them no
	// more, and the caller may release them (a backup's scan records and
	// paths, while the trees of the folders after them are encoded).
	Passed func(hi int)

	empty     objects.ID
	haveEmpty bool
	late      *errgroup.Group
	// The root's entries and those of its timestamps mirror, gathered by
	// Add, and the root's names so far.
	rootEntries, rootMirror []objects.TreeEntry
	rootNames               map[string]bool
	err                     error // of an Add, Finish's
}

// asyncTreeSize is the size above which a tree is stored in the
// background, and syncTreeSize the size from which it is stored in turn
// again: a flat folder of 300,000 jobs is a 20 MB tree and a 25 MB
// mirror, and storing it in the background held it (and its compressed
// entry, and in a churn backup its previous version and their delta)
// while the walk encoded the next ones beside it.
const (
	asyncTreeSize = 64 << 10
	syncTreeSize  = 2 << 20
)

// Build writes the trees of a snapshot of items, sorted by key, and
// returns the root tree: the resource folders and the records with their
// timestamps mirror (FORMAT.md). A key that is both a resource and a folder
// cannot be represented and is an error.
func (b *Builder) Build(items Items) (objects.ID, error) {
	b.Add(items) // an error is Finish's
	return b.Finish()
}

// Add writes the trees of the folders of items, sorted by key, and keeps
// their entries for the root, which Finish writes: a snapshot's resources
// may come in several parts, in key order, each holding whole folders of
// the root, so that the caller can release each part once it is added (a
// backup writes a folder's trees as soon as its scan has passed it).
func (b *Builder) Add(items Items) error {
	if b.err != nil {
		return b.err
	}
	if b.late == nil {
		b.late = &errgroup.Group{}
		if b.Workers >= 2 {
			b.late.SetLimit(b.Workers)
		}
		b.rootNames = map[string]bool{}
	}
	entries, mirror, err := b.dir(items, 0, items.Len(), 1)
	for _, e := range entries {
		if err == nil && b.rootNames[e.Name] {
			err = errBoth("/" + e.Name)
		}
		b.rootNames[e.Name] = true
	}
	if err != nil {
		b.err = err
		return err
	}
	b.rootEntries = append(b.rootEntries, entries...)
	b.rootMirror = append(b.rootMirror, mirror...)
	return nil
}

// Finish writes the root tree of the resources added, once every tree
// stored in the background is; if an Add failed, it writes nothing and
// returns that error.
func (b *Builder) Finish() (objects.ID, error) {
	if b.late == nil {
		b.Add(ItemSlice(nil))
	}
	var root objects.ID
	err := b.err
	if err == nil {
		root, err = b.root()
	}
	if lateErr := b.late.Wait(); err == nil {
		err = lateErr
	}
	return root, err
}

// Abort waits for the trees being stored in the background, and writes
// nothing more: the recording failed.
func (b *Builder) Abort() {
	if b.late != nil {
		b.late.Wait()
	}
	b.err = errAborted
}

var errAborted = errors.New("tree builder aborted")

func (b *Builder) root() (objects.ID, error) {
	entries, mirror := b.rootEntries, b.rootMirror
	objects.SortTree(mirror)
	tsTree, err := b.tree(MirrorPath(""), mirror)
	if err != nil {
		return objects.ID{}, err
	}
	tsEntry := objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: tsTree}
	recID, err := b.tree(RecordsDir, []objects.TreeEntry{tsEntry})
	if err != nil {
		return objects.ID{}, err
	}
	entries = append(entries, objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: recID})
	objects.SortTree(entries)
	return b.tree("", entries)
}

// tree writes the tree at path (slash-separated tree names from the root).
func (b *Builder) tree(path string, entries []objects.TreeEntry) (objects.ID, error) {
	data, err := objects.EncodeTree(entries)
	if err != nil {
		return objects.ID{}, err
	}
	return b.store(path, data)
}

// store writes the encoded tree data at path, in the background if it is
// large.
func (b *Builder) store(path string, data []byte) (objects.ID, error) {
	id := objects.HashObject(objects.KindTree, data)
	if b.Has != nil && b.Has(id) {
		return id, nil
	}
	var base objects.ID
	if b.Prev != nil {
		base = b.Prev.TreeAt(path)
	}
	if len(data) < asyncTreeSize || len(data) >= syncTreeSize || b.Workers < 2 {
		return b.Write(objects.KindTree, data, base)
	}
	b.late.Go(func() error {
		_, err := b.Write(objects.KindTree, data, base)
		return err
	})
	return id, nil
}

// flatTree encodes the tree of a folder without subfolders, items lo to hi
// (see dir), straight from its items: a flat folder of 300,000 jobs held
// two slices of entries (48 bytes each) and a mirror name per resource
// beside the encoded trees, about 160 bytes per resource. ok is false, and
// nothing is encoded, if the folder has a subfolder or a name twice: dir
// then does it, and reports it. Its timestamps mirror is encoded apart
// (flatMirror), once this tree is stored, so that a large folder never
// holds both encodings at once.
func flatTree(items Items, lo, hi, off int) (tree []byte, ok bool) {
	names := 0
	for i := lo; i < hi; i++ {
		rest := items.At(i).Key[off:]
		if strings.IndexByte(rest, '/') >= 0 {
			return nil, false
		}
		names += len(rest)
	}
	var t objects.TreeEncoder
	t.Grow(names + (hi-lo)*(len("100644 ")+1+20))
	for i := lo; i < hi; i++ {
		it := items.At(i)
		if t.Add(it.Key[off:], false, it.ID) != nil {
			return nil, false
		}
	}
	return t.Bytes(), true
}

// flatMirror encodes the timestamps mirror of a flat folder whose tree
// flatTree encoded. Mirror names can sort otherwise than the names
// (Kylin's "JOB" and "JOB-00" in /execute_output: "JOB-00@..." comes before
// "JOB@..."): the mirror is then encoded in the order of a sorted index of
// positions (4 bytes a resource).
func (b *Builder) flatMirror(items Items, lo, hi, off int) ([]byte, error) {
	empty, err := b.emptyBlob()
	if err != nil {
		return nil, err
	}
	names := 0
	sorted := true
	var name, prev []byte
	for i := lo; i < hi; i++ {
		it := items.At(i)
		names += len(it.Key) - off
		name = AppendMirrorEntry(name[:0], it.Key[off:], it.Timestamp)
		sorted = sorted && (i == lo || string(prev) < string(name))
		name, prev = prev, name
	}
	order := mirrorOrder(items, lo, hi, off, sorted)
	var m objects.TreeEncoder
	m.Grow(names + (hi-lo)*(len("100644 ")+1+20+len("@1700000000000")))
	for k := range hi - lo {
		i := lo + k
		if order != nil {
			i = int(order[k])
		}
		it := items.At(i)
		name = AppendMirrorEntry(name[:0], it.Key[off:], it.Timestamp)
		if err := m.Add(unsafe.String(unsafe.SliceData(name), len(name)), false, empty); err != nil {
			// Distinct names (flatTree checked) give distinct mirror names.
			return nil, fmt.Errorf("timestamps of %s: %w", items.At(lo).Key[:off], err)
		}
	}
	return m.Bytes(), nil
}

// mirrorOrder returns the positions lo to hi sorted by mirror name; nil if
// they are in that order already.
func mirrorOrder(items Items, lo, hi, off int, sorted bool) []int32 {
	if sorted {
		return nil
	}
	order := make([]int32, hi-lo)
	for k := range order {
		order[k] = int32(lo + k)
	}
	var x, y []byte
	slices.SortFunc(order, func(a, b int32) int {
		ia, ib := items.At(int(a)), items.At(int(b))
		x = AppendMirrorEntry(x[:0], ia.Key[off:], ia.Timestamp)
		y = AppendMirrorEntry(y[:0], ib.Key[off:], ib.Timestamp)
		return bytes.Compare(x, y)
	})
	return order
}

// dir returns the entries of the folder whose resources are items lo to
// hi (not included), all of which share the first `off` bytes of their key (the folder's path with
// its slash), and the entries of its timestamps mirror, in which each
// resource is an empty blob named "<name>@<milliseconds>" and each subfolder
// a tree (see FORMAT.md).
func (b *Builder) dir(items Items, lo, hi, off int) ([]objects.TreeEntry, []objects.TreeEntry, error) {
	// Flat folders, the large ones, are encoded straight from their items
	// (see flat): the entries here are a nested folder's, a few per
	// subfolder, so they are not sized by the resources below.
	var entries, mirror []objects.TreeEntry
	for i := lo; i < hi; {
		it := items.At(i)
		rest := it.Key[off:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			if len(entries) > 0 && entries[len(entries)-1].Name == rest {
				return nil, nil, errBoth(it.Key)
			}
			empty, err := b.emptyBlob()
			if err != nil {
				return nil, nil, err
			}
			entries = append(entries, objects.TreeEntry{Name: rest, Mode: objects.ModeFile, ID: it.ID})
			mirror = append(mirror, objects.TreeEntry{Name: MirrorEntry(rest, it.Timestamp), Mode: objects.ModeFile, ID: empty})
			i++
			continue
		}
		name := rest[:slash]
		prefix := it.Key[:off+slash+1]
		j := i + 1
		for j < hi && strings.HasPrefix(items.At(j).Key, prefix) {
			j++
		}
		for _, e := range entries {
			if e.Name == name {
				return nil, nil, errBoth(it.Key[:off+slash])
			}
		}
		id, subTS, err := b.subdir(items, i, j, off+slash+1)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, objects.TreeEntry{Name: name, Mode: objects.ModeDir, ID: id})
		mirror = append(mirror, objects.TreeEntry{Name: EscapeDir(name), Mode: objects.ModeDir, ID: subTS})
		i = j
		if b.Passed != nil {
			b.Passed(j)
		}
	}
	objects.SortTree(entries)
	objects.SortTree(mirror)
	return entries, mirror, nil
}

func errBoth(key string) error {
	return fmt.Errorf("resource %s is also a folder: a snapshot cannot hold both", key)
}

// subdir writes the tree and the timestamps mirror of a folder below the
// root, whose resources are items lo to hi (see dir), or takes them from
// the memo.
func (b *Builder) subdir(items Items, lo, hi, off int) (objects.ID, objects.ID, error) {
	path := items.At(lo).Key[1 : off-1]
	var fp [20]byte
	if b.Memo != nil {
		fp = fingerprint(items, lo, hi, off)
		if tree, mirror, ok := b.Memo.Get(path, fp); ok {
			return tree, mirror, nil
		}
	}
	id, mid, err := b.folder(items, lo, hi, off, path)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	if b.Memo != nil {
		b.Memo.Put(path, fp, id, mid)
	}
	return id, mid, nil
}

// folder writes the tree and the timestamps mirror of the folder at path,
// items lo to hi (see dir): encoded straight from the items if it has no
// subfolder (flatTree, then flatMirror once the tree is stored), else from
// its entries.
func (b *Builder) folder(items Items, lo, hi, off int, path string) (objects.ID, objects.ID, error) {
	if tree, ok := flatTree(items, lo, hi, off); ok {
		id, err := b.store(path, tree)
		if err != nil {
			return objects.ID{}, objects.ID{}, err
		}
		mirror, err := b.flatMirror(items, lo, hi, off)
		if err != nil {
			return objects.ID{}, objects.ID{}, err
		}
		mid, err := b.store(MirrorPath(path), mirror)
		return id, mid, err
	}
	entries, mentries, err := b.dir(items, lo, hi, off)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	id, err := b.tree(path, entries)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	mid, err := b.tree(MirrorPath(path), mentries)
	return id, mid, err
}

// fingerprint identifies the content of a folder, items lo to hi: the
// names, objects and timestamps of everything below it.
func fingerprint(items Items, lo, hi, off int) [20]byte {
	// SHA-1 over many tiny writes is several times slower than over large
	// ones; a buffer of the whole folder (a flat folder of 300,000 jobs:
	// over 20 MB) is no faster than one of 64 KB written when full.
	h := sha1.New()
	buf := make([]byte, 0, fingerprintBuffer)
	for i := lo; i < hi; i++ {
		it := items.At(i)
		if len(buf)+len(it.Key)-off+29 > cap(buf) && len(buf) > 0 {
			h.Write(buf)
			buf = buf[:0]
		}
		buf = append(buf, it.Key[off:]...)
		buf = append(buf, 0)
		buf = append(buf, it.ID[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(it.Timestamp))
	}
	h.Write(buf)
	var fp [20]byte
	h.Sum(fp[:0])
	return fp
}

// fingerprintBuffer is the size of fingerprint's buffer.
const fingerprintBuffer = 64 << 10

func (b *Builder) emptyBlob() (objects.ID, error) {
	if !b.haveEmpty {
		id, err := b.Write(objects.KindBlob, nil, objects.ID{})
		if err != nil {
			return id, err
		}
		b.empty, b.haveEmpty = id, true
	}
	return b.empty, nil
}
