package tree

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// TestDirTreeLookups checks that a folder answers the same whether its
// encoding is searched in place (the first lookups) or decoded (later ones,
// or after a walk): entries, folders, timestamp records (names holding "@"
// included) and missing names.
func TestDirTreeLookups(t *testing.T) {
	blob := objects.HashObject(objects.KindBlob, []byte("x"))
	var files, mirror []objects.TreeEntry
	want := map[string]int64{}
	for i, n := range []string{"a.json", "a@1", "b", "cube.json", "x@y.json", "zz"} {
		ms := int64(1700000000000 + i)
		files = append(files, objects.TreeEntry{Name: n, Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, []byte(n))})
		mirror = append(mirror, objects.TreeEntry{Name: MirrorEntry(n, ms), Mode: objects.ModeFile, ID: blob})
		want[n] = ms
	}
	files = append(files, objects.TreeEntry{Name: "a", Mode: objects.ModeDir, ID: objects.HashObject(objects.KindTree, nil)})
	mirror = append(mirror, objects.TreeEntry{Name: "a", Mode: objects.ModeDir, ID: objects.HashObject(objects.KindTree, nil)})
	objects.SortTree(files)
	objects.SortTree(mirror)
	d, m := &dir{raw: encode(t, files)}, &dir{raw: encode(t, mirror)}
	for round := 0; round < 3*scanLookups; round++ {
		for _, e := range files {
			got, ok, err := d.find(e.Name)
			if err != nil || !ok || got != e {
				t.Fatalf("lookup %d: find(%q) = %v, %v, %v; want %v", round, e.Name, got, ok, err, e)
			}
			if e.IsDir() {
				continue
			}
			ms, ok, bad, err := m.timestamp(e.Name)
			if err != nil || bad != "" || !ok || ms != want[e.Name] {
				t.Fatalf("lookup %d: timestamp(%q) = %d, %v, %q, %v; want %d", round, e.Name, ms, ok, bad, err, want[e.Name])
			}
		}
		for _, n := range []string{"", "a.js", "cube", "x", "zzz"} {
			if _, ok, err := d.find(n); ok || err != nil {
				t.Fatalf("lookup %d: find(%q) found something (%v)", round, n, err)
			}
			if _, ok, _, err := m.timestamp(n); ok || err != nil {
				t.Fatalf("lookup %d: timestamp(%q) found something (%v)", round, n, err)
			}
		}
	}
	if !d.decoded || !m.decoded {
		t.Error("folders still searched in place after many lookups")
	}
}

// TestDirTreeRefusesLinks checks that a symbolic link or a submodule is an
// error both when found by a search in place and when decoded.
func TestDirTreeRefusesLinks(t *testing.T) {
	for _, mode := range []objects.Mode{0o120000, 0o160000} {
		entries := []objects.TreeEntry{
			{Name: "evil.json", Mode: mode, ID: objects.HashObject(objects.KindBlob, []byte("../x"))},
			{Name: "ok.json", Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, []byte("{}"))},
		}
		var raw []byte
		for _, e := range entries {
			raw = fmt.Appendf(raw, "%o %s\x00", e.Mode, e.Name)
			raw = append(raw, e.ID[:]...)
		}
		d := &dir{raw: raw}
		if _, _, err := d.find("evil.json"); err == nil {
			t.Errorf("mode %o: search in place found the entry without an error", mode)
		}
		if _, ok, err := d.find("ok.json"); !ok || err != nil {
			t.Errorf("mode %o: the good entry beside it: %v, %v", mode, ok, err)
		}
		if _, err := (&dir{raw: raw}).decode(); err == nil {
			t.Errorf("mode %o: decoding accepted the folder", mode)
		}
	}
	// A damaged encoding is an error, not a miss.
	if _, _, err := (&dir{raw: []byte("100644 cut")}).find("x"); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("damaged folder: %v, want ErrCorrupt", err)
	}
}

