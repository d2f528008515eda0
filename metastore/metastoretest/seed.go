package metastoretest

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// SeedEpoch is the earliest timestamp Seed writes: 2020-09-13T12:26:40Z in
// milliseconds since the Unix epoch.
const SeedEpoch int64 = 1600000000000

// seedSpan is the width of the range of seeded timestamps: one year of
// milliseconds.
const seedSpan = 365 * 24 * 3600 * 1000

// SeedTimestamp returns the timestamp Seed gives the resource at path:
// SeedEpoch plus the 64-bit FNV-1a hash of path modulo one year of
// milliseconds. It depends on the path alone, not on the other files of the
// folder nor on the clock, and most timestamps have a non-zero millisecond
// part.
func SeedTimestamp(path string) int64 {
	return SeedEpoch + int64(hash(path)%seedSpan)
}

// Seed writes every regular file below dir to dst as a resource and returns
// the resources in byte order of path. The file dir/a/b becomes the resource
// "/a/b" with the file's bytes and the timestamp SeedTimestamp("/a/b"); file
// modification times are ignored, because checkouts do not keep them. Seed
// only reads dir, so dir may be read-only, such as the shared sample
// metastore Sample("kylin-3.1.3").
//
// Seed fails the test if dir cannot be read, if it holds a symbolic link or a
// file that is not regular, or if dst refuses a write.
func Seed(t testing.TB, dst metastore.Sink, dir string) []metastore.Resource {
	t.Helper()
	var out []metastore.Resource
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			t.Fatalf("Seed: %s is not a regular file (%v)", filepath.Join(dir, name), d.Type())
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		p := "/" + name
		out = append(out, metastore.Resource{Path: p, Data: data, Timestamp: SeedTimestamp(p)})
		return nil
	})
	if err != nil {
		t.Fatalf("Seed: reading %s: %v", dir, err)
	}
	// WalkDir visits "a/x" before "a.b"; paths sort by bytes.
	slices.SortFunc(out, func(a, b metastore.Resource) int { return strings.Compare(a.Path, b.Path) })
	ctx := t.Context()
	for _, r := range out {
		if err := dst.Write(ctx, r); err != nil {
			t.Fatalf("Seed: Write(%q): %v", r.Path, err)
		}
	}
	return out
}

// hash is the 64-bit FNV-1a hash of s.
func hash(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// WriteFile writes data to the file path with permissions perm, creating
// the folders it needs (0755), and fails the test on any error. It builds
// the folder metastores, golden files and leftovers of many packages'
// tests.
func WriteFile(t testing.TB, path string, data []byte, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}
