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

// dirMode is the mode of the root folder Create makes (before the umask).
// Folders and files inside the root take their modes from their folder: see
// the package documentation.
const dirMode = 0o755

// Store is a metastore in a folder. It holds no open file between calls and
// is safe for concurrent use, also by several processes. Every call opens the
// root afresh and fails if it cannot: a store whose folder was removed is
// not taken for an empty one.
type Store struct {
	root     string        // absolute and clean
	racy     time.Duration // see RacyWindow
	workers  int           // folders listed at once by ListEntries("/")
	statMin  int           // files in a folder from which they are lstat'ed in parallel
	chunk    int           // entries of a folder a listing holds at once (see listChunk)
	held     *heldStats    // tests: the most entries a listing held; nil otherwise
	portable bool          // no Linux fast path (dir_portable.go)
	euid     int           // this process's user (0: root, which can give files away)
	egid     int           // and group
	pending  *pending      // what Sync must make durable
	seen     *tracker      // folders tidied, modes for new files, notices
}

// pending remembers the keys written since the last Sync while they are
// few, so that Sync can fsync those files and their folders instead of the
// whole file system: on a busy Kylin host, syncfs(2) would also wait for
// every other dirty page there (logs, caches). Past maxSyncFiles, or after
// a delete, Sync makes one syncfs call. On the portable path, which has no
// syncfs, it remembers every key written and the folder of every key
// deleted.
type pending struct {
	mu      sync.Mutex
	keys    []string
	folders []string // portable: folders that lost a file
	all     bool
}

// maxSyncFiles is how many written files Sync fsyncs one by one.
const maxSyncFiles = 16

func (p *pending) add(key string, portable bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.all:
	case len(p.keys) >= maxSyncFiles && !portable:
		p.all, p.keys = true, nil
	default:
		p.keys = append(p.keys, key)
	}
}

// addDelete notes that key was deleted.
func (p *pending) addDelete(key string, portable bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if portable {
		parent, _ := splitKey(key)
		p.folders = append(p.folders, parent)
		return
	}
	p.all, p.keys = true, nil
}

func (p *pending) take() (keys, folders []string, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys, folders, all = p.keys, p.folders, p.all
	p.keys, p.folders, p.all = nil, nil, false
	return keys, folders, all
}

