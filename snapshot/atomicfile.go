package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects"
)

// writeAtomic replaces path with data through a temporary file.
func writeAtomic(path string, data []byte, tmpPrefix string) error {
	f, err := prepareAtomic(path, data, tmpPrefix)
	if err != nil {
		return err
	}
	return f.commit()
}

// staged is a file written under a temporary name, to replace path once
// committed.
type staged struct{ tmp, path string }

// tmpMarker starts the names of the temporary files of the cache folder.
const tmpMarker = ".tmp-"

// prepareAtomic writes data to a temporary file beside path.
func prepareAtomic(path string, data []byte, tmpPrefix string) (staged, error) {
	if err := os.MkdirAll(filepath.Dir(path), objects.DirMode); err != nil {
		return staged{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix)
	if err != nil {
		return staged{}, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return staged{}, fmt.Errorf("save %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return staged{}, err
	}
	return staged{tmp: f.Name(), path: path}, nil
}

// commit renames the temporary file over path.
func (f staged) commit() error {
	if err := os.Rename(f.tmp, f.path); err != nil {
		os.Remove(f.tmp)
		return err
	}
	return nil
}

// discard removes the temporary file.
func (f staged) discard() { os.Remove(f.tmp) }

// removeStaleCacheTemp deletes temporary files of the cache folder last
// written before cutoff: left by a backup that was killed. Call it while
// holding the repository lock.
func (r *Repository) removeStaleCacheTemp(cutoff time.Time) {
	dir := filepath.Join(r.Path(), cacheDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpMarker) {
			continue
		}
		if info, err := e.Info(); err == nil && !info.ModTime().After(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
