package folder_test

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// asUnprivileged calls fn with file permissions checked as for user nobody,
// also when the test runs as root (as CI does): it changes the file system
// user of the calling thread alone.
func asUnprivileged(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const nobody = 65534
	prev, err := unix.SetfsuidRetUid(nobody)
	if err != nil {
		t.Skipf("setfsuid: %v", err)
	}
	defer unix.SetfsuidRetUid(prev)
	// With an invalid id, setfsuid changes nothing and tells the current one.
	if now, _ := unix.SetfsuidRetUid(-1); now != nobody {
		t.Skipf("cannot drop file system privileges (fsuid %d)", now)
	}
	fn()
}
