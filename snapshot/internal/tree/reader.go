package tree

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/objects"
)

// Objects is what reading trees needs of the object store
// (*objects.Repository).
type Objects interface {
	// ReadKind returns the content of object id, which must be of kind k.
	ReadKind(id objects.ID, k objects.Kind) ([]byte, error)
}

// Reader reads the snapshot trees of one repository. It shares folders
// between every snapshot it opens: resolving "latest" and then restoring
// from it read the same folders, and consecutive snapshots share most of
// theirs. A tree's id fixes its content, so a cached folder never goes
// stale. The cache holds folders of at most maxCachedBytes of encoded trees
// (decoded, about three times that) and starts afresh when full.
type Reader struct {
	objs Objects

	mu    sync.Mutex
	dirs  map[objects.ID]*dir
	bytes int
}

const maxCachedBytes = 8 << 20

// NewReader returns a Reader of the trees of objs.
func NewReader(objs Objects) *Reader { return &Reader{objs: objs} }

// load returns the folder tree id, from the cache or the object store.
func (r *Reader) load(id objects.ID) (*dir, error) {
	d, fresh, err := r.read(id)
	if err != nil || !fresh {
		return d, err
	}
	r.keep(d)
	return d, nil
}

// keep caches folder d, read afresh.
func (r *Reader) keep(d *dir) {
	id := d.id
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dirs == nil || r.bytes+len(d.raw) > maxCachedBytes {
		r.dirs, r.bytes = map[objects.ID]*dir{}, 0
	}
	if len(d.raw) <= maxCachedBytes {
		r.dirs[id] = d
		r.bytes += len(d.raw)
	}
}

// read returns the folder tree id from the cache, or read from the object
// store (fresh) without putting it there: for a reader of each folder once
// (Compare), so that what it decodes is garbage once it is done with it.
func (r *Reader) read(id objects.ID) (d *dir, fresh bool, err error) {
	r.mu.Lock()
	d = r.dirs[id]
	r.mu.Unlock()
	if d != nil {
		return d, false, nil
	}
	raw, err := r.objs.ReadKind(id, objects.KindTree)
	if err != nil {
		return nil, false, err
	}
	return &dir{id: id, raw: raw}, true, nil
}

// Root is one snapshot's tree opened for reading. Lookups go by path
// through the folders, never through the whole tree; the folders met on
// the way are remembered by path.
type Root struct {
	r    *Reader
	id   objects.ID
	name string // the snapshot, for messages ("snapshot 0123456789ab")

	mu   sync.Mutex
	dirs map[string]*dir // folder path without slashes at the ends ("" is the root)
	// walking holds the big folders a walk is streaming, by path, so that
	// the folders below them are found without reading them again.
	walking map[string]*dir
}

// Open opens the snapshot tree whose root tree is root; name describes the
// snapshot in error messages.
func (r *Reader) Open(root objects.ID, name string) *Root {
	return &Root{r: r, id: root, name: name, dirs: map[string]*dir{}}
}

// dir returns the tree of folder path ("" for the root, "cube", "dict/T/C",
// ".metastore/timestamps/cube"), or nil if there is no such folder.
func (t *Root) dir(path string) (*dir, error) {
	t.mu.Lock()
	d, ok := t.dirs[path]
	if !ok {
		d, ok = t.walking[path]
	}
	t.mu.Unlock()
	if ok {
		return d, nil
	}
	id := t.id
	if path != "" {
		parentPath, name := splitDir(path)
		parent, err := t.dir(parentPath)
		if err != nil || parent == nil {
			return nil, err
		}
		e, ok, err := parent.find(name)
		if err != nil {
			return nil, t.corrupt(parentPath, err)
		}
		if !ok || !e.IsDir() {
			t.remember(path, nil)
			return nil, nil
		}
		id = e.ID
	}
	d, err := t.r.load(id)
	if err != nil {
		return nil, t.corrupt(path, err)
	}
	t.remember(path, d)
	return d, nil
}

func (t *Root) remember(path string, d *dir) {
	t.mu.Lock()
	t.dirs[path] = d
	t.mu.Unlock()
}

// corrupt describes a damaged folder of the snapshot.
func (t *Root) corrupt(path string, err error) error {
	return fmt.Errorf("%w: %s, folder /%s: %v", ErrCorrupt, t.name, path, err)
}

// entries returns the decoded entries of folder d at path.
func (t *Root) entries(path string, d *dir) ([]objects.TreeEntry, error) {
	entries, err := d.decode()
	if err != nil {
		return nil, t.corrupt(path, err)
	}
	return entries, nil
}

// TreeAt returns the id of the folder tree at path ("" for the root), or
// the zero ID if there is none or it cannot be read. Backups use it to
// find the previous version of a folder, a delta base: it reads the
// folders above path, never the tree at path itself.
func (t *Root) TreeAt(path string) objects.ID {
	if path == "" {
		return t.id
	}
	parentPath, name := splitDir(path)
	parent, err := t.dir(parentPath)
	if err != nil || parent == nil {
		return objects.ID{}
	}
	e, ok, err := parent.find(name)
	if err != nil || !ok || !e.IsDir() {
		return objects.ID{}
	}
	return e.ID
}

