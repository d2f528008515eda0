//go:build unix && !linux

package folder

import (
	"errors"
	"fmt"
	"runtime"
)

// Other systems have no fast path (see sys_linux.go): a Store always takes
// the portable path.

const fastPath = false

// oPath is 0: a directory is opened for reading to serve as a directory
// descriptor.
const oPath = 0

var errNoFastPath = errors.New("no fast path on " + runtime.GOOS)

func readDirFast(int, []byte, func([]byte, uint8) error) error {
	return fmt.Errorf("folder: getdents: %w", errNoFastPath)
}

func syncfsFast(int) error { return fmt.Errorf("folder: syncfs: %w", errNoFastPath) }
