package tree

import (
	"errors"
	"fmt"
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
	rawFiles, err := objects.EncodeTree(files)
	if err != nil {
		t.Fatal(err)
	}
	rawMirror, err := objects.EncodeTree(mirror)
	if err != nil {
		t.Fatal(err)
	}
	d, m := &dir{raw: rawFiles}, &dir{raw: rawMirror}
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
		if _, _, err := (&dir{raw: raw}).decode(); err == nil {
			t.Errorf("mode %o: decoding accepted the folder", mode)
		}
	}
	// A damaged encoding is an error, not a miss.
	if _, _, err := (&dir{raw: []byte("100644 cut")}).find("x"); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("damaged folder: %v, want ErrCorrupt", err)
	}
}
