package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
)

// Snapshot is a recorded snapshot opened for reading. It is a
// metastore.Source (and EntryLister), so everything that reads a metastore
// (scope resolution, restore, diff) reads a snapshot the same way. Lookups go
// by path through the trees, never through the whole snapshot.
type Snapshot struct {
	Info Info

	repo *Repository
	mu   sync.Mutex
	dirs map[string]*dirTree // folder path without slashes at the ends ("" is the root)
}

// dirTree is a folder of a snapshot. The first few lookups search the
// tree's encoding in place; a walk, or more lookups, decode it once into
// entries and an index by name. Looking up one cube in a folder of
// thousands so costs one inflate and one pass over the bytes.
type dirTree struct {
	mu        sync.Mutex
	raw       []byte // the tree's encoding, until decoded
	lookups   int    // searches of raw so far
	tsLookups int
	decoded   bool
	err       error // from decoding
	entries   []objects.TreeEntry
	index     map[string]int
	ts        map[string]int64 // timestamp records of a mirror folder, once parsed
}

// scanLookups is how many lookups in a folder search its encoding before
// it is decoded.
const scanLookups = 8

// decode returns the folder's entries and their index by name, decoding
// them once. A snapshot holds files and folders only (FORMAT.md): a
// symbolic link or a submodule entry would otherwise be restored as a file
// holding its target, so either is an error. So is a name listed twice (as
// two files, or a file and a folder): git never writes one, and readers
// that took the first or the last entry would disagree on the content.
func (d *dirTree) decode() ([]objects.TreeEntry, map[string]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.decoded {
		d.decoded = true
		d.entries, d.err = objects.DecodeTree(d.raw)
		for _, e := range d.entries {
			if d.err == nil {
				d.err = checkEntryMode(e.Name, e.Mode)
			}
		}
		if d.err == nil {
			d.index = make(map[string]int, len(d.entries))
			for i, e := range d.entries {
				if _, dup := d.index[e.Name]; dup {
					d.err, d.index = errListedTwice(e.Name), nil
					break
				}
				d.index[e.Name] = i
			}
		}
		d.raw = nil // the entries say it all now
	}
	return d.entries, d.index, d.err
}

func errListedTwice(name string) error {
	return fmt.Errorf("entry %q is listed twice", name)
}

func checkEntryMode(name string, m objects.Mode) error {
	if m != objects.ModeFile && m != objects.ModeDir {
		return fmt.Errorf("entry %q has mode %o, not a file or folder", name, m)
	}
	return nil
}

// find returns the entry named name, if there is one.
func (d *dirTree) find(name string) (objects.TreeEntry, bool, error) {
	d.mu.Lock()
	d.lookups++
	raw := d.raw
	scan := !d.decoded && d.lookups <= scanLookups
	d.mu.Unlock()
	if !scan {
		entries, index, err := d.decode()
		if err != nil {
			return objects.TreeEntry{}, false, err
		}
		i, ok := index[name]
		if !ok {
			return objects.TreeEntry{}, false, nil
		}
		return entries[i], true, nil
	}
	// The whole encoding is searched, so that a name listed twice is an
	// error here as it is once decoded.
	var found objects.TreeEntry
	ok, twice := false, false
	err := objects.WalkTree(raw, func(m objects.Mode, n []byte, id objects.ID) bool {
		if string(n) != name {
			return true
		}
		if ok {
			twice = true
			return false
		}
		found, ok = objects.TreeEntry{Name: name, Mode: m, ID: id}, true
		return true
	})
	if err == nil && twice {
		err = errListedTwice(name)
	}
	if err == nil && ok {
		err = checkEntryMode(name, found.Mode)
	}
	return found, ok, err
}

