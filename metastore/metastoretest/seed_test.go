package metastoretest_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// TestSeedTimestamp pins the documented timestamps: other packages' golden
// files may hold them.
func TestSeedTimestamp(t *testing.T) {
	tests := []struct {
		path string
		want int64
	}{
		{"/UUID", 1629943006209},
		{"/project/default.json", 1610077721767},
		{"/cube/kylin_sales_cube.json", 1609745411868},
	}
	for _, tt := range tests {
		if got := metastoretest.SeedTimestamp(tt.path); got != tt.want {
			t.Errorf("SeedTimestamp(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	const year = 365 * 24 * 3600 * 1000
	for _, p := range []string{"/", "/a", "/dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict", "/table/数据.表.json"} {
		if got := metastoretest.SeedTimestamp(p); got < metastoretest.SeedEpoch || got >= metastoretest.SeedEpoch+year {
			t.Errorf("SeedTimestamp(%q) = %d, want within a year after SeedEpoch %d", p, got, metastoretest.SeedEpoch)
		}
	}
}

func TestSeed(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a/x":           "x",
		"a.b":           "a.b",
		"a-b/c/d.dict":  "\x00\xff",
		"UUID":          "uuid",
		"empty":         "",
		"table/数据.json": "{}",
	}
	for name, data := range files {
		metastoretest.WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), []byte(data), 0o444)
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := memory.New()
	got := metastoretest.Seed(t, s, dir)
	wantPaths := []string{"/UUID", "/a-b/c/d.dict", "/a.b", "/a/x", "/empty", "/table/数据.json"}
	var gotPaths []string
	for _, r := range got {
		gotPaths = append(gotPaths, r.Path)
		if want := files[r.Path[1:]]; string(r.Data) != want {
			t.Errorf("Seed gave %s the data %q, want %q", r.Path, r.Data, want)
		}
		if want := metastoretest.SeedTimestamp(r.Path); r.Timestamp != want {
			t.Errorf("Seed gave %s the timestamp %d, want %d", r.Path, r.Timestamp, want)
		}
		back, err := s.Read(t.Context(), r.Path)
		if err != nil || string(back.Data) != string(r.Data) || back.Timestamp != r.Timestamp {
			t.Errorf("after Seed, Read(%q) = (%q, %d, %v), want (%q, %d)", r.Path, back.Data, back.Timestamp, err, r.Data, r.Timestamp)
		}
	}
	if !slices.Equal(gotPaths, wantPaths) {
		t.Errorf("Seed returned %q, want %q (byte order)", gotPaths, wantPaths)
	}
	if s.Len() != len(files) {
		t.Errorf("after Seed the store holds %d resources, want %d", s.Len(), len(files))
	}
}

func TestSeedKylinSample(t *testing.T) {
	dir := metastoretest.Sample("kylin-3.1.3")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
	}
	s := memory.New()
	got := metastoretest.Seed(t, s, dir)
	if len(got) != 188 || s.Len() != 188 {
		t.Errorf("Seed of the Kylin 3.1.3 sample wrote %d resources (store holds %d), want 188", len(got), s.Len())
	}
}
