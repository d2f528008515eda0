package folder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
)

// ErrNotDir is wrapped by errors about a path that must be a directory and is
// not: a root given to Open that is a file, or, on Write, a parent component
// of the key that exists as a file.
var ErrNotDir = errors.New("not a directory")

// ErrSymlink is wrapped by errors about a symbolic link met inside the root,
// which a Store never follows.
var ErrSymlink = errors.New("symbolic link refused")

// ErrNotRegular is wrapped by errors about a file inside the root that is
// neither a regular file nor a directory (a FIFO, a socket, a device).
var ErrNotRegular = errors.New("not a regular file")

// tempMarker is part of the name of every temporary file Write makes; see
// isTemp.
const tempMarker = ".metastore-tmp-"

// Modes of the directories and files a Store creates (before the umask).
const (
	dirMode  = 0o755
	fileMode = 0o644
)

// Store is a metastore in a folder. It holds no open file between calls and
// is safe for concurrent use, also by several processes. Every call opens the
// root afresh and fails if it cannot: a store whose folder was removed is
// not taken for an empty one.
type Store struct {
	root    string        // absolute and clean
	racy    time.Duration // see RacyWindow
	workers int           // folders listed at once by ListEntries("/")
	statMin int           // files in a folder from which they are lstat'ed in parallel
	pending *pending      // what Sync must make durable
}

// pending remembers the keys written since the last Sync while they are
// few, so that Sync can fsync those files and their folders instead of the
// whole file system: on a busy Kylin host, syncfs(2) would also wait for
// every other dirty page there (logs, caches). Past maxSyncFiles, or after
// a delete, Sync makes one syncfs call.
type pending struct {
	mu   sync.Mutex
	keys []string
	all  bool
}

// maxSyncFiles is how many written files Sync fsyncs one by one.
const maxSyncFiles = 16

func (p *pending) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.all:
	case len(p.keys) >= maxSyncFiles:
		p.all, p.keys = true, nil
	default:
		p.keys = append(p.keys, key)
	}
}

func (p *pending) addAll() {
	p.mu.Lock()
	p.all, p.keys = true, nil
	p.mu.Unlock()
}

func (p *pending) take() (keys []string, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys, all = p.keys, p.all
	p.keys, p.all = nil, false
	return keys, all
}

// Compile-time checks of the abilities a Store offers.
var (
	_ metastore.Store       = (*Store)(nil)
	_ metastore.EntryLister = (*Store)(nil)
	_ metastore.Syncer      = (*Store)(nil)
	_ metastore.Describer   = (*Store)(nil)
)

// Open returns the store whose root is the existing directory root. It
// returns an error wrapping fs.ErrNotExist if root does not exist and one
// wrapping ErrNotDir if it is not a directory. A symbolic link as root is
// followed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("folder: open %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("folder: open %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("folder: open %s: %w", abs, ErrNotDir)
	}
	return &Store{root: abs, racy: RacyWindow, workers: max(4, 2*runtime.NumCPU()), statMin: parallelStatMin, pending: &pending{}}, nil
}

// WithRacyWindow returns a copy of the store whose ListEntries withholds
// the Change fingerprint of files changed less than d before the listing
// (RacyWindow by default; 0 for tests that rewrite files and list them at
// once).
func (s *Store) WithRacyWindow(d time.Duration) *Store {
	c := *s
	c.racy = d
	return &c
}

// Create is Open that first makes root, and any missing parent, with mode
// 0755 if it does not exist: for restoring into a fresh, empty metastore. It
// returns an error wrapping ErrNotDir if root or a parent is a file.
func Create(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("folder: create %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("folder: create %s: %w", abs, ErrNotDir)
		}
		return nil, fmt.Errorf("folder: create %s: %w", abs, err)
	}
	return Open(abs)
}

// Root returns the absolute path of the store's folder.
func (s *Store) Root() string { return s.root }

// Describe returns the absolute path of the store's folder.
func (s *Store) Describe() string { return s.root }

// Read returns the resource at p: the file's bytes and its modification
// time in milliseconds. It returns an error wrapping fs.ErrNotExist if there
// is no such file (or p names a directory, or a parent component is a file),
// one wrapping ErrSymlink if a component of p is a symbolic link, one
// wrapping ErrNotRegular for a FIFO, socket or device, and one wrapping
// metastore.ErrInvalidPath if p is not a valid key or names a temporary file
// of Write. A file that cannot be opened gives the operating system's error
// (fs.ErrPermission for EACCES).
func (s *Store) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if err := checkKey(p); err != nil {
		return metastore.Resource{}, fmt.Errorf("folder: read: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metastore.Resource{}, err
	}
	r, err := s.read(p)
	if err != nil {
		if errors.Is(err, ErrNotDir) {
			// A file where a directory should be: no such resource.
			err = fmt.Errorf("%w: %w", err, fs.ErrNotExist)
		}
		return metastore.Resource{}, fmt.Errorf("folder: read %s: %w", p, err)
	}
	return r, nil
}

