package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kylin-tools/metastore/objects"
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
	trees *treeCache
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
	return newRepository(o, opt), nil
}

// OpenOrCreate opens the repository at path, creating it if nothing is there.
func OpenOrCreate(path string, opt Options) (*Repository, bool, error) {
	r, err := Open(path, opt)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, ErrNoRepository) && !isEmptyDir(path) {
		return nil, false, err
	}
	r, err = Create(path, opt)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first.
		r, err = Open(path, opt)
		return r, false, err
	}
	return r, err == nil, err
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
	return &Repository{objs: o, opt: opt, trees: &treeCache{}}
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

func (r *Repository) cachePath(source string) string {
	return filepath.Join(r.Path(), cacheDir, cacheName(source))
}

// isEmptyDir reports whether path is an existing, empty directory (made by
// an admin for the repository to go in).
func isEmptyDir(path string) bool {
	entries, err := os.ReadDir(path)
	return err == nil && len(entries) == 0
}
