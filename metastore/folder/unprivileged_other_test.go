//go:build !linux

package folder_test

import (
	"os"
	"testing"
)

// asUnprivileged calls fn, unless the test runs as root: only Linux can
// drop the file system privileges of one thread (see the Linux version).
func asUnprivileged(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("running as root, and only Linux can check permissions as another user")
	}
	fn()
}
