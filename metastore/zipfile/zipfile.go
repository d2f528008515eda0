// Package zipfile is a read-only metastore kept in a zip file, as Kylin 5
// writes its backups on HDFS-like working directories (metadata.zip) and
// its model exports: each entry is a resource, named by its key with or
// without the leading slash ("/_global/project/p.json" in Kylin 5.0 beta's
// HDFSMetadataStore, "MODEL/x.json" in 5.0 GA's FileSystemMetadataStore),
// and the entry's modification time is the resource's timestamp
// (ZipEntry.setTime).
//
// A zip file comes from elsewhere, so Open checks it whole before anything
// is read, and refuses (with an error wrapping ErrUnsafe) what could write
// or read outside the metastore or exhaust the machine: names with ".."
// or "." components, empty components, backslashes, NUL bytes or a drive
// letter; symbolic links and other entries that are not regular files; two
// entries of one key, or a key that is also a folder of others; more than
// Limits.Entries entries, an entry larger than Limits.Entry, more than
// Limits.Total bytes in all, or an entry that inflates more than
// Limits.Ratio times (a zip bomb). Directory entries are skipped. Reads
// check that an entry inflates to exactly the size its header declares
// (archive/zip does), so a lying header cannot inflate past the limits.
//
// Timestamps: Java's ZipEntry.setTime stores a time within the MS-DOS
// range as MS-DOS date and time fields only, in the writing JVM's time zone,
// to two seconds. Where an entry has the extended timestamp field (0x5455)
// its instant is used; otherwise the MS-DOS fields are read in this
// machine's time zone, as Java's ZipEntry.getTime does on it.
package zipfile

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/metastore"
)

// ErrUnsafe is wrapped by the errors of Open for zip files it refuses.
var ErrUnsafe = errors.New("unsafe zip file")

// Limits bound what Open accepts.
type Limits struct {
	// Entries is the most entries (files and directories).
	Entries int
	// Entry is the largest uncompressed size of one entry.
	Entry int64
	// Total is the largest uncompressed size of all entries.
	Total int64
	// Ratio is the largest ratio of an entry's uncompressed to compressed
	// size, for entries of more than a MiB.
	Ratio int64
}

// DefaultLimits are generous for Kylin metadata (a 100,000-resource
// metastore is about 700 MiB, and JSON deflates about 10 to 30 times) and
// small for a zip bomb.
var DefaultLimits = Limits{Entries: 2_000_000, Entry: 1 << 30, Total: 16 << 30, Ratio: 1000}

// Store is a zip file opened as a read-only metastore. It is safe for
// concurrent use.
type Store struct {
	path  string
	zr    *zip.ReadCloser
	files map[string]*zip.File
	keys  []string // sorted
	local *time.Location
}

var (
	_ metastore.Source      = (*Store)(nil)
	_ metastore.EntryLister = (*Store)(nil)
	_ metastore.Exister     = (*Store)(nil)
	_ metastore.Describer   = (*Store)(nil)
	_ metastore.Closer      = (*Store)(nil)
)

// Open opens and checks the zip file at path with DefaultLimits.
func Open(path string) (*Store, error) { return OpenLimits(path, DefaultLimits) }

// OpenLimits opens and checks the zip file at path.
func OpenLimits(path string, lim Limits) (*Store, error) {
	zr, err := zip.OpenReader(path)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("zip %s: %w", path, err)
	}
	if zr == nil {
		return nil, fmt.Errorf("zip %s: %w", path, err)
	}
	s := &Store{path: path, zr: zr, files: map[string]*zip.File{}, local: time.Local}
	if err := s.check(lim); err != nil {
		zr.Close()
		return nil, err
	}
	return s, nil
}

// Key returns the resource key of a zip entry name, or an error saying why
// the name is unsafe. ok is false for a directory entry.
func Key(name string) (key string, ok bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: entry %q %s", ErrUnsafe, name, why)
	}
	switch {
	case name == "":
		return bad("has an empty name")
	case strings.ContainsRune(name, 0):
		return bad("has a NUL byte")
	case strings.ContainsRune(name, '\\'):
		return bad("has a backslash (a Windows path)")
	case len(name) >= 2 && name[1] == ':':
		return bad("starts with a drive letter")
	case strings.HasPrefix(name, "//"):
		return bad("starts with two slashes")
	}
	rest := strings.TrimPrefix(name, "/")
	if rest == "" {
		return "", false, nil
	}
	dir := strings.HasSuffix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	for _, c := range strings.Split(rest, "/") {
		switch c {
		case "":
			return bad("has an empty path component")
		case ".", "..":
			return bad("has a \"" + c + "\" component")
		}
	}
	if dir {
		return "", false, nil
	}
	return "/" + rest, true, metastore.CheckPath("/" + rest)
}

