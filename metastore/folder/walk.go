package folder

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// walkMode tells walk what to do with the directories it walks through.
type walkMode int

const (
	// walkFind opens existing directories, for use as dirfd only.
	walkFind walkMode = iota
	// walkCreate makes missing directories.
	walkCreate
	// walkList is walkFind with the last directory opened for reading.
	walkList
)

// walked is a chain of open directories, from the root down to a directory
// of the tree, each opened through its parent without following symbolic
// links.
type walked struct {
	dir  string // the directory as a key prefix: "" for the root, or "/a/b"
	fds  []int  // fds[0] is the root, fds[i] the directory of component i
	ends []int  // component i is dir[ends[i-1]+1 : ends[i]]; ends[0] is 0
}

// last returns the deepest directory of the chain.
func (w *walked) last() int { return w.fds[len(w.fds)-1] }

// name returns component i (1-based) of the walked directory.
func (w *walked) name(i int) string { return w.dir[w.ends[i-1]+1 : w.ends[i]] }

// close closes every directory of the chain.
func (w *walked) close() {
	for _, fd := range w.fds {
		unix.Close(fd)
	}
}

// walk opens the root and then each component of dir ("" or "/a/b", with
// valid components), never following a symbolic link. With walkCreate it
// makes the missing folders, each with the mode and owner of its parent
// (see newFolder). The error is a *rootError if the root cannot be opened.
// Otherwise it names the component at fault and wraps unix.ENOENT
// (fs.ErrNotExist) if it is missing (and mode is not walkCreate), ErrNotDir
// if it is a file, ErrSymlink if it is a symbolic link, or the operating
// system's error.
func (s *Store) walk(dir string, mode walkMode) (*walked, error) {
	const readFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	flags := readFlags // the portable path: a folder opened for reading
	if !s.portable {
		flags = oPath | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	w := &walked{dir: dir, fds: make([]int, 0, 4), ends: make([]int, 1, 4)}

	f := flags &^ unix.O_NOFOLLOW // the root is trusted and may be a link
	if mode == walkList && dir == "" {
		f = readFlags &^ unix.O_NOFOLLOW
	}
	fd, err := openat(unix.AT_FDCWD, s.root, f, 0)
	if err != nil {
		return nil, &rootError{root: s.root, err: err}
	}
	w.fds = append(w.fds, fd)

	for start := 1; start < len(dir); {
		end := start
		for end < len(dir) && dir[end] != '/' {
			end++
		}
		name := dir[start:end]
		f := flags
		if mode == walkList && end == len(dir) {
			f = readFlags
		}
		var fd int
		var err error
		if mode == walkCreate {
			fd, err = s.openOrMake(w.last(), dir[:end], name, f)
		} else {
			fd, err = openat(w.last(), name, f, 0)
		}
		if err != nil {
			if err == unix.ENOTDIR || isLoop(err) {
				err = notDirError(w.last(), name)
			}
			w.close()
			return nil, fmt.Errorf("%s: %w", dir[:end], err)
		}
		w.fds = append(w.fds, fd)
		w.ends = append(w.ends, end)
		start = end + 1
	}
	return w, nil
}

// openOrMake opens the folder name (the key prefix key) in the open folder
// parent with flags, making it (see newFolder) if it does not exist. A
// folder another Write of this store is making is waited for: until it has
// its mode and owner, it is private to this process's user, and neither its
// subfolders nor the files written into it may take their mode from it. (A
// folder another process is making is opened as it is.)
func (s *Store) openOrMake(parent int, key, name string, flags int) (int, error) {
	for {
		if ch := s.seen.beingMade(key); ch != nil {
			<-ch
		}
		fd, err := openat(parent, name, flags, 0)
		if err != unix.ENOENT {
			if ch := s.seen.beingMade(key); err == nil && ch != nil {
				// Another Write made the folder between the check above
				// and the open, and has not given it its mode and owner
				// yet: wait for them (the mode is read from fd later).
				<-ch
			}
			return fd, err
		}
		done, mine := s.seen.startMaking(key)
		if !mine {
			continue // another Write began making it: wait for it
		}
		fd, err = s.newFolder(parent, name)
		done()
		if err == unix.EEXIST {
			fd, err = openat(parent, name, flags, 0)
		}
		return fd, err
	}
}

// rootError reports that the root itself could not be opened: unlike a
// missing directory below it, a missing root is never taken for an empty
// store.
type rootError struct {
	root string
	err  error
}

func (e *rootError) Error() string { return "root " + e.root + ": " + e.err.Error() }
func (e *rootError) Unwrap() error { return e.err }

// isRootError reports whether err is a rootError.
func isRootError(err error) bool {
	var re *rootError
	return errors.As(err, &re)
}

// notDirError explains why name in dir could not be opened as a directory:
// ErrSymlink, ErrNotDir, or the error of lstat.
func notDirError(dir int, name string) error {
	var st unix.Stat_t
	if err := fstatat(dir, name, &st); err != nil {
		return err
	}
	if uint32(st.Mode)&unix.S_IFMT == unix.S_IFLNK {
		return ErrSymlink
	}
	return ErrNotDir
}

// isLoop reports whether err is what openat(2) with O_NOFOLLOW returns for
// a symbolic link: ELOOP, or EMLINK on FreeBSD (which openat never returns
// otherwise).
func isLoop(err error) bool { return err == unix.ELOOP || err == unix.EMLINK }

// openat is unix.Openat, retried on EINTR.
func openat(dir int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fstatat is lstat relative to dir, retried on EINTR.
func fstatat(dir int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dir, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// fchmod is unix.Fchmod, retried on EINTR.
func fchmod(fd int, mode uint32) error {
	for {
		err := unix.Fchmod(fd, mode)
		if err != unix.EINTR {
			return err
		}
	}
}

// flock is unix.Flock, retried on EINTR.
func flock(fd int, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// fstat is unix.Fstat, retried on EINTR.
func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// readAll reads fd to its end, expecting size bytes. The result is never
// nil.
func readAll(fd int, size int64) ([]byte, error) {
	buf := make([]byte, 0, max(size, 0))
	for {
		if len(buf) == cap(buf) {
			// Expect the end of the file, but take what a writer added.
			var probe [512]byte
			n, err := read(fd, probe[:])
			if n == 0 || err != nil {
				return buf, err
			}
			buf = append(buf, probe[:n]...)
			continue
		}
		n, err := read(fd, buf[len(buf):cap(buf)])
		if n == 0 || err != nil {
			return buf, err
		}
		buf = buf[:len(buf)+n]
	}
}

// read is unix.Read, retried on EINTR, that returns 0 at the end of file.
func read(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// writeAll writes all of b to fd.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}
