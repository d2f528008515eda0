package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// Options configure a Repository.
type Options struct {
	// Now is the clock; time.Now if nil. Tests inject a fixed clock.
	Now func() time.Time
	// User and Host name who takes snapshots (the commit author); the
	// current OS user and host name if empty.
	User, Host string
	// Workers is how many resources are hashed, compressed or written at
	// once; the number of CPUs if zero.
	Workers int
	// Compression is the zlib level for new objects (1-9; 0 for the
	// default).
	Compression int
	// Waiting is called when the repository lock is held by another process,
	// with a description of the holder.
	Waiting func(holder string)
}

// Repository is a snapshot repository: a bare git repository in which every
// snapshot is a commit (see FORMAT.md).
type Repository struct {
	objs  *objects.Repository
	opt   Options
	trees *tree.Reader
	// created is set when this value created the repository; keepDir
	// when the folder was there (empty) before.
	created, keepDir bool
}

// Open opens the repository at path. It fails with ErrNoRepository if there
// is none, ErrNotMetastoreRepository if path is not one this tool made, and
// ErrNewerFormat if a newer version of the tool made it.
func Open(path string, opt Options) (*Repository, error) {
	o, err := objects.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w at %s (the first backup creates it)", ErrNoRepository, path)
		case errors.Is(err, objects.ErrNotRepository):
			return nil, fmt.Errorf("%s: %w: %v", path, ErrNotMetastoreRepository, err)
		}
		return nil, err
	}
	v, ok, err := o.ConfigValue("metastore", "format")
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	if !ok {
		o.Close()
		return nil, fmt.Errorf("%s: %w (a git repository without metastore.format in its config)", path, ErrNotMetastoreRepository)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		o.Close()
		return nil, fmt.Errorf("%s: %w: metastore.format = %q", path, ErrCorrupt, v)
	}
	if n > FormatVersion {
		o.Close()
		return nil, fmt.Errorf("%s: %w (format %d; this tool writes and reads format %d): upgrade the tool", path, ErrNewerFormat, n, FormatVersion)
	}
	return newRepository(o, opt), nil
}

// Create creates an empty repository at path (a bare git repository, mode
// 0700). It fails with an error wrapping fs.ErrExist if path is not empty.
func Create(path string, opt Options) (*Repository, error) {
	o, err := objects.Init(path, headRef, map[string]map[string]string{
		"metastore": {"format": strconv.Itoa(FormatVersion)},
	})
	if err != nil {
		return nil, err
	}
	r := newRepository(o, opt)
	r.created = true
	return r, nil
}

// OpenOrCreate opens the repository at path, creating it if nothing is there.
func OpenOrCreate(path string, opt Options) (*Repository, bool, error) {
	r, err := Open(path, opt)
	if err == nil {
		return r, false, nil
	}
	emptyDir := isEmptyDir(path)
	if !errors.Is(err, ErrNoRepository) && !emptyDir {
		return nil, false, err
	}
	r, err = Create(path, opt)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first.
		r, err = Open(path, opt)
		return r, false, err
	}
	if err != nil {
		return nil, false, err
	}
	r.keepDir = emptyDir
	return r, true, nil
}

// RemoveIfUnused removes the repository if this Repository value created it
// (Create, or OpenOrCreate reporting it created) and nothing was recorded in
// it since: a command that fails before its first snapshot leaves no empty
// repository behind. A folder that was there, empty, before is kept and
// emptied. It leaves the repository alone, and reports false, if it holds
// any reference, or if another process holds its lock (a writer at work).
// The repository is closed in every case.
func (r *Repository) RemoveIfUnused() (bool, error) {
	if !r.created {
		return false, r.Close()
	}
	// Try the lock once, without waiting: a canceled context makes Lock
	// give up at the first refusal.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, err := r.objs.Lock(ctx, nil)
	if err != nil {
		return false, r.Close()
	}
	defer unlock()
	names, err := r.objs.RefNames()
	if err != nil || len(names) > 0 {
		return false, r.Close()
	}
	path := r.Path()
	if err := r.Close(); err != nil {
		return false, err
	}
	if !r.keepDir {
		return true, os.RemoveAll(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(path, e.Name())); err != nil {
			return false, err
		}
	}
	return true, nil
}

func newRepository(o *objects.Repository, opt Options) *Repository {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.User == "" {
		if u, err := user.Current(); err == nil {
			opt.User = u.Username
		} else {
			opt.User = os.Getenv("USER")
		}
		if opt.User == "" {
			opt.User = "unknown"
		}
	}
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
		if opt.Host == "" {
			opt.Host = "localhost"
		}
	}
	if opt.Workers <= 0 {
		opt.Workers = defaultWorkers()
	}
	return &Repository{objs: o, opt: opt, trees: tree.NewReader(o)}
}

// Path returns the repository's absolute path.
func (r *Repository) Path() string { return r.objs.Path() }

// Close releases the repository's open files.
func (r *Repository) Close() error { return r.objs.Close() }

// lock takes the writer lock for one operation.
func (r *Repository) lock(ctx context.Context) (func(), error) {
	unlock, err := r.objs.Lock(ctx, r.opt.Waiting)
	if err != nil {
		return nil, err
	}
	r.objs.RemoveStaleTemp(r.opt.Now().Add(-time.Minute))
	r.removeStaleCacheTemp(r.opt.Now().Add(-time.Minute))
	return unlock, nil
}

// defaultWorkers is the number of CPUs, at least two.
func defaultWorkers() int {
	return max(runtime.NumCPU(), 2)
}

func (r *Repository) cachePath(source string) string {
	return filepath.Join(r.Path(), cacheDir, cacheName(source))
}

// isEmptyDir reports whether path is an existing, empty directory (made by
// an admin for the repository to go in).
func isEmptyDir(path string) bool {
	entries, err := os.ReadDir(path)
	return err == nil && len(entries) == 0
}