// Compile-time checks of the abilities a Store offers.
var (
	_ metastore.Store       = (*Store)(nil)
	_ metastore.EntryLister = (*Store)(nil)
	_ metastore.Syncer      = (*Store)(nil)
	_ metastore.Describer   = (*Store)(nil)
	_ metastore.Noticer     = (*Store)(nil)
	_ metastore.Tidier      = (*Store)(nil)
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
	return &Store{
		root: abs, racy: RacyWindow, workers: max(4, 2*runtime.NumCPU()), statMin: parallelStatMin, chunk: listChunk,
		portable: !fastPath, euid: os.Geteuid(), egid: os.Getegid(), pending: &pending{}, seen: newTracker(),
	}, nil
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
		if isLoop(err) {
			return metastore.Resource{}, ErrSymlink
		}
		return metastore.Resource{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return metastore.Resource{}, err
	}
	switch uint32(st.Mode) & unix.S_IFMT {
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
	switch uint32(st.Mode) & unix.S_IFMT {
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
// target. It creates missing parent directories. A replaced file keeps its
// mode and owner; a new file or folder gets the mode and owner the package
// documentation describes. It returns an error wrapping
// metastore.ErrInvalidPath if r.Path is not a valid key or names a temporary
// file of Write, one wrapping ErrNotDir if a parent component exists as a
// file, one wrapping ErrSymlink if a component or the target is a symbolic
// link, and one wrapping fs.ErrExist if the target is a directory. The write
// is not synced: call Sync. A timestamp the file system cannot store (beyond
// its range) is stored as near as it can and reported by Notices.
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
	var stored int64
	for attempt := 0; ; attempt++ {
		stored, err = s.write(r.Path, r.Data, ts)
		if err != errRetry || attempt == 10 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("folder: write %s: %w", r.Path, err)
	}
	if stored != r.Timestamp {
		s.seen.clamped(r.Path, r.Timestamp, stored)
	}
	s.pending.add(r.Path, s.portable)
	return nil
}

// errRetry reports that the directory a Write was about to write in, or its
// temporary file, has been removed (by a concurrent Delete, or by another
// process that took the temporary file for a leftover before it was
// locked).
var errRetry = errors.New("parent directory removed during the write")

// write writes p and returns the timestamp the file system stored.
func (s *Store) write(p string, data []byte, ts unix.Timespec) (int64, error) {
	parent, base := splitKey(p)
	w, err := s.walk(parent, walkCreate)
	if err != nil {
		if errors.Is(err, unix.ENOENT) && !isRootError(err) {
			return 0, errRetry
		}
		return 0, err
	}
	defer w.close()
	dir := w.last()
	s.tidyFolder(parent, dir)

	var (
		st  unix.Stat_t
		own owner
	)
	switch err := fstatat(dir, base, &st); {
	case err == unix.ENOENT:
		if own, err = s.newFileOwner(parent, dir); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	default:
		if err := checkType(uint32(st.Mode), false); err != nil {
			return 0, err
		}
		own = owner{perm: uint32(st.Mode) & 0o7777, uid: int(st.Uid), gid: int(st.Gid)}
	}

	tmp, fd, err := createTemp(dir, base)
	if err != nil {
		if err == unix.ENOENT {
			return 0, errRetry
		}
		return 0, err
	}
	// fd stays open, and locked, until the rename: see removeIfStale.
	defer unix.Close(fd)
	err = writeAll(fd, data)
	if err == nil {
		err = s.chown(fd, own)
	}
	if err == nil {
		err = fchmod(fd, own.perm)
	}
	if err == nil {
		err = unix.UtimesNanoAt(dir, tmp, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}
	var stored unix.Stat_t
	if err == nil {
		err = fstat(fd, &stored)
	}
	if err == nil {
		err = unix.Renameat(dir, tmp, dir, base)
		if err == unix.EISDIR || err == unix.ENOTEMPTY || err == unix.EEXIST {
			err = fmt.Errorf("a directory is in the way: %w", fs.ErrExist)
		}
	}
	if err != nil {
		unix.Unlinkat(dir, tmp, 0)
		if err == unix.ENOENT {
			return 0, errRetry
		}
		return 0, err
	}
	return millis(stored.Mtim), nil
}

// Names of temporary files: "." + the target's name (its first
// maxTempBase bytes) + tempMarker + tempSuffixLen base-36 digits of a
// random 64-bit number. isTemp recognises exactly these names, so that any
// other name, even one containing tempMarker, is an ordinary resource.
const (
	tempMarker    = ".metastore-tmp-"
	maxTempBase   = 200 // keeps the name within NAME_MAX (255 bytes)
	tempSuffixLen = 13  // digits of the largest uint64 in base 36
)

// tempName returns the name of a temporary file for base.
func tempName(base string, n uint64) string {
	digits := strconv.FormatUint(n, 36)
	return "." + base[:min(len(base), maxTempBase)] + tempMarker + strings.Repeat("0", tempSuffixLen-len(digits)) + digits
}

// isTemp reports whether name is that of a temporary file of Write. Earlier
// versions wrote the random number without leading zeros, so 1 to 13 digits
// are recognised.
func isTemp(name string) bool {
	if len(name) < 2 || name[0] != '.' {
		return false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 2 || i-1 > maxTempBase {
		return false
	}
	suffix := name[i+len(tempMarker):]
	if len(suffix) == 0 || len(suffix) > tempSuffixLen {
		return false
	}
	for _, c := range []byte(suffix) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	_, err := strconv.ParseUint(suffix, 36, 64)
	return err == nil
}

// createTemp creates a new temporary file for base in dir, open for writing,
// private to its owner (mode 0600) and locked with flock(2), so that no
// tidying removes it while it is being written.
func createTemp(dir int, base string) (name string, fd int, err error) {
	for range 100 {
		name = tempName(base, rand.Uint64())
		fd, err = openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return "", -1, err
		}
		if err = flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
			return name, fd, nil
		}
		unix.Close(fd)
		if err != unix.EWOULDBLOCK {
			unix.Unlinkat(dir, name, 0)
			return "", -1, err
		}
		// Another process took it for a leftover in the instant before
		// the lock, and removes it: take another name.
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
	s.pending.addDelete(p, s.portable)
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
	if uint32(st.Mode)&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := checkType(uint32(st.Mode), false); err != nil {
		return err
	}
	s.tidyFolder(parent, dir)
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
// the root. On the portable path (other systems than Linux), every file
// written and every folder changed is fsynced.
func (s *Store) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	keys, folders, all := s.pending.take()
	if s.portable {
		if err := s.syncFiles(keys, folders); err != nil {
			return fmt.Errorf("folder: sync %s: %w", s.root, err)
		}
		return s.syncRoot(flushDevice)
	}
	if !all && s.syncFiles(keys, nil) == nil {
		return nil
	}
	return s.syncRoot(syncfsFast)
}

// syncFiles fsyncs the files of keys and every folder on their paths, and
// the folders of folders (or, when one was removed, the nearest one left),
// once each. Any error (other than a file deleted since) returns at once,
// for Sync to fall back to syncfs.
func (s *Store) syncFiles(keys, folders []string) error {
	done := map[string]bool{}
	// syncChain fsyncs the folders of w from the deepest up.
	syncChain := func(w *walked) error {
		for i := len(w.fds) - 1; i >= 0; i-- {
			dir := w.dir[:w.ends[i]]
			if done[dir] {
				break // and so are its parents
			}
			done[dir] = true
			if err := fsyncAt(w.fds[i], ".", unix.O_RDONLY|unix.O_DIRECTORY); err != nil {
				return err
			}
		}
		return nil
	}
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
		if err == nil {
			err = syncChain(w)
		}
		w.close()
		if err != nil {
			return err
		}
	}
	for _, dir := range folders {
		for {
			w, err := s.walk(dir, walkFind)
			if err != nil {
				if (errors.Is(err, unix.ENOENT) || errors.Is(err, ErrNotDir)) && !isRootError(err) {
					dir, _ = splitKey(dir) // removed as it became empty
					continue
				}
				return err
			}
			err = syncChain(w)
			w.close()
			if err != nil {
				return err
			}
			break
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

// syncRoot opens the root and calls sync on it: syncfsFast flushes the
// whole file system that holds the root; flushDevice makes what the fsyncs
// of the portable path handed to the drive reach stable storage (see
// flushDevice in flush_darwin.go).
func (s *Store) syncRoot(sync func(fd int) error) error {
	fd, err := openat(unix.AT_FDCWD, s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("folder: sync %s: %w", s.root, err)
	}
	defer unix.Close(fd)
	if err := sync(fd); err != nil {
		return fmt.Errorf("folder: sync %s: %w", s.root, err)
	}
	return nil
}

// checkKey checks p with metastore.CheckPath and refuses a key whose last
// component is the name of a temporary file of Write, which List skips.
// Folders may have any name.
func checkKey(p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return err
	}
	if _, base := splitKey(p); isTemp(base) {
		return fmt.Errorf("%w %q: %q is the name of a temporary file of an interrupted write (\".NAME%sDIGITS\"), which a folder metastore cannot hold as a resource", metastore.ErrInvalidPath, p, base, tempMarker)
	}
	return nil
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
