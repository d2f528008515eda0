package objects

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openFile opens the repository file path with flag (and mode FileMode
// when it creates it), never through a symbolic link: the file is written
// in place or truncated, and a link planted in the repository would have
// the tool change the file it names. A symbolic link, or anything else
// than a regular file, gives an error wrapping ErrCorrupt that names it
// and leaves it and its target alone.
func openFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, FileMode)
	if err != nil {
		// ELOOP on Linux and macOS, EMLINK on FreeBSD, EFTYPE on NetBSD:
		// ask the file system rather than the error.
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, symlinkError(path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file (%v); a snapshot repository holds only regular files and folders", ErrCorrupt, path, fi.Mode().Type())
	}
	return f, nil
}

// symlinkError explains that path is a symbolic link, which the tool never
// writes through.
func symlinkError(path string) error {
	target, _ := os.Readlink(path)
	return fmt.Errorf("%w: %s is a symbolic link (to %q); a snapshot repository never holds one, and the tool does not write through it: remove the link (its target was left alone)", ErrCorrupt, path, target)
}