// Folder returns the entries of resource folder dir ("" for the root,
// "dict/T"), the records left out; ok is false if there is no such folder.
func (t *Root) Folder(dir string) (entries []objects.TreeEntry, ok bool, err error) {
	d, err := t.dir(dir)
	if err != nil || d == nil {
		return nil, false, err
	}
	entries, err = t.entries(dir, d)
	if err != nil {
		return nil, false, err
	}
	if dir == "" {
		kept := entries[:0:0]
		for _, e := range entries {
			if e.Name != RecordsDir {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	return entries, true, nil
}

// Timestamps returns the timestamp records of resource folder dir, by
// resource name.
func (t *Root) Timestamps(dir string) (map[string]int64, error) {
	d, err := t.dir(MirrorPath(dir))
	if err != nil || d == nil {
		return map[string]int64{}, err
	}
	m, bad, err := d.timestamps()
	if err != nil {
		return nil, t.corrupt(dir, err)
	}
	if bad != "" {
		return nil, t.badRecord(bad, dir)
	}
	return m, nil
}

func (t *Root) badRecord(entry, dir string) error {
	return fmt.Errorf("%w: %s: bad timestamp entry %q in /%s", ErrCorrupt, t.name, entry, dir)
}

// NoTimestamp is the error of a resource without a timestamp record.
func (t *Root) NoTimestamp(key string) error {
	return fmt.Errorf("%w: %s has no timestamp for %s", ErrCorrupt, t.name, key)
}

// file finds the entry of resource key ("/cube/x.json"); ok is false if the
// snapshot has no such resource (or a folder there).
func (t *Root) file(key string) (e objects.TreeEntry, ok bool, err error) {
	dirPath, name := splitDir(key[1:])
	d, err := t.dir(dirPath)
	if err != nil || d == nil {
		return e, false, err
	}
	e, ok, err = d.find(name)
	if err != nil {
		return e, false, t.corrupt(dirPath, err)
	}
	return e, ok && !e.IsDir(), nil
}

// Exists reports whether the snapshot holds resource key, searching only
// the key's folder.
func (t *Root) Exists(key string) (bool, error) {
	_, ok, err := t.file(key)
	return ok, err
}

// Lookup returns the blob and the timestamp of resource key ("/cube/x.json",
// a valid key). A resource the snapshot lacks gives an error wrapping
// fs.ErrNotExist.
func (t *Root) Lookup(key string) (objects.ID, int64, error) {
	e, ok, err := t.file(key)
	if err != nil {
		return objects.ID{}, 0, err
	}
	if !ok {
		return objects.ID{}, 0, fmt.Errorf("%s in %s: %w", key, t.name, fs.ErrNotExist)
	}
	dirPath, name := splitDir(key[1:])
	md, err := t.dir(MirrorPath(dirPath))
	if err != nil {
		return objects.ID{}, 0, err
	}
	var ms int64
	ok = false
	if md != nil {
		var bad string
		ms, ok, bad, err = md.timestamp(name)
		if err != nil {
			return objects.ID{}, 0, t.corrupt(dirPath, err)
		}
		if bad != "" {
			return objects.ID{}, 0, t.badRecord(bad, dirPath)
		}
	}
	if !ok {
		return objects.ID{}, 0, t.NoTimestamp(key)
	}
	return e.ID, ms, nil
}

// Entry is a resource of a snapshot tree.
type Entry struct {
	// Key is the resource key ("/cube/x.json").
	Key string
	// ID is its blob.
	ID objects.ID
	// Timestamp is its timestamp record (Walk with timestamps only).
	Timestamp int64
}

// Walk calls fn for each resource whose key starts with prefix, in byte
// order of key, reading only the folders that may hold such keys; with
// timestamps, each Entry has its timestamp record.
func (t *Root) Walk(ctx context.Context, prefix string, timestamps bool, fn func(Entry) error) error {
	return t.walk(ctx, "", prefix, timestamps, fn)
}

func (t *Root) walk(ctx context.Context, dir, prefix string, timestamps bool, fn func(Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if raw, err := t.bigFolder(dir); raw != nil || err != nil {
		if err != nil {
			return err
		}
		return t.stream(ctx, dir, raw, prefix, timestamps, fn)
	}
	entries, ok, err := t.Folder(dir)
	if err != nil || !ok {
		return err
	}
	var ts map[string]int64
	base := "/"
	if dir != "" {
		base = "/" + dir + "/"
	}
	for _, e := range entries {
		full := base + e.Name
		if e.IsDir() {
			if !strings.HasPrefix(full+"/", prefix) && !strings.HasPrefix(prefix, full+"/") {
				continue
			}
			if err := t.walk(ctx, full[1:], prefix, timestamps, fn); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		ent := Entry{Key: full, ID: e.ID}
		if timestamps {
			if ts == nil {
				if ts, err = t.Timestamps(dir); err != nil {
					return err
				}
			}
			var ok bool
			if ent.Timestamp, ok = ts[e.Name]; !ok {
				return t.NoTimestamp(full)
			}
		}
		if err := fn(ent); err != nil {
			return err
		}
	}
	return nil
}

// encoding returns the encoding of tree id: the cached folder's while it
// is not decoded, else read afresh (a comparison merges encodings in place).
func (r *Reader) encoding(id objects.ID) ([]byte, error) {
	d, _, err := r.read(id) // never cached: see TestCompareCachesNoFolder
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	raw, decoded := d.raw, d.decoded
	d.mu.Unlock()
	if decoded {
		return r.objs.ReadKind(id, objects.KindTree)
	}
	return raw, nil
}

// Forget drops the folders the snapshot keeps by path: for a reader done
// with its lookups (a restore, once it knows what to write). Lookups after
// it read them again.
func (t *Root) Forget() {
	t.mu.Lock()
	clear(t.dirs)
	t.mu.Unlock()
}

// Kept returns the paths of the folders the snapshot keeps (read and not
// missing), sorted: for tests of what a reader holds.
func (t *Root) Kept() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for p, d := range t.dirs {
		if d != nil {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
