package folder

import "golang.org/x/sys/unix"

// flushDevice asks the drive that holds the open file fd to write its cache
// to stable storage. On macOS fsync(2) only hands the data to the drive;
// F_FULLFSYNC flushes the drive's cache, for every file at once, so Sync
// makes it once after fsyncing each file.
func flushDevice(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0); err != nil {
		return unix.Fsync(fd) // a file system without F_FULLFSYNC
	}
	return nil
}
