package objects

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Errors returned by this package, wrapped with details. Check them with
// errors.Is.
var (
	// ErrNotRepository means the path is not a git repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrNotFound means an object or reference does not exist.
	ErrNotFound = errors.New("not found")
	// ErrCorrupt means an object or reference exists but cannot be read as
	// what it should be. Package snapshot exports it as its own ErrCorrupt.
	ErrCorrupt = errors.New("repository is corrupt")
	// ErrRefChanged means a reference did not hold the value an update
	// expected (someone else moved it).
	ErrRefChanged = errors.New("reference changed concurrently")
)

// DirMode and FileMode are the permissions of everything this package
// creates: the repository may hold password hashes, so it is private to its
// owner.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Repository is a bare git repository opened for reading and writing objects
// and references. Its methods are safe for concurrent use by one process;
// across processes, writers coordinate with Lock.
type Repository struct {
	path string

	mu      sync.Mutex // guards storage, which go-git does not make concurrency-safe
	storage *filesystem.Storage

	idxMu   sync.Mutex
	indexes map[string]*packIndex // mapped pack indexes by pack name (names are content hashes)
	idx     []*packIndex          // the current packs' indexes; nil: not listed yet
	packs   *packSet              // open packs for reading; nil: not opened
}

// Init creates a bare repository at path whose HEAD names head (for example
// "refs/heads/main"), with directories of mode DirMode and files of mode
// FileMode, and the given configuration values (section -> key -> value). The
// repository appears at path complete or not at all. If path already exists
// and is not empty, Init fails with an error wrapping fs.ErrExist.
func Init(path, head string, settings map[string]map[string]string) (*Repository, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".init-")
	if err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, DirMode); err != nil {
		return nil, err
	}
	for _, d := range []string{"objects/pack", "objects/info", "refs/heads", "refs/tags", "info"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), DirMode); err != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
	}
	cfg := config.New()
	cfg.Section("core").SetOption("repositoryformatversion", "0").SetOption("bare", "true").SetOption("filemode", "true")
	for sec, kv := range settings {
		for k, v := range kv {
			cfg.Section(sec).SetOption(k, v)
		}
	}
	cf, err := os.OpenFile(filepath.Join(tmp, "config"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, FileMode)
	if err != nil {
		return nil, err
	}
	if err := config.NewEncoder(cf).Encode(cfg); err != nil {
		cf.Close()
		return nil, fmt.Errorf("create repository: %w", err)
	}
	if err := cf.Sync(); err != nil {
		cf.Close()
		return nil, fmt.Errorf("create repository: %w", err)
	}
	if err := cf.Close(); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "HEAD"), []byte("ref: "+head+"\n")); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "description"), []byte("Snapshot repository; see FORMAT.md.\n")); err != nil {
		return nil, err
	}
	// A rename onto an existing non-empty directory fails, so two processes
	// initialising at once cannot both win.
	if err := os.Rename(tmp, abs); err != nil {
		if entries, rerr := os.ReadDir(abs); rerr == nil && len(entries) > 0 {
			return nil, fmt.Errorf("create repository %s: %w", abs, fs.ErrExist)
		}
		if rerr := os.Remove(abs); rerr == nil {
			if err = os.Rename(tmp, abs); err == nil {
				return Open(abs)
			}
		}
		return nil, fmt.Errorf("create repository %s: %w", abs, err)
	}
	syncDir(parent)
	return Open(abs)
}

// Open opens the bare repository at path. It fails with an error wrapping
// fs.ErrNotExist if nothing is there, and ErrNotRepository if path is not a
// bare git repository.
func Open(path string) (*Repository, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	if _, err := os.ReadDir(abs); errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("open repository %s: %w (the repository is private to the user who created it)", abs, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open repository %s: %w (it is a file)", abs, ErrNotRepository)
	}
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(abs, name)); err != nil {
			hint := ""
			if _, gerr := os.Stat(filepath.Join(abs, ".git")); gerr == nil {
				hint = " (it has a .git folder: a work tree, not a bare repository)"
			}
			return nil, fmt.Errorf("open repository %s: %w: no %s%s", abs, ErrNotRepository, name, hint)
		}
	}
	r := &Repository{path: abs}
	r.storage = r.newStorage()
	return r, nil
}

func (r *Repository) newStorage() *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(r.path), cache.NewObjectLRU(16*cache.MiByte), filesystem.Options{KeepDescriptors: true})
}

// Path returns the absolute path of the repository.
func (r *Repository) Path() string { return r.path }

// Close releases open pack files and index mappings. The repository must
// not be used afterwards, except to Close it again.
func (r *Repository) Close() error {
	r.idxMu.Lock()
	r.packs.close()
	r.packs = nil
	for _, x := range r.indexes {
		x.close()
	}
	r.indexes, r.idx = nil, nil
	r.idxMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.storage.Close()
}

