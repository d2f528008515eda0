package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// folder writes resources into a directory laid out as Kylin's
// FileResourceStore lays out a metastore: the resource "/cube/x.json" is the
// file <root>/cube/x.json, and the file's mtime is the resource timestamp.
type folder struct {
	root string
}

// file returns the file name of a resource path.
func (f folder) file(path string) string {
	return filepath.Join(f.root, filepath.FromSlash(strings.TrimPrefix(path, "/")))
}

// create writes a new resource file with timestamp ts (milliseconds),
// creating parent directories as needed. It fails if the file exists.
func (f folder) create(path string, data []byte, ts int64) error {
	name := f.file(path)
	err := createFile(name, data)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(name), 0o755); err == nil {
			err = createFile(name, data)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return setTimestamp(name, ts)
}

// replace writes a resource file atomically (a temporary file renamed over
// the old one) with timestamp ts.
func (f folder) replace(path string, data []byte, ts int64) error {
	name := f.file(path)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".metagen-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setTimestamp(tmp.Name(), ts)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// remove deletes a resource file and then its parent directories that
// became empty, up to (not including) the root.
func (f folder) remove(path string) error {
	name := f.file(path)
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	for dir := filepath.Dir(name); dir != f.root && strings.HasPrefix(dir, f.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty
		}
	}
	return nil
}

func setTimestamp(name string, ts int64) error {
	t := time.UnixMilli(ts)
	if err := os.Chtimes(name, t, t); err != nil {
		return fmt.Errorf("set timestamp of %s: %w", name, err)
	}
	return nil
}

// ErrOutNotEmpty is wrapped by generate's error when --out names a
// directory that already has entries.
var ErrOutNotEmpty = errors.New("output directory is not empty")

// ErrOutNotDir is wrapped by generate's error when --out names something
// other than a directory.
var ErrOutNotDir = errors.New("output path is not a directory")

// checkOut accepts an absent path or an empty directory.
func checkOut(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--out %s: %w (generate writes a fresh metastore into an empty or absent directory)", dir, ErrOutNotDir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("--out %s: %w (it holds %q; generate never overwrites, pick an empty or absent directory)", dir, ErrOutNotEmpty, names[0])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	return nil
}