func (s *Store) read(p string) (metastore.Resource, error) {
	parent, base := splitKey(p)
	w, err := s.walk(parent, walkFind)
	if err != nil {
		return metastore.Resource{}, err
	}
	defer w.close()
	fd, err := openat(w.last(), base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			return metastore.Resource{}, ErrSymlink
		}
		return metastore.Resource{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return metastore.Resource{}, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return metastore.Resource{}, fmt.Errorf("is a directory: %w", fs.ErrNotExist)
	default:
		return metastore.Resource{}, ErrNotRegular
	}
	data, err := readAll(fd, st.Size)
	if err != nil {
		return metastore.Resource{}, err
	}
	return metastore.Resource{Path: p, Data: data, Timestamp: millis(st.Mtim)}, nil
}

// Exists reports whether there is a regular file at p, with one lstat(2)
// and without reading it (see metastore.Exister). A symbolic link or a
// special file at p is an error, as for Read.
func (s *Store) Exists(ctx context.Context, p string) (bool, error) {
	if err := checkKey(p); err != nil {
		return false, fmt.Errorf("folder: exists: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	parent, base := splitKey(p)
	w, err := s.walk(parent, walkFind)
	if err != nil {
		if (errors.Is(err, unix.ENOENT) || errors.Is(err, ErrNotDir)) && !isRootError(err) {
			return false, nil
		}
		return false, fmt.Errorf("folder: exists %s: %w", p, err)
	}
	defer w.close()
	var st unix.Stat_t
	switch err := fstatat(w.last(), base, &st); err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR:
		return false, nil
	default:
		return false, fmt.Errorf("folder: exists %s: %w", p, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return true, nil
	case unix.S_IFDIR:
		return false, nil
	case unix.S_IFLNK:
		return false, fmt.Errorf("folder: exists %s: %w", p, ErrSymlink)
	}
	return false, fmt.Errorf("folder: exists %s: %w", p, ErrNotRegular)
}

// Write creates or replaces the file of r.Path with r.Data and sets its
// modification time to r.Timestamp, through a temporary file renamed over the
// target. It creates missing parent directories. It returns an error wrapping
// metastore.ErrInvalidPath if r.Path is not a valid key or names a temporary
// file of Write, one wrapping ErrNotDir if a parent component exists as a
// file, one wrapping ErrSymlink if a component or the target is a symbolic
// link, and one wrapping fs.ErrExist if the target is a directory. The write
// is not synced: call Sync.
func (s *Store) Write(ctx context.Context, r metastore.Resource) error {
	if err := checkKey(r.Path); err != nil {
		return fmt.Errorf("folder: write: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ts, err := unix.TimeToTimespec(time.UnixMilli(r.Timestamp))
	if err != nil {
		return fmt.Errorf("folder: write %s: timestamp %d: %w", r.Path, r.Timestamp, err)
	}
	// A concurrent Delete may remove a parent directory that this Write has
	// just walked through, because it was empty; walk again then.
	for attempt := 0; ; attempt++ {
		err = s.write(r.Path, r.Data, ts)
		if err != errParentGone || attempt == 10 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("folder: write %s: %w", r.Path, err)
	}
	s.pending.add(r.Path)
	return nil
}

// errParentGone reports that the directory a Write was about to write in has
// been removed.
var errParentGone = errors.New("parent directory removed during the write")

func (s *Store) write(p string, data []byte, ts unix.Timespec) error {
	parent, base := splitKey(p)
	w, err := s.walk(parent, walkCreate)
	if err != nil {
		if errors.Is(err, unix.ENOENT) && !isRootError(err) {
			return errParentGone
		}
		return err
	}
	defer w.close()
	dir := w.last()

	var st unix.Stat_t
	switch err := fstatat(dir, base, &st); {
	case err == unix.ENOENT:
	case err != nil:
		return err
	default:
		if err := checkType(st.Mode, false); err != nil {
			return err
		}
	}

	tmp, fd, err := createTemp(dir, base)
	if err != nil {
		if err == unix.ENOENT {
			return errParentGone
		}
		return err
	}
	err = writeAll(fd, data)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.UtimesNanoAt(dir, tmp, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err == nil {
		err = unix.Renameat(dir, tmp, dir, base)
		if err == unix.EISDIR || err == unix.ENOTEMPTY || err == unix.EEXIST {
			err = fmt.Errorf("a directory is in the way: %w", fs.ErrExist)
		}
	}
	if err != nil {
		unix.Unlinkat(dir, tmp, 0)
		return err
	}
	return nil
}

// createTemp creates a new temporary file for base in dir, open for writing.
func createTemp(dir int, base string) (name string, fd int, err error) {
	// Keep the name within NAME_MAX (255 bytes) for long bases.
	prefix := "." + base[:min(len(base), 200)] + tempMarker
	for range 100 {
		name = prefix + strconv.FormatUint(rand.Uint64(), 36)
		fd, err = openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, fileMode)
		if err != unix.EEXIST {
			return name, fd, err
		}
	}
	return "", -1, err
}

// Delete removes the file of p, then each parent directory that is left
// empty, up to but not including the root. Deleting a missing resource is
// not an error; nor is deleting a path that names a directory, which is not a
// resource. It returns an error wrapping metastore.ErrInvalidPath if p is not
// a valid key or names a temporary file of Write, one wrapping ErrSymlink if
// a component of p or the file itself is a symbolic link, and one wrapping
// ErrNotRegular for a FIFO, socket or device.
func (s *Store) Delete(ctx context.Context, p string) error {
	if err := checkKey(p); err != nil {
		return fmt.Errorf("folder: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.pending.addAll()
	if err := s.delete(p); err != nil {
		return fmt.Errorf("folder: delete %s: %w", p, err)
	}
	return nil
}

func (s *Store) delete(p string) error {
	parent, base := splitKey(p)
	w, err := s.walk(parent, walkFind)
	if err != nil {
		if (errors.Is(err, unix.ENOENT) || errors.Is(err, ErrNotDir)) && !isRootError(err) {
			return nil
		}
		return err
	}
	defer w.close()
	dir := w.last()
	var st unix.Stat_t
	if err := fstatat(dir, base, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := checkType(st.Mode, false); err != nil {
		return err
	}
	if err := unix.Unlinkat(dir, base, 0); err != nil && err != unix.ENOENT {
		return err
	}
	// Remove the parents that are now empty, deepest first; rmdir fails on
	// the first one that still holds anything.
	for i := len(w.fds) - 1; i > 0; i-- {
		if unix.Unlinkat(w.fds[i-1], w.name(i), unix.AT_REMOVEDIR) != nil {
			break
		}
	}
	return nil
}

// Sync makes every write and delete so far durable: a few written files
// with an fsync(2) of each and of the folders from the root down to it;
// more, or any delete, with one syncfs(2) call on the file system that holds
// the root.
func (s *Store) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	keys, all := s.pending.take()
	if !all && s.syncFiles(keys) == nil {
		return nil
	}
	return s.syncfs()
}

// syncFiles fsyncs the files of keys and every folder on their paths, once
// each. Any error (other than a file deleted since) returns at once, for
// Sync to fall back to syncfs.
func (s *Store) syncFiles(keys []string) error {
	done := map[string]bool{}
	for _, k := range keys {
		parent, base := splitKey(k)
		w, err := s.walk(parent, walkFind)
		if err != nil {
			if (errors.Is(err, unix.ENOENT) || errors.Is(err, ErrNotDir)) && !isRootError(err) {
				continue // deleted since
			}
			return err
		}
		err = fsyncAt(w.last(), base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY)
		if err == unix.ENOENT {
			err = nil
		}
		for i := len(w.fds) - 1; i >= 0 && err == nil; i-- {
			dir := w.dir[:w.ends[i]]
			if done[dir] {
				break // and so are its parents
			}
			done[dir] = true
			err = fsyncAt(w.fds[i], ".", unix.O_RDONLY|unix.O_DIRECTORY)
		}
		w.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// fsyncAt opens name in directory dirfd with flags and fsyncs it.
func fsyncAt(dirfd int, name string, flags int) error {
	fd, err := openat(dirfd, name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = unix.Fsync(fd)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// syncfs flushes the whole file system that holds the root.
func (s *Store) syncfs() error {
	fd, err := openat(unix.AT_FDCWD, s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("folder: sync %s: %w", s.root, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("folder: sync %s: %w", s.root, err)
	}
	return nil
}

// checkKey checks p with metastore.CheckPath and refuses the names of
// Write's temporary files, which List skips.
func checkKey(p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return err
	}
	if strings.Contains(p, tempMarker) {
		for c := range strings.SplitSeq(p[1:], "/") {
			if isTemp(c) {
				return fmt.Errorf("%w %q: %q is reserved for temporary files", metastore.ErrInvalidPath, p, c)
			}
		}
	}
	return nil
}

// isTemp reports whether name is that of a temporary file of Write.
func isTemp(name string) bool {
	return len(name) > 0 && name[0] == '.' && strings.Contains(name, tempMarker)
}

// splitKey splits a valid key into its parent ("" for the root) and its last
// component.
func splitKey(p string) (parent, base string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i], p[i+1:]
}

// checkType returns nil for a regular file (or a directory if dirOK), and
// ErrSymlink or ErrNotRegular otherwise.
func checkType(mode uint32, dirOK bool) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFDIR:
		if dirOK {
			return nil
		}
		return fmt.Errorf("is a directory: %w", fs.ErrExist)
	case unix.S_IFLNK:
		return ErrSymlink
	default:
		return ErrNotRegular
	}
}

// millis converts a file time to milliseconds since the Unix epoch, rounding
// down.
func millis(ts unix.Timespec) int64 {
	sec, nsec := ts.Unix()
	return sec*1000 + nsec/1e6
}