// timestamps returns the timestamp records of a mirror folder, parsing them
// once; bad reports the first malformed record.
func (d *dirTree) timestamps() (m map[string]int64, bad string, err error) {
	d.mu.Lock()
	m = d.ts
	d.mu.Unlock()
	if m != nil {
		return m, "", nil
	}
	entries, _, err := d.decode()
	if err != nil {
		return nil, "", err
	}
	m = make(map[string]int64, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name, ms, ok := parseTimestampName(e.Name)
		if !ok {
			return nil, e.Name, nil
		}
		if _, dup := m[name]; dup {
			return nil, "", fmt.Errorf("two timestamp records for %q", name)
		}
		m[name] = ms
	}
	d.mu.Lock()
	d.ts = m
	d.mu.Unlock()
	return m, "", nil
}

// timestamp returns the timestamp a mirror folder records for name,
// searching the encoding for "name@..." for the first few lookups.
func (d *dirTree) timestamp(name string) (ms int64, ok bool, bad string, err error) {
	d.mu.Lock()
	d.tsLookups++
	raw := d.raw
	scan := d.ts == nil && !d.decoded && d.tsLookups <= scanLookups
	d.mu.Unlock()
	if !scan {
		m, bad, err := d.timestamps()
		if err != nil || bad != "" {
			return 0, false, bad, err
		}
		ms, ok = m[name]
		return ms, ok, "", nil
	}
	twice := false
	err = objects.WalkTree(raw, func(m objects.Mode, n []byte, _ objects.ID) bool {
		if m == objects.ModeDir || len(n) <= len(name) || n[len(name)] != '@' || string(n[:len(name)]) != name {
			return true
		}
		if rn, t, good := parseTimestampName(string(n)); good && rn == name {
			if ok {
				twice = true
				return false
			}
			ms, ok = t, true
		}
		return true
	})
	if err == nil && twice {
		return 0, false, "", fmt.Errorf("two timestamp records for %q", name)
	}
	return ms, ok, "", err
}

// treeCache shares folders between the snapshots a repository opens:
// resolving "latest" and then restoring from it read the same folders, and
// consecutive snapshots share most of theirs. A tree's id fixes its content,
// so an entry never goes stale. The cache holds folders of at most
// maxCachedBytes of encoded trees (decoded, about three times that) and
// starts afresh when full.
type treeCache struct {
	mu    sync.Mutex
	dirs  map[objects.ID]*dirTree
	bytes int
}

const maxCachedBytes = 8 << 20

func (c *treeCache) get(id objects.ID) *dirTree {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirs[id]
}

func (c *treeCache) put(id objects.ID, d *dirTree) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(d.raw) // put before anyone decodes it
	if c.dirs == nil || c.bytes+n > maxCachedBytes {
		c.dirs, c.bytes = map[objects.ID]*dirTree{}, 0
	}
	if n <= maxCachedBytes {
		c.dirs[id] = d
		c.bytes += n
	}
}

// Open opens the snapshot ref names (see Resolve; the scope used for
// "latest" is the whole system).
func (r *Repository) Open(ctx context.Context, ref string) (*Snapshot, error) {
	in, err := r.Resolve(ctx, ref, scopeSystem())
	if err != nil {
		return nil, err
	}
	return r.open(in), nil
}

// OpenInfo opens the snapshot in describes.
func (r *Repository) OpenInfo(in Info) *Snapshot { return r.open(in) }

func (r *Repository) open(in Info) *Snapshot {
	return &Snapshot{Info: in, repo: r, dirs: map[string]*dirTree{}}
}

// Describe names the snapshot for messages.
func (s *Snapshot) Describe() string { return "snapshot " + s.Info.ID.Short() }

// dir returns the tree of folder path ("" for the root, "cube", "dict/T/C"),
// or nil if there is no such folder.
func (s *Snapshot) dir(path string) (*dirTree, error) {
	s.mu.Lock()
	d, ok := s.dirs[path]
	s.mu.Unlock()
	if ok {
		return d, nil
	}
	var id objects.ID
	if path == "" {
		id = s.Info.tree
	} else {
		parentPath, name := splitDir(path)
		parent, err := s.dir(parentPath)
		if err != nil || parent == nil {
			return nil, err
		}
		e, ok, err := parent.find(name)
		if err != nil {
			return nil, s.corrupt(parentPath, err)
		}
		if !ok || !e.IsDir() {
			s.remember(path, nil)
			return nil, nil
		}
		id = e.ID
	}
	if d := s.repo.trees.get(id); d != nil {
		s.remember(path, d)
		return d, nil
	}
	raw, err := s.repo.objs.ReadKind(id, objects.KindTree)
	if err != nil {
		return nil, s.corrupt(path, err)
	}
	d = &dirTree{raw: raw}
	s.repo.trees.put(id, d)
	s.remember(path, d)
	return d, nil
}

