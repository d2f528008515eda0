package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/locate"
)

// errOutNotEmpty is wrapped by generate's error when --out names a
// directory that already has entries, or a database metastore that holds
// resources.
var errOutNotEmpty = errors.New("output metastore is not empty")

// errOutNotDir is wrapped by generate's error when --out names something
// other than a directory.
var errOutNotDir = errors.New("output path is not a directory")

// target is an opened metastore with the name to print for it.
type target struct {
	store metastore.Store
	name  string // the folder as given, or the URL with the password masked
}

func (t target) close() {
	if c, ok := t.store.(metastore.Closer); ok {
		c.Close()
	}
}

// openOut opens where generate writes: an empty or absent folder, or a
// database metastore without resources (createSchema, "4" or "5", makes
// its tables if there are none).
func openOut(ctx context.Context, raw, createSchema string, timeout time.Duration) (target, error) {
	u, err := locate.ParseURL(raw)
	if err != nil {
		return target{}, usagef("--out %s: %v", locate.Mask(raw), err)
	}
	if u.Scheme == "" {
		if createSchema != "" {
			return target{}, usagef("--create-schema is for database metastores, and --out %s is a folder", raw)
		}
		if err := checkOut(u.Path); err != nil {
			return target{}, err
		}
		s, err := folder.Create(u.Path)
		if err != nil {
			return target{}, fmt.Errorf("--out %s: %w", raw, err)
		}
		return target{store: s, name: raw}, nil
	}
	s, err := locate.OpenWith(ctx, raw, locate.Options{CreateSchema: createSchema, Timeout: timeout})
	if err != nil {
		return target{}, fmt.Errorf("--out %s: %w", locate.Mask(raw), err)
	}
	t := target{store: s, name: locate.Mask(raw)}
	var first string
	err = s.List(ctx, "/", func(p string) error { first = p; return errStop })
	if err != nil && err != errStop {
		t.close()
		return target{}, fmt.Errorf("--out %s: %w", t.name, err)
	}
	if first != "" {
		t.close()
		return target{}, fmt.Errorf("--out %s: %w (it holds %s; generate never overwrites, give an empty metastore)", t.name, errOutNotEmpty, first)
	}
	return t, nil
}

// errStop ends a listing early.
var errStop = errors.New("stop")

// openDir opens the metastore churn changes.
func openDir(ctx context.Context, raw string, timeout time.Duration) (target, error) {
	u, err := locate.ParseURL(raw)
	if err != nil {
		return target{}, usagef("--dir %s: %v", locate.Mask(raw), err)
	}
	if u.Scheme == "" {
		s, err := folder.Open(u.Path)
		if errors.Is(err, folder.ErrNotDir) {
			return target{}, fmt.Errorf("--dir %s: %w: not a directory", raw, metagen.ErrNotMetastore)
		}
		if err != nil {
			return target{}, fmt.Errorf("--dir %s: %w", raw, err)
		}
		return target{store: s, name: raw}, nil
	}
	s, err := locate.OpenWith(ctx, raw, locate.Options{Timeout: timeout})
	if err != nil {
		return target{}, fmt.Errorf("--dir %s: %w", locate.Mask(raw), err)
	}
	return target{store: s, name: locate.Mask(raw)}, nil
}

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
		return fmt.Errorf("--out %s: %w (generate writes a fresh metastore into an empty or absent directory)", dir, errOutNotDir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("--out %s: %w (it holds %q; generate never overwrites, pick an empty or absent directory)", dir, errOutNotEmpty, names[0])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	return nil
}
