package zipfile

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
)

// entry is one entry of a test zip.
type entry struct {
	name string
	data string
	mode fs.FileMode // 0: a regular file
	// dos, when set, is written as MS-DOS date and time only, as Java's
	// ZipEntry.setTime does; else mod, with the extended timestamp.
	dos time.Time
	mod time.Time
	// raw writes the entry stored with this declared size (a lying header).
	raw int
	// deflate big content
	level bool
}

func writeZip(t *testing.T, entries ...entry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.zip")
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch {
		case !e.dos.IsZero():
			h.ModifiedDate = uint16(e.dos.Day() + int(e.dos.Month())<<5 + (e.dos.Year()-1980)<<9)
			h.ModifiedTime = uint16(e.dos.Second()/2 + e.dos.Minute()<<5 + e.dos.Hour()<<11)
		case !e.mod.IsZero():
			h.Modified = e.mod
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		if e.raw > 0 {
			h.Method = zip.Store
			h.CompressedSize64 = uint64(len(e.data))
			h.UncompressedSize64 = uint64(e.raw)
			h.CRC32 = crc32.ChecksumIEEE([]byte(e.data))
			fw, err := w.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			fw.Write([]byte(e.data))
			continue
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(e.data))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZipReads(t *testing.T) {
	ctx := context.Background()
	ts := time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)
	dos := time.Date(2024, 3, 1, 10, 20, 30, 0, time.Local)
	p := writeZip(t,
		entry{name: "/_global/", data: ""}, // a folder entry: skipped
		entry{name: "/_global/project/p.json", data: `{"name":"p"}`, dos: dos},
		entry{name: "MODEL/m.json", data: `{"uuid":"m"}`, mod: ts},
		entry{name: "/UUID", data: "\x00\x03abc", dos: dos},
	)
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var keys []string
	s.List(ctx, "/", func(k string) error { keys = append(keys, k); return nil })
	if want := "/MODEL/m.json /UUID /_global/project/p.json"; strings.Join(keys, " ") != want {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	keys = nil
	s.List(ctx, "/_global/", func(k string) error { keys = append(keys, k); return nil })
	if len(keys) != 1 {
		t.Errorf("List(/_global/) = %q", keys)
	}
	r, err := s.Read(ctx, "/_global/project/p.json")
	if err != nil || string(r.Data) != `{"name":"p"}` || r.Timestamp != dos.UnixMilli() {
		t.Errorf("Read = %q, ts %d, %v; want the content and the MS-DOS time read in the local zone (%d)", r.Data, r.Timestamp, err, dos.UnixMilli())
	}
	r, err = s.Read(ctx, "/MODEL/m.json")
	if err != nil || r.Timestamp != ts.UnixMilli() {
		t.Errorf("Read of an entry with the extended timestamp: ts %d, %v; want %d", r.Timestamp, err, ts.UnixMilli())
	}
	if _, err := s.Read(ctx, "/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing key: %v", err)
	}
	if ok, _ := s.Exists(ctx, "/UUID"); !ok {
		t.Error("Exists(/UUID) = false")
	}
	var sizes []int64
	s.ListEntries(ctx, "/", func(e metastore.Entry) error { sizes = append(sizes, e.Size); return nil })
	if len(sizes) != 3 || sizes[1] != 5 {
		t.Errorf("sizes = %v", sizes)
	}
}

func TestZipRefuses(t *testing.T) {
	zeros := strings.Repeat("\x00", 3<<20)
	for _, c := range []struct {
		name    string
		entries []entry
		lim     Limits
		want    string
	}{
		{"parent", []entry{{name: "../etc/passwd", data: "x"}}, DefaultLimits, `".." component`},
		{"inner parent", []entry{{name: "/a/../../b", data: "x"}}, DefaultLimits, `".." component`},
		{"dot", []entry{{name: "a/./b", data: "x"}}, DefaultLimits, `"." component`},
		{"empty component", []entry{{name: "/a//b", data: "x"}}, DefaultLimits, "empty path component"},
		{"double slash", []entry{{name: "//server/share", data: "x"}}, DefaultLimits, "two slashes"},
		{"backslash", []entry{{name: "a\\..\\b", data: "x"}}, DefaultLimits, "backslash"},
		{"drive", []entry{{name: "C:/x", data: "x"}}, DefaultLimits, "drive letter"},
		{"symlink", []entry{{name: "/a/link", data: "/etc/passwd", mode: fs.ModeSymlink | 0o777}}, DefaultLimits, "symbolic link"},
		{"device", []entry{{name: "/a/dev", data: "", mode: fs.ModeDevice | 0o600}}, DefaultLimits, "not a regular file"},
		{"duplicate", []entry{{name: "/a", data: "1"}, {name: "a", data: "2"}}, DefaultLimits, "two entries for /a"},
		{"file and folder", []entry{{name: "/a", data: "1"}, {name: "/a/b", data: "2"}}, DefaultLimits, "both a resource and a folder"},
		{"too many", []entry{{name: "/a", data: "1"}, {name: "/b", data: "2"}, {name: "/c", data: "3"}}, Limits{Entries: 2, Entry: 1 << 20, Total: 1 << 20, Ratio: 1000}, "3 entries"},
		{"too big", []entry{{name: "/a", data: strings.Repeat("a", 2000)}}, Limits{Entries: 10, Entry: 1000, Total: 1 << 20, Ratio: 1000}, "inflates to 2000 bytes"},
		{"total", []entry{{name: "/a", data: strings.Repeat("a", 600)}, {name: "/b", data: strings.Repeat("b", 600)}}, Limits{Entries: 10, Entry: 1000, Total: 1000, Ratio: 1000}, "more than the 1000 bytes"},
		{"bomb", []entry{{name: "/a", data: zeros}}, Limits{Entries: 10, Entry: 1 << 30, Total: 1 << 30, Ratio: 100}, "zip bomb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenLimits(writeZip(t, c.entries...), c.lim)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenLimits = %v, want ErrUnsafe saying %q", err, c.want)
			}
		})
	}
}

// TestZipLyingHeader checks that an entry whose data is longer than its
// header declares cannot be read past the declared size.
func TestZipLyingHeader(t *testing.T) {
	s, err := Open(writeZip(t, entry{name: "/a", data: strings.Repeat("x", 100), raw: 10}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.Read(context.Background(), "/a"); err == nil {
		t.Errorf("Read of an entry that inflates past its header = %d bytes, no error", len(r.Data))
	}
}

func TestKey(t *testing.T) {
	for name, want := range map[string]string{
		"/UUID": "/UUID", "UUID": "/UUID", "MODEL/x.json": "/MODEL/x.json", "/_global/project/p.json": "/_global/project/p.json",
	} {
		got, ok, err := Key(name)
		if got != want || !ok || err != nil {
			t.Errorf("Key(%q) = %q, %v, %v; want %q", name, got, ok, err, want)
		}
	}
	for _, dir := range []string{"/", "/_global/", "a/b/"} {
		if _, ok, err := Key(dir); ok || err != nil {
			t.Errorf("Key(%q): a folder entry should be skipped, got ok %v, %v", dir, ok, err)
		}
	}
}