// corrupt describes a damaged folder of the snapshot.
func (s *Snapshot) corrupt(path string, err error) error {
	return fmt.Errorf("%w: snapshot %s, folder /%s: %v", ErrCorrupt, s.Info.ID.Short(), path, err)
}

// entries returns the decoded entries of folder d at path.
func (s *Snapshot) entries(path string, d *dirTree) ([]objects.TreeEntry, error) {
	entries, _, err := d.decode()
	if err != nil {
		return nil, s.corrupt(path, err)
	}
	return entries, nil
}

func (s *Snapshot) remember(path string, d *dirTree) {
	s.mu.Lock()
	s.dirs[path] = d
	s.mu.Unlock()
}

func splitDir(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// mirror returns the timestamps mirror of resource folder dir, or nil if
// there is none.
func (s *Snapshot) mirror(dir string) (*dirTree, error) {
	mirror := recordsDir + "/" + timestampsDir
	if dir != "" {
		for _, c := range strings.Split(dir, "/") {
			mirror += "/" + escapeDir(c)
		}
	}
	return s.dir(mirror)
}

// timestamps returns the timestamps record of resource folder dir.
func (s *Snapshot) timestamps(dir string) (map[string]int64, error) {
	d, err := s.mirror(dir)
	if err != nil || d == nil {
		return map[string]int64{}, err
	}
	m, bad, err := d.timestamps()
	if err != nil {
		return nil, s.corrupt(dir, err)
	}
	if bad != "" {
		return nil, fmt.Errorf("%w: snapshot %s: bad timestamp entry %q in /%s", ErrCorrupt, s.Info.ID.Short(), bad, dir)
	}
	return m, nil
}

// lookup finds the blob and timestamp of resource p.
func (s *Snapshot) lookup(p string) (objects.ID, int64, error) {
	if err := checkKey(p); err != nil {
		return objects.ID{}, 0, err
	}
	dirPath, name := splitDir(p[1:])
	d, err := s.dir(dirPath)
	if err != nil {
		return objects.ID{}, 0, err
	}
	if d == nil {
		return objects.ID{}, 0, fmt.Errorf("%s in %s: %w", p, s.Describe(), fs.ErrNotExist)
	}
	e, ok, err := d.find(name)
	if err != nil {
		return objects.ID{}, 0, s.corrupt(dirPath, err)
	}
	if !ok || e.IsDir() {
		return objects.ID{}, 0, fmt.Errorf("%s in %s: %w", p, s.Describe(), fs.ErrNotExist)
	}
	md, err := s.mirror(dirPath)
	if err != nil {
		return objects.ID{}, 0, err
	}
	var t int64
	ok = false
	if md != nil {
		var bad string
		t, ok, bad, err = md.timestamp(name)
		if err != nil {
			return objects.ID{}, 0, s.corrupt(dirPath, err)
		}
		if bad != "" {
			return objects.ID{}, 0, fmt.Errorf("%w: snapshot %s: bad timestamp entry %q in /%s", ErrCorrupt, s.Info.ID.Short(), bad, dirPath)
		}
	}
	if !ok {
		return objects.ID{}, 0, fmt.Errorf("%w: snapshot %s has no timestamp for %s", ErrCorrupt, s.Info.ID.Short(), p)
	}
	return e.ID, t, nil
}

// Exists reports whether the snapshot holds resource p, searching only
// p's folder (see metastore.Exister).
func (s *Snapshot) Exists(ctx context.Context, p string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(p); err != nil {
		return false, err
	}
	dirPath, name := splitDir(p[1:])
	d, err := s.dir(dirPath)
	if err != nil || d == nil {
		return false, err
	}
	e, ok, err := d.find(name)
	if err != nil {
		return false, s.corrupt(dirPath, err)
	}
	return ok && !e.IsDir(), nil
}

// Read returns the resource at p with the snapshot's bytes and timestamp.
// A resource the snapshot lacks gives an error wrapping fs.ErrNotExist.
func (s *Snapshot) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if err := ctx.Err(); err != nil {
		return metastore.Resource{}, err
	}
	id, ts, err := s.lookup(p)
	if err != nil {
		return metastore.Resource{}, err
	}
	data, err := s.repo.objs.ReadKind(id, objects.KindBlob)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: content of %s (object %s) is missing", ErrCorrupt, s.Info.ID.Short(), p, id)
		}
		return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, s.Info.ID.Short(), p, err)
	}
	return metastore.Resource{Path: p, Data: data, Timestamp: ts}, nil
}

