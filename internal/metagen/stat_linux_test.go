package metagen

import (
	"io/fs"
	"syscall"
)

// changeIdentity returns a file's ctime (nanoseconds) and inode, which
// change when a file is rewritten or replaced.
func changeIdentity(info fs.FileInfo) (ctime int64, inode uint64) {
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		return sys.Ctim.Nano(), sys.Ino
	}
	return 0, 0
}