// encode returns the encoding of a tree of entries (in git order).
func encode(t *testing.T, entries []objects.TreeEntry) []byte {
	t.Helper()
	raw, err := objects.EncodeTree(entries)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rawTree encodes entries in the order given ("d:" marks a folder), as a
// crafted repository might: out of git order, or with a name twice.
func rawTree(names ...string) []byte {
	var raw []byte
	for _, n := range names {
		mode, name := "100644", n
		if rest, ok := strings.CutPrefix(n, "d:"); ok {
			mode, name = "40000", rest
		}
		raw = fmt.Appendf(raw, "%s %s\x00", mode, name)
		id := objects.HashObject(objects.KindBlob, []byte(n))
		raw = append(raw, id[:]...)
	}
	return raw
}

// TestDirTreeListedTwice checks that a name listed twice is refused by
// every lookup of it, the first (which reads the whole folder), later ones
// (which stop where the name would be in git order) and those after
// decoding, in folders in git order and out of it; and that the other
// names of such a folder are found by a search in place.
func TestDirTreeListedTwice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string
		twice   string // the name listed twice
		sorted  bool
	}{
		{"two files", []string{"a.json", "a.json", "b.json"}, "a.json", true},
		{"two folders", []string{"a", "d:b", "d:b", "c"}, "b", true},
		{"file and folder apart", []string{"a", "a-b", "a.json", "d:a", "z"}, "a", true},
		{"file and folder at the end", []string{"0", "x", "x.y", "d:x"}, "x", true},
		{"out of order", []string{"b.json", "a.json", "c.json", "a.json"}, "a.json", false},
		{"out of order, file and folder", []string{"d:a", "b", "a"}, "a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawTree(tc.entries...)
			s, err := newSearch(raw)
			if err != nil {
				t.Fatal(err)
			}
			sorted, twice := s.sorted, s.twice
			if err != nil || sorted != tc.sorted || (sorted && !twice[tc.twice]) || (sorted && len(twice) != 1) {
				t.Errorf("search = %v, %v, %v; want sorted %v, twice {%s}", sorted, twice, err, tc.sorted, tc.twice)
			}
			d := &dir{raw: raw}
			for i := 0; i < 2*scanLookups; i++ {
				if _, _, err := d.find(tc.twice); err == nil || !strings.Contains(err.Error(), "listed twice") {
					t.Fatalf("lookup %d of %q: %v, want listed twice", i, tc.twice, err)
				}
			}
			// A search in place (the first lookups of a folder) finds the
			// others; once decoded, the whole folder is refused.
			d = &dir{raw: raw}
			for _, n := range tc.entries {
				n = strings.TrimPrefix(n, "d:")
				if n == tc.twice {
					continue
				}
				if _, ok, err := d.find(n); !ok || err != nil {
					t.Errorf("lookup of %q beside it: %v, %v", n, ok, err)
				}
			}
		})
	}
}

// TestDirTreeTimestampsTwice checks that two timestamp records of one
// resource are refused by a search in place, in git order or not, and once
// decoded; records of other resources sharing the prefix are no
// duplicates.
func TestDirTreeTimestampsTwice(t *testing.T) {
	for _, entries := range [][]string{
		{"a.json@1", "a.json@2", "b.json@1"},
		{"a.json.bak@3", "a.json@1", "a.json@2", "a.json@@5@"},
		{"b.json@1", "a.json@2", "a.json@1"},
	} {
		d := &dir{raw: rawTree(entries...)}
		for i := 0; i < 2*scanLookups; i++ {
			if _, _, _, err := d.timestamp("a.json"); err == nil || !strings.Contains(err.Error(), "two timestamp records") {
				t.Fatalf("%q, lookup %d: %v, want two timestamp records", entries, i, err)
			}
		}
	}
	d := &dir{raw: rawTree("a.json.bak@3", "a.json@1", "d:a.json@2@", "b@4")}
	for i := 0; i < 2*scanLookups; i++ {
		if ms, ok, bad, err := d.timestamp("a.json"); ms != 1 || !ok || bad != "" || err != nil {
			t.Fatalf("lookup %d: %d, %v, %q, %v; want 1", i, ms, ok, bad, err)
		}
	}
}
