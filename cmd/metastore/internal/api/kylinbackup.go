package api

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/zipfile"
	"github.com/kylin-tools/metastore/scope"
)

// ErrBadBackup is wrapped by the errors about a Kylin backup that cannot be
// what it says (a model export whose MD5 does not match its name).
var ErrBadBackup = errors.New("damaged Kylin backup")

// kylinBackup is a Kylin backup folder or zip opened as the source of its
// resources (scope's backup rules): the backup's own files (_image,
// VERSION, kylin.properties) are left out.
type kylinBackup struct {
	src  metastore.Source
	path string // as given
	kind scope.BackupKind
	// from is what was read: the folder, its core_meta folder, or a zip.
	from string

	mu      sync.Mutex
	skipped map[string]string // key -> why
}

// openBackup opens the Kylin backup at p: a folder (Kylin 2.x-4.x
// meta_*, Kylin 5 *_backup, possibly holding core_meta/ or metadata.zip), a
// metadata.zip, or a model export zip, whose name's MD5 is checked.
func openBackup(p string) (*kylinBackup, error) {
	b := &kylinBackup{path: p, kind: scope.BackupKindOf(filepath.ToSlash(filepath.Clean(p))), skipped: map[string]string{}}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	dir := p
	if st.IsDir() {
		if fi, err := os.Stat(filepath.Join(dir, "core_meta")); err == nil && fi.IsDir() {
			dir = filepath.Join(dir, "core_meta") // Kylin 5.0 GA (Constants.CORE_META_DIR)
		}
		if onlyZip(dir) {
			p = filepath.Join(dir, "metadata.zip")
		} else {
			src, err := folder.Open(dir)
			if err != nil {
				return nil, err
			}
			b.src, b.from = src, dir
			return b, nil
		}
	}
	if b.kind == scope.BackupModelExport {
		if err := checkExportMD5(p); err != nil {
			return nil, err
		}
	}
	z, err := zipfile.Open(p)
	if err != nil {
		return nil, err
	}
	b.src, b.from = z, p
	return b, nil
}

// onlyZip reports whether dir holds a metadata.zip and no resource beside
// it: an HDFS backup copied down (HDFSMetadataStore, FileSystemMetadataStore
// with zip=1).
func onlyZip(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	found := false
	for _, e := range ents {
		switch {
		case e.Name() == "metadata.zip" && e.Type().IsRegular():
			found = true
		case e.Name() == ".DS_Store" || e.Name() == "kylin.properties" || e.Name() == "_image":
		default:
			return false
		}
	}
	return found
}

// checkExportMD5 checks a model export's MD5 against its name, as Kylin's
// import does (MetaStoreService.checkModelMetadata): a renamed or damaged
// file is refused.
func checkExportMD5(p string) error {
	_, want, _ := scope.ModelExport(filepath.Base(p))
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := strings.ToUpper(hex.EncodeToString(h.Sum(nil))); got != want {
		return fmt.Errorf("%w: model export %s: its MD5 is %s, its name says %s (Kylin refuses it too: the file was changed or renamed)", ErrBadBackup, p, got, want)
	}
	return nil
}

func (b *kylinBackup) skip(key string) bool {
	why, ok := scope.BackupMetadata(key)
	if ok {
		b.mu.Lock()
		b.skipped[key] = why
		b.mu.Unlock()
	}
	return ok
}

// Skipped lists the keys left out, with why, sorted.
func (b *kylinBackup) Skipped() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for k, why := range b.skipped {
		out = append(out, k+": "+why)
	}
	sort.Strings(out)
	return out
}

func (b *kylinBackup) List(ctx context.Context, prefix string, fn func(string) error) error {
	return b.src.List(ctx, prefix, func(k string) error {
		if b.skip(k) {
			return nil
		}
		return fn(k)
	})
}

func (b *kylinBackup) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if b.skip(p) {
		return metastore.Resource{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return b.src.Read(ctx, p)
}

func (b *kylinBackup) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return metastore.ListEntries(ctx, b.src, prefix, func(e metastore.Entry) error {
		if b.skip(e.Path) {
			return nil
		}
		return fn(e)
	})
}

func (b *kylinBackup) Exists(ctx context.Context, p string) (bool, error) {
	if b.skip(p) {
		return false, nil
	}
	if ex, ok := b.src.(metastore.Exister); ok {
		return ex.Exists(ctx, p)
	}
	_, err := b.src.Read(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (b *kylinBackup) Describe() string { return b.from }

func (b *kylinBackup) Close() error {
	if c, ok := b.src.(metastore.Closer); ok {
		return c.Close()
	}
	return nil
}

// what names the backup for messages.
func (b *kylinBackup) what() string {
	switch b.kind {
	case scope.BackupModelExport:
		return "Kylin model export"
	case scope.BackupZip5:
		return "Kylin backup zip"
	}
	return "Kylin backup folder"
}

// onlyKeys is a source showing only some keys of another.
type onlyKeys struct {
	src  metastore.Source
	keys map[string]bool
}

// onlyKeysOf limits src to the keys of b.
func onlyKeysOf(ctx context.Context, b *kylinBackup, src metastore.Source) (metastore.Source, error) {
	o := &onlyKeys{src: src, keys: map[string]bool{}}
	err := b.List(ctx, "/", func(k string) error { o.keys[k] = true; return nil })
	return o, err
}

func (o *onlyKeys) List(ctx context.Context, prefix string, fn func(string) error) error {
	return o.src.List(ctx, prefix, func(k string) error {
		if !o.keys[k] {
			return nil
		}
		return fn(k)
	})
}

func (o *onlyKeys) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if !o.keys[p] {
		return metastore.Resource{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return o.src.Read(ctx, p)
}

func (o *onlyKeys) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return metastore.ListEntries(ctx, o.src, prefix, func(e metastore.Entry) error {
		if !o.keys[e.Path] {
			return nil
		}
		return fn(e)
	})
}

func (o *onlyKeys) Describe() string { return metastore.Describe(o.src) }
