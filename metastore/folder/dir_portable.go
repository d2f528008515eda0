package folder

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// The portable path, for systems without the Linux fast path (and for the
// tests, on Linux): the same openat(2) walk without O_PATH, folders read
// with os.File.ReadDir, and Sync with an fsync(2) of every file written and
// of every folder changed.

// readDirPortable is readDirFast (sys_linux.go) with os.File.ReadDir on a
// duplicate of fd. Types are never DT_UNKNOWN: ReadDir looks them up.
func readDirPortable(fd int, fn func(name []byte, typ uint8) error) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			if err := fn([]byte(e.Name()), dtypeOf(e.Type())); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return unwrapPath(err)
		}
	}
}

// unwrapPath returns the system error inside a *fs.PathError (whose path
// would only be ".").
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// dtypeOf converts a file mode's type to a directory entry type.
func dtypeOf(m fs.FileMode) uint8 {
	switch m.Type() {
	case 0:
		return unix.DT_REG
	case fs.ModeDir:
		return unix.DT_DIR
	case fs.ModeSymlink:
		return unix.DT_LNK
	case fs.ModeNamedPipe:
		return unix.DT_FIFO
	case fs.ModeSocket:
		return unix.DT_SOCK
	case fs.ModeDevice:
		return unix.DT_BLK
	case fs.ModeDevice | fs.ModeCharDevice:
		return unix.DT_CHR
	}
	return unix.DT_UNKNOWN
}