// reindex makes packs added since the repository was opened visible.
func (r *Repository) reindex() {
	r.mu.Lock()
	_ = r.storage.Close()
	r.storage = r.newStorage()
	r.mu.Unlock()
	r.idxMu.Lock()
	r.idx = nil
	r.packs.close()
	r.packs = nil
	r.idxMu.Unlock()
}

// packIndexes returns the indexes of the repository's packs.
func (r *Repository) packIndexes() ([]*packIndex, error) {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	if r.idx != nil {
		return r.idx, nil
	}
	for try := 0; ; try++ {
		packs, err := r.listPacks()
		if err != nil {
			return nil, err
		}
		out := make([]*packIndex, 0, len(packs))
		complete := true
		for _, p := range packs {
			x, err := r.indexLocked(p)
			if err != nil {
				if !r.vanished(p, err) {
					return nil, err
				}
				complete = false
				continue
			}
			out = append(out, x)
		}
		if !complete && try == 0 {
			// The pack that absorbed it came before its removal, perhaps
			// after our listing: list again.
			continue
		}
		if complete {
			r.idx = out
		}
		return out, nil
	}
}

// packsListed, set by tests, runs after a reader lists the packs and before
// it opens them: the moment another process may merge a listed pack away.
var packsListed func()

// listPacks is Packs for a reader about to open what it lists.
func (r *Repository) listPacks() ([]string, error) {
	names, err := r.Packs()
	if err == nil && packsListed != nil {
		packsListed()
	}
	return names, err
}

// vanished reports whether err, from opening pack name or its index, means
// the pack is gone since it was listed: a writer merged it into a new pack
// meanwhile (RemovePacks deletes the pack, then its index), and that pack
// holds its objects. An index missing beside its pack is not this: that is
// corruption.
func (r *Repository) vanished(name string, err error) bool {
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, serr := os.Stat(filepath.Join(r.path, "objects", "pack", name+".pack"))
	return errors.Is(serr, fs.ErrNotExist)
}

// index returns the mapped index of pack name.
func (r *Repository) index(name string) (*packIndex, error) {
	r.idxMu.Lock()
	defer r.idxMu.Unlock()
	return r.indexLocked(name)
}

func (r *Repository) indexLocked(name string) (*packIndex, error) {
	if x, ok := r.indexes[name]; ok {
		return x, nil
	}
	x, err := openIndex(filepath.Join(r.path, "objects", "pack", name+".idx"))
	if err != nil {
		return nil, err
	}
	if r.indexes == nil {
		r.indexes = map[string]*packIndex{}
	}
	// Mappings stay until Close: a pack merged away may still be read
	// through them.
	r.indexes[name] = x
	return x, nil
}

