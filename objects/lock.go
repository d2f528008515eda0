package objects

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile is the name, inside the repository, of the file writers lock.
// It is opened without following a symbolic link (see openFile).
const LockFile = "metastore.lock"

// Lock takes the repository's exclusive writer lock (an advisory flock on
// LockFile, released by the kernel if the process dies). If another process
// holds it, Lock calls waiting once with that process's description and
// retries until ctx is done. The returned function releases the lock.
func (r *Repository) Lock(ctx context.Context, waiting func(holder string)) (func(), error) {
	path := filepath.Join(r.path, LockFile)
	f, err := openFile(path, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("lock repository: %w", err)
	}
	told := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", err)
		}
		if !told && waiting != nil {
			holder, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
			waiting(strings.TrimSpace(string(holder)))
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock repository: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	host, _ := os.Hostname()
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" on "+host+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