func (s *Store) check(lim Limits) error {
	if len(s.zr.File) > lim.Entries {
		return fmt.Errorf("zip %s: %w: %d entries, more than the %d allowed", s.path, ErrUnsafe, len(s.zr.File), lim.Entries)
	}
	var total uint64
	for _, f := range s.zr.File {
		key, ok, err := Key(f.Name)
		if err != nil {
			return fmt.Errorf("zip %s: %w", s.path, err)
		}
		mode := f.Mode()
		if !ok {
			if !f.FileInfo().IsDir() && f.UncompressedSize64 > 0 {
				return fmt.Errorf("zip %s: %w: entry %q is named like a folder but holds %d bytes", s.path, ErrUnsafe, f.Name, f.UncompressedSize64)
			}
			continue
		}
		switch {
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("zip %s: %w: entry %q is a symbolic link", s.path, ErrUnsafe, f.Name)
		case mode&(fs.ModeType&^fs.ModeDir) != 0:
			return fmt.Errorf("zip %s: %w: entry %q is not a regular file (%s)", s.path, ErrUnsafe, f.Name, mode.Type())
		case mode.IsDir():
			return fmt.Errorf("zip %s: %w: entry %q is a folder without a trailing slash", s.path, ErrUnsafe, f.Name)
		}
		if _, dup := s.files[key]; dup {
			return fmt.Errorf("zip %s: %w: two entries for %s", s.path, ErrUnsafe, key)
		}
		if f.UncompressedSize64 > uint64(lim.Entry) {
			return fmt.Errorf("zip %s: %w: entry %q inflates to %d bytes, more than the %d allowed", s.path, ErrUnsafe, f.Name, f.UncompressedSize64, lim.Entry)
		}
		if f.UncompressedSize64 > 1<<20 && f.UncompressedSize64 > uint64(lim.Ratio)*max(f.CompressedSize64, 1) {
			return fmt.Errorf("zip %s: %w: entry %q inflates %d times (%d to %d bytes), more than %d: a zip bomb?", s.path, ErrUnsafe, f.Name,
				f.UncompressedSize64/max(f.CompressedSize64, 1), f.CompressedSize64, f.UncompressedSize64, lim.Ratio)
		}
		total += f.UncompressedSize64
		if total > uint64(lim.Total) {
			return fmt.Errorf("zip %s: %w: its entries inflate to more than the %d bytes allowed", s.path, ErrUnsafe, lim.Total)
		}
		s.files[key] = f
		s.keys = append(s.keys, key)
	}
	sort.Strings(s.keys)
	for i := 1; i < len(s.keys); i++ {
		if strings.HasPrefix(s.keys[i], s.keys[i-1]+"/") {
			return fmt.Errorf("zip %s: %w: %s is both a resource and a folder of %s", s.path, ErrUnsafe, s.keys[i-1], s.keys[i])
		}
	}
	return nil
}

// Describe names the zip file.
func (s *Store) Describe() string { return s.path }

// Close closes the zip file.
func (s *Store) Close() error { return s.zr.Close() }

// Path returns the zip file's path.
func (s *Store) Path() string { return s.path }

// List calls fn for every key starting with prefix, in byte order.
func (s *Store) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("zip: list: %w", err)
	}
	i := sort.SearchStrings(s.keys, prefix)
	for ; i < len(s.keys) && strings.HasPrefix(s.keys[i], prefix); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(s.keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// ListEntries is List with each entry's size and timestamp.
func (s *Store) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return s.List(ctx, prefix, func(k string) error {
		f := s.files[k]
		return fn(metastore.Entry{Path: k, Size: int64(f.UncompressedSize64), Timestamp: s.timestamp(f)})
	})
}

// Exists reports whether there is a resource at p.
func (s *Store) Exists(_ context.Context, p string) (bool, error) {
	if err := metastore.CheckPath(p); err != nil {
		return false, fmt.Errorf("zip: %w", err)
	}
	_, ok := s.files[p]
	return ok, nil
}

// Read returns the resource at p.
func (s *Store) Read(_ context.Context, p string) (metastore.Resource, error) {
	if err := metastore.CheckPath(p); err != nil {
		return metastore.Resource{}, fmt.Errorf("zip: read: %w", err)
	}
	f, ok := s.files[p]
	if !ok {
		return metastore.Resource{}, fmt.Errorf("zip %s: read %s: %w", s.path, p, fs.ErrNotExist)
	}
	rc, err := f.Open()
	if err != nil {
		return metastore.Resource{}, fmt.Errorf("zip %s: read %s: %w", s.path, p, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	b.Grow(int(f.UncompressedSize64))
	// archive/zip fails a read past the declared size (ErrFormat) and a
	// checksum mismatch at the end (ErrChecksum).
	if _, err := io.Copy(&b, io.LimitReader(rc, int64(f.UncompressedSize64)+1)); err != nil {
		return metastore.Resource{}, fmt.Errorf("zip %s: read %s: %w", s.path, p, err)
	}
	if uint64(b.Len()) != f.UncompressedSize64 {
		return metastore.Resource{}, fmt.Errorf("zip %s: read %s: %w: %d bytes, the header says %d", s.path, p, zip.ErrFormat, b.Len(), f.UncompressedSize64)
	}
	return metastore.Resource{Path: p, Data: b.Bytes(), Timestamp: s.timestamp(f)}, nil
}

// timestamp is an entry's time in ms (see the package comment).
func (s *Store) timestamp(f *zip.File) int64 {
	if hasExtendedTime(f.Extra) {
		return f.Modified.UnixMilli()
	}
	m := f.Modified
	if m.IsZero() {
		return 0
	}
	return time.Date(m.Year(), m.Month(), m.Day(), m.Hour(), m.Minute(), m.Second(), 0, s.local).UnixMilli()
}

// hasExtendedTime reports whether extra holds the extended timestamp field
// (0x5455) with a modification time.
func hasExtendedTime(extra []byte) bool {
	for len(extra) >= 4 {
		tag, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra) < 4+size {
			return false
		}
		if tag == 0x5455 && size >= 5 && extra[4]&1 != 0 {
			return true
		}
		extra = extra[4+size:]
	}
	return false
}

// Base returns the zip file's name without its folder.
func (s *Store) Base() string { return filepath.Base(s.path) }
