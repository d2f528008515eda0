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
	dirs map[string]*dirTree         // folder path without slashes at the ends ("" is the root)
	ts   map[string]map[string]int64 // folder path -> name -> timestamp
}

type dirTree struct {
	entries []objects.TreeEntry
	index   map[string]int
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
	return &Snapshot{Info: in, repo: r, dirs: map[string]*dirTree{}, ts: map[string]map[string]int64{}}
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
		i, ok := parent.index[name]
		if !ok || !parent.entries[i].IsDir() {
			s.remember(path, nil)
			return nil, nil
		}
		id = parent.entries[i].ID
	}
	entries, err := s.repo.objs.ReadTree(id)
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot %s, folder /%s: %v", ErrCorrupt, s.Info.ID.Short(), path, err)
	}
	for _, e := range entries {
		// A snapshot holds files and folders only (FORMAT.md); a symbolic
		// link or a submodule entry would otherwise be restored as a file
		// holding its target.
		if e.Mode != objects.ModeFile && e.Mode != objects.ModeDir {
			return nil, fmt.Errorf("%w: snapshot %s, folder /%s: entry %q has mode %o, not a file or folder", ErrCorrupt, s.Info.ID.Short(), path, e.Name, e.Mode)
		}
	}
	d = &dirTree{entries: entries, index: make(map[string]int, len(entries))}
	for i, e := range entries {
		d.index[e.Name] = i
	}
	s.remember(path, d)
	return d, nil
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

// timestamps returns the timestamps record of resource folder dir.
func (s *Snapshot) timestamps(dir string) (map[string]int64, error) {
	s.mu.Lock()
	m, ok := s.ts[dir]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	mirror := recordsDir + "/" + timestampsDir
	if dir != "" {
		for _, c := range strings.Split(dir, "/") {
			mirror += "/" + escapeDir(c)
		}
	}
	d, err := s.dir(mirror)
	if err != nil {
		return nil, err
	}
	m = map[string]int64{}
	if d != nil {
		for _, e := range d.entries {
			if e.IsDir() {
				continue
			}
			name, ms, ok := parseTimestampName(e.Name)
			if !ok {
				return nil, fmt.Errorf("%w: snapshot %s: bad timestamp entry %q in /%s", ErrCorrupt, s.Info.ID.Short(), e.Name, dir)
			}
			m[name] = ms
		}
	}
	s.mu.Lock()
	s.ts[dir] = m
	s.mu.Unlock()
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
	i, ok := d.index[name]
	if !ok || d.entries[i].IsDir() {
		return objects.ID{}, 0, fmt.Errorf("%s in %s: %w", p, s.Describe(), fs.ErrNotExist)
	}
	ts, err := s.timestamps(dirPath)
	if err != nil {
		return objects.ID{}, 0, err
	}
	t, ok := ts[name]
	if !ok {
		return objects.ID{}, 0, fmt.Errorf("%w: snapshot %s has no timestamp for %s", ErrCorrupt, s.Info.ID.Short(), p)
	}
	return d.entries[i].ID, t, nil
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
	var ts map[string]int64
	base := "/"
	if dir != "" {
		base = "/" + dir + "/"
	}
	for _, e := range d.entries {
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
		if ts == nil {
			if ts, err = s.timestamps(dir); err != nil {
				return err
			}
		}
		t, ok := ts[e.Name]
		if !ok {
			return fmt.Errorf("%w: snapshot %s has no timestamp for %s", ErrCorrupt, s.Info.ID.Short(), full)
		}
		ent := metastore.Entry{Path: full, Timestamp: t, Change: e.ID.String()}
		if sizes {
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

// Forget drops the folders cached while reading, to bound memory after a
// full walk.
func (s *Snapshot) Forget() {
	s.mu.Lock()
	s.dirs = map[string]*dirTree{}
	s.ts = map[string]map[string]int64{}
	s.mu.Unlock()
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
