package tree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// randomFolder returns n entries in git order whose names share prefixes
// ("a", "a.json", "a-b", folders "a" and "a@1@"...), and their timestamps
// mirror.
func randomFolder(n int, seed uint64) (files, mirror []objects.TreeEntry) {
	rng := rand.New(rand.NewPCG(seed, seed))
	seen := map[string]bool{}
	empty := objects.HashObject(objects.KindBlob, nil)
	for len(seen) < n {
		name := ""
		for k := rng.IntN(4) + 1; k > 0; k-- {
			name += []string{"a", "b", ".json", "-", "@1", "x", "0"}[rng.IntN(7)]
		}
		if seen[name] || name == "." || name == ".." {
			continue
		}
		seen[name] = true
		id := objects.HashObject(objects.KindBlob, []byte(name))
		if rng.IntN(5) == 0 {
			files = append(files, objects.TreeEntry{Name: name, Mode: objects.ModeDir, ID: id})
			mirror = append(mirror, objects.TreeEntry{Name: EscapeDir(name), Mode: objects.ModeDir, ID: id})
			continue
		}
		files = append(files, objects.TreeEntry{Name: name, Mode: objects.ModeFile, ID: id})
		mirror = append(mirror, objects.TreeEntry{Name: MirrorEntry(name, int64(len(name))), Mode: objects.ModeFile, ID: empty})
	}
	objects.SortTree(files)
	objects.SortTree(mirror)
	return files, mirror
}

// TestSearchMatchesDecode checks that a search in place of a folder in git
// order, which starts at a mark and stops past the name, and a binary
// search of its decoded entries find the same entries, for every name of a
// folder of several marks and for names it lacks.
func TestSearchMatchesDecode(t *testing.T) {
	files, mirror := randomFolder(400, 1)
	rawFiles, rawMirror := encode(t, files), encode(t, mirror)
	sf, err := newSearch(rawFiles)
	if err != nil || !sf.sorted || sf.twice != nil || len(sf.marks) < 10 {
		t.Fatalf("search of the folder: %+v, %v", sf, err)
	}
	sm, err := newSearch(rawMirror)
	if err != nil || !sm.sorted || sm.twice != nil {
		t.Fatalf("search of the mirror: %v", err)
	}
	decoded := &dir{raw: rawFiles}
	if _, err := decoded.decode(); err != nil || decoded.index != nil {
		t.Fatalf("decode: %v (index %v)", err, decoded.index != nil)
	}
	names := map[string]objects.TreeEntry{}
	for _, e := range files {
		names[e.Name] = e
	}
	for _, e := range files {
		for _, n := range []string{e.Name, e.Name + "x", e.Name + ".", e.Name[:len(e.Name)-1]} {
			want, wantOK := names[n]
			got, ok, err := sf.find(rawFiles, n)
			if err != nil || ok != wantOK || got != want {
				t.Errorf("find(%q) = %v, %v, %v; want %v, %v", n, got, ok, err, want, wantOK)
			}
			if got, ok := decoded.get(n); ok != wantOK || got != want {
				t.Errorf("get(%q) after decoding = %v, %v; want %v, %v", n, got, ok, want, wantOK)
			}
			ms, ok, err := sm.timestamp(rawMirror, n)
			wantTS := wantOK && !want.IsDir()
			if err != nil || ok != wantTS || (ok && ms != int64(len(n))) {
				t.Errorf("timestamp(%q) = %d, %v, %v; want %v", n, ms, ok, err, wantTS)
			}
		}
	}
}

// BenchmarkFolderLookups looks up three cubes by name in a fresh folder of
// 4,500 (as a cube restore does in /cube of a 100,000-resource metastore):
// one read of the whole encoding, then searches from the marks.
func BenchmarkFolderLookups(b *testing.B) {
	var es []objects.TreeEntry
	for i := range 4500 {
		es = append(es, objects.TreeEntry{Name: fmt.Sprintf("orders_%04d_cube.json", i), Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, []byte{byte(i)})})
	}
	raw, err := objects.EncodeTree(es)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		d := &dir{raw: raw}
		for _, n := range []string{"orders_2000_cube.json", "orders_1000_cube.json", "orders_3000_cube.json"} {
			if _, ok, err := d.find(n); !ok || err != nil {
				b.Fatal(n, ok, err)
			}
		}
	}
}