// ContentID returns an opaque identity of the content of resource p (equal
// IDs mean equal bytes) and its timestamp, without reading the content.
func (s *Snapshot) ContentID(p string) (string, int64, error) {
	id, ts, err := s.lookup(p)
	return id.String(), ts, err
}

// List calls fn for each resource whose path starts with prefix, in byte
// order of path.
func (s *Snapshot) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.walk(ctx, prefix, false, func(e metastore.Entry) error { return fn(e.Path) })
}

// ListEntries is List with sizes and timestamps. Change is the content's
// object id, so equal Change means equal bytes.
func (s *Snapshot) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return s.walk(ctx, prefix, true, fn)
}

func (s *Snapshot) walk(ctx context.Context, prefix string, sizes bool, fn func(metastore.Entry) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return err
	}
	return s.walkDir(ctx, "", prefix, sizes, fn)
}

func (s *Snapshot) walkDir(ctx context.Context, dir, prefix string, sizes bool, fn func(metastore.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := s.dir(dir)
	if err != nil || d == nil {
		return err
	}
	entries, err := s.entries(dir, d)
	if err != nil {
		return err
	}
	var ts map[string]int64
	base := "/"
	if dir != "" {
		base = "/" + dir + "/"
	}
	for _, e := range entries {
		if dir == "" && e.Name == recordsDir {
			continue
		}
		full := base + e.Name
		if e.IsDir() {
			if !strings.HasPrefix(full+"/", prefix) && !strings.HasPrefix(prefix, full+"/") {
				continue
			}
			if err := s.walkDir(ctx, strings.TrimPrefix(full, "/"), prefix, sizes, fn); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		ent := metastore.Entry{Path: full}
		if sizes {
			// Entries: the timestamp record, the size and the object id
			// (List needs none of them).
			if ts == nil {
				if ts, err = s.timestamps(dir); err != nil {
					return err
				}
			}
			t, ok := ts[e.Name]
			if !ok {
				return fmt.Errorf("%w: snapshot %s has no timestamp for %s", ErrCorrupt, s.Info.ID.Short(), full)
			}
			ent.Timestamp, ent.Change = t, e.ID.String()
			n, err := s.repo.objs.Size(e.ID)
			if err != nil {
				return fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, s.Info.ID.Short(), full, err)
			}
			ent.Size = n
		}
		if err := fn(ent); err != nil {
			return err
		}
	}
	return nil
}

// hasCube reports whether the snapshot holds /cube/<name>.json (Kylin 2.x-4.x)
// or a Kylin 5 model with that alias.
func (s *Snapshot) hasCube(name string) (bool, error) {
	_, _, err := s.lookup("/cube/" + name + ".json")
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	cubes, err := scopeCubes(s)
	if err != nil {
		return false, err
	}
	for _, c := range cubes {
		if c == name {
			return true, nil
		}
	}
	return false, nil
}