// ConfigValue returns the value of key in section of the repository's git
// configuration, and whether it is set.
func (r *Repository) ConfigValue(section, key string) (string, bool, error) {
	f, err := os.Open(filepath.Join(r.path, "config"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return "", false, err
	}
	defer f.Close()
	cfg := config.New()
	if err := config.NewDecoder(f).Decode(cfg); err != nil {
		return "", false, fmt.Errorf("%w: config: %v", ErrCorrupt, err)
	}
	if !cfg.HasSection(section) {
		return "", false, nil
	}
	s := cfg.Section(section)
	if !s.HasOption(key) {
		return "", false, nil
	}
	return s.Option(key), true, nil
}

// Has reports whether the repository holds the object id. It looks in the
// pack indexes first (this tool writes only packs), then for a loose object.
func (r *Repository) Has(id ID) bool {
	if r.hasPacked(id) {
		return true
	}
	hex := id.String()
	_, err := os.Stat(filepath.Join(r.path, "objects", hex[:2], hex[2:]))
	return err == nil
}

// hasPacked reports whether a pack of the repository holds id.
func (r *Repository) hasPacked(id ID) bool {
	if idx, err := r.packIndexes(); err == nil {
		for _, x := range idx {
			if _, ok := x.find(id); ok {
				return true
			}
		}
	}
	return false
}

// mayHaveLoose reports whether the repository has a folder of loose
// objects (objects/00 to objects/ff), which only git writes.
func (r *Repository) mayHaveLoose() bool {
	entries, err := os.ReadDir(filepath.Join(r.path, "objects"))
	if err != nil {
		return true
	}
	for _, e := range entries {
		if n := e.Name(); len(n) == 2 && isHex(n) {
			return true
		}
	}
	return false
}

// Read returns the kind and content of object id. It fails with ErrNotFound
// if the object is missing and ErrCorrupt if it cannot be decoded.
func (r *Repository) Read(id ID) (Kind, []byte, error) {
	k, data, err := r.read(id)
	if err != nil {
		// Another process may have merged the pack we knew the object in
		// into a new one (see consolidate.go): look again.
		r.reindex()
		k, data, err = r.read(id)
	}
	return k, data, err
}

func (r *Repository) read(id ID) (k Kind, data []byte, err error) {
	if ps, perr := r.openPacks(); perr == nil {
		k, data, ok, err := ps.read(id)
		if ok {
			return k, data, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		// go-git panics on some malformed packs; a corrupt repository must
		// give an error instead.
		if p := recover(); p != nil {
			k, data, err = 0, nil, fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, p)
		}
	}()
	o, err := r.storage.EncodedObject(plumbing.AnyObject, plumbing.Hash(id))
	if err != nil {
		return 0, nil, translate(id, err)
	}
	switch o.Type() {
	case plumbing.BlobObject:
		k = KindBlob
	case plumbing.TreeObject:
		k = KindTree
	case plumbing.CommitObject:
		k = KindCommit
	default:
		k = Kind(o.Type())
	}
	rd, err := o.Reader()
	if err != nil {
		return 0, nil, translate(id, err)
	}
	defer rd.Close()
	data = make([]byte, 0, o.Size())
	buf := make([]byte, 32*1024)
	for {
		n, err := rd.Read(buf)
		data = append(data, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, translate(id, err)
		}
	}
	if int64(len(data)) != o.Size() {
		return 0, nil, fmt.Errorf("%w: object %s: read %d bytes, header says %d", ErrCorrupt, id, len(data), o.Size())
	}
	return k, data, nil
}

// ReadKind is Read that also checks the kind of the object.
func (r *Repository) ReadKind(id ID, want Kind) ([]byte, error) {
	k, data, err := r.Read(id)
	if err != nil {
		return nil, err
	}
	if k != want {
		return nil, fmt.Errorf("%w: object %s is a %s, not a %s", ErrCorrupt, id, k, want)
	}
	return data, nil
}

// ReadBlobZlib is ReadKind of a blob that also returns the zlib stream its
// pack entry holds, when the blob is stored whole in a pack (z is nil for
// a delta or a loose object): a writer that keeps content compressed (a
// Kylin 5 database) can store z as it is rather than compress data again.
// z inflates to exactly data: reading data checked it.
func (r *Repository) ReadBlobZlib(id ID) (data, z []byte, err error) {
	if ps, perr := r.openPacks(); perr == nil {
		if p, off, ok := ps.find(id); ok {
			if data, z, ok := p.readWhole(off, KindBlob); ok {
				return data, z, nil
			}
		}
	}
	data, err = r.ReadKind(id, KindBlob)
	return data, nil, err
}

// ReadTree reads and decodes the tree id.
func (r *Repository) ReadTree(id ID) ([]TreeEntry, error) {
	data, err := r.ReadKind(id, KindTree)
	if err != nil {
		return nil, err
	}
	entries, err := DecodeTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id, err)
	}
	return entries, nil
}

// Size returns the size of the content of object id without reading it.
func (r *Repository) Size(id ID) (int64, error) {
	n, err := r.size(id)
	if err != nil {
		// As in Read: the pack may have been merged away; look again.
		r.reindex()
		n, err = r.size(id)
	}
	return n, err
}

func (r *Repository) size(id ID) (int64, error) {
	if ps, err := r.openPacks(); err == nil {
		n, ok, err := ps.size(id)
		if ok {
			return n, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.storage.EncodedObjectSize(plumbing.Hash(id))
	if err != nil {
		return 0, translate(id, err)
	}
	return n, nil
}

// ForEachObject calls fn with the id of every object the repository holds,
// packed or loose (an object in several packs is reported once).
func (r *Repository) ForEachObject(fn func(ID) error) error {
	seen := map[ID]bool{}
	r.mu.Lock()
	err := r.storage.ForEachObjectHash(func(h plumbing.Hash) error {
		seen[ID(h)] = true
		return nil
	})
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: listing loose objects: %v", ErrCorrupt, err)
	}
	packs, err := r.Packs()
	if err != nil {
		return err
	}
	for _, p := range packs {
		x, err := r.index(p)
		if err != nil {
			return err
		}
		entries, err := x.entries()
		if err != nil {
			return fmt.Errorf("pack %s: %w", p, err)
		}
		for _, e := range entries {
			seen[e.id] = true
		}
	}
	ids := make([]ID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// Packs lists the pack files of the repository by base name
// ("pack-<sha1>"), sorted.
func (r *Repository) Packs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.path, "objects", "pack"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "pack-") && strings.HasSuffix(n, ".pack") {
			out = append(out, strings.TrimSuffix(n, ".pack"))
		}
	}
	return out, nil
}

func translate(id ID, err error) error {
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	return fmt.Errorf("%w: object %s: %v", ErrCorrupt, id, err)
}

// writeFileSync writes data to path, created or truncated (never through a
// symbolic link), and syncs it.
func writeFileSync(path string, data []byte) error {
	f, err := openFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
