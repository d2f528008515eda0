//go:build linux

package folder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux fast path: folders walked with O_PATH descriptors, read with
// getdents(2) into one reused buffer, and many writes made durable with one
// syncfs(2). Every other system (and a Store opened with portable set, which
// the tests use to run the portable path on Linux) takes the portable path
// of dir_portable.go.

// fastPath says whether this system has the fast path.
const fastPath = true

// oPath opens a directory only for use as a directory descriptor (no read
// permission needed, no readahead).
const oPath = unix.O_PATH

// Offsets in a struct linux_dirent64 as getdents64(2) returns it.
const (
	direntIno    = unsafe.Offsetof(unix.Dirent{}.Ino)
	direntReclen = unsafe.Offsetof(unix.Dirent{}.Reclen)
	direntType   = unsafe.Offsetof(unix.Dirent{}.Type)
	direntName   = unsafe.Offsetof(unix.Dirent{}.Name)
)

// readDirFast calls fn for each entry of the open directory fd other than
// "." and "..", with getdents(2) into buf. The name is only valid during the
// call; the type is a unix.DT_* value, DT_UNKNOWN when the file system does
// not tell.
func readDirFast(fd int, buf []byte, fn func(name []byte, typ uint8) error) error {
	if len(buf) < 4096 {
		buf = make([]byte, 8<<10)
	}
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for off := 0; off < n; {
			rec := buf[off:n]
			reclen := int(binary.NativeEndian.Uint16(rec[direntReclen:]))
			if reclen <= int(direntName) || reclen > len(rec) {
				return fmt.Errorf("malformed directory entry of %d bytes", reclen)
			}
			off += reclen
			name := rec[direntName:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if binary.NativeEndian.Uint64(rec[direntIno:]) == 0 || len(name) == 0 ||
				len(name) == 1 && name[0] == '.' || len(name) == 2 && name[0] == '.' && name[1] == '.' {
				continue
			}
			if err := fn(name, rec[direntType]); err != nil {
				return err
			}
		}
	}
}

// syncfsFast flushes the whole file system that holds the open file fd.
func syncfsFast(fd int) error { return unix.Syncfs(fd) }
