package tree

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// passedItems are the items of a build that checks the builder's Passed:
// an item read after the builder said it had passed it is an error (a
// backup releases those records).
type passedItems struct {
	t      *testing.T
	items  ItemSlice
	passed int
	calls  int
}

func (p *passedItems) Len() int { return len(p.items) }

func (p *passedItems) At(i int) Item {
	if i < p.passed {
		p.t.Errorf("item %d (%s) read after the builder passed position %d", i, p.items[i].Key, p.passed)
	}
	return p.items[i]
}

func (p *passedItems) pass(hi int) {
	if hi < p.passed || hi > len(p.items) {
		p.t.Errorf("passed %d after %d, of %d items", hi, p.passed, len(p.items))
	}
	p.passed = hi
	p.calls++
}

// TestBuilderPassesFolders checks that a builder told to report the items
// it is done with (Passed, which lets a backup release its records folder
// by folder) never reads them again, reports every folder's end, and
// writes the same trees as a build without it and as the trees of the
// entries: nested folders, names that sort otherwise as tree entries ("a"
// as a folder sorts as "a/", after "a.b" and before "a0"), a flat folder
// large enough to be stored in the background or in turn, one or several
// workers.
func TestBuilderPassesFolders(t *testing.T) {
	id := func(i int) objects.ID { return objects.HashObject(objects.KindBlob, []byte(fmt.Sprint(i))) }
	jobs := func(n int, size int) map[string]Version {
		files := map[string]Version{"UUID": {id(0), 5}, "project/p.json": {id(1), 1}, "cube/c.json": {id(2), 2}}
		for i := range n {
			files[fmt.Sprintf("execute/%08x-0000-4000-8000-%0*x", i, size, i)] = Version{id(i + 3), 1700000000000 + int64(i)}
			files[fmt.Sprintf("execute_output/%08x-0000-4000-8000-%0*x-00", i, size, i)] = Version{id(i + 3), 1700000000000 + int64(i)}
		}
		return files
	}
	tests := []struct {
		name  string
		files map[string]Version
		want  int // folders reported at least
	}{
		{"nested", map[string]Version{"UUID": {id(0), 1}, "cube/a.json": {id(1), 2}, "dict/T/C/1.dict": {id(2), 3}, "dict/T/C/2.dict": {id(3), 4}, "dict/T/D/1.dict": {id(4), 5}, "dict/U/1.dict": {id(5), 6}, "project/p/x": {id(6), 7}}, 7},
		{"names sorting otherwise", map[string]Version{"a.b": {id(1), 1}, "a/x": {id(2), 2}, "a0": {id(3), 3}, "x/a-b": {id(4), 4}, "x/a.b": {id(5), 5}, "x/a/y": {id(6), 6}, "x/a0": {id(7), 7}, "x/a/z/q": {id(8), 8}}, 4},
		{"only files at the root", map[string]Version{"UUID": {id(0), 1}, "a": {id(1), 2}}, 0},
		{"flat folders stored in the background", jobs(2000, 12), 2},
		{"flat folders stored in turn", jobs(30000, 40), 2},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 4} {
			m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
			want := m.nestedTree(t, tt.files)
			plain, _ := m.build(t, tt.files)
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range tt.files {
					if !yield(k) {
						return
					}
				}
			})
			p := &passedItems{t: t}
			for _, k := range keys {
				p.items = append(p.items, Item{Key: "/" + k, ID: tt.files[k].ID, Timestamp: tt.files[k].Timestamp})
			}
			b := &Builder{Write: func(k objects.Kind, data []byte, _ objects.ID) (objects.ID, error) {
				return objects.HashObject(k, data), nil
			}, Workers: workers, Passed: p.pass}
			got, err := b.Build(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != want || plain != want {
				t.Errorf("%s, %d workers: root %s (without Passed %s), want %s (the trees of the entries)", tt.name, workers, got, plain, want)
			}
			last := keys[len(keys)-1]
			if end := 0; slices.Contains([]byte(last), '/') {
				end = len(keys)
				if p.passed != end {
					t.Errorf("%s, %d workers: passed %d of %d items, want all (the last is in a folder)", tt.name, workers, p.passed, end)
				}
			}
			if p.calls < tt.want {
				t.Errorf("%s, %d workers: %d folders reported, want at least %d", tt.name, workers, p.calls, tt.want)
			}
		}
	}
}

// nestedTree stores the tree of a snapshot holding files (key without its
// leading slash -> version), folders at any depth, from sorted entries (as
// main's builder did, by objects.EncodeTree), and returns its root.
func (m *memObjects) nestedTree(t *testing.T, files map[string]Version) objects.ID {
	t.Helper()
	tree, mirror := m.nestedFolder(t, files, "")
	records := m.put(t, objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: mirror})
	raw, ok := m.trees[tree]
	if !ok {
		t.Fatal("root tree not stored")
	}
	entries, err := objects.DecodeTree(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m.put(t, append(entries, objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: records})...)
}

// nestedFolder stores the tree and the timestamps mirror of the folder
// prefix ("" or "a/b/") of files.
func (m *memObjects) nestedFolder(t *testing.T, files map[string]Version, prefix string) (objects.ID, objects.ID) {
	empty := objects.HashObject(objects.KindBlob, nil)
	var entries, mirror []objects.TreeEntry
	subs := map[string]bool{}
	for key, v := range files {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if dir, _, ok := strings.Cut(rest, "/"); ok {
			subs[dir] = true
			continue
		}
		entries = append(entries, objects.TreeEntry{Name: rest, Mode: objects.ModeFile, ID: v.ID})
		mirror = append(mirror, objects.TreeEntry{Name: MirrorEntry(rest, v.Timestamp), Mode: objects.ModeFile, ID: empty})
	}
	for dir := range subs {
		id, mid := m.nestedFolder(t, files, prefix+dir+"/")
		entries = append(entries, objects.TreeEntry{Name: dir, Mode: objects.ModeDir, ID: id})
		mirror = append(mirror, objects.TreeEntry{Name: EscapeDir(dir), Mode: objects.ModeDir, ID: mid})
	}
	return m.put(t, entries...), m.put(t, mirror...)
}

// TestBuilderInParts checks that a snapshot's resources added in parts,
// one per folder of the root (and per run of resources at the root), as a
// backup adds them during its scan, give the trees of a build in one go,
// and that a name at the root that is a resource in one part and a folder
// in another is refused, as in one go.
func TestBuilderInParts(t *testing.T) {
	id := func(i int) objects.ID { return objects.HashObject(objects.KindBlob, []byte(fmt.Sprint(i))) }
	tests := []struct {
		name    string
		keys    []string
		wantErr bool
	}{
		{"folders and resources at the root", []string{"UUID", "a.b", "a/x/1", "a/x/2", "a/y", "a0", "cube/c", "dict/T/C/1", "z"}, false},
		{"folders only", []string{"a/1", "b/c/d", "b/e"}, false},
		{"a resource and a folder of one name", []string{"a", "a-b", "a/x"}, true},
	}
	for _, tt := range tests {
		files := map[string]Version{}
		var items ItemSlice
		for i, k := range tt.keys {
			files[k] = Version{id(i), int64(i)}
			items = append(items, Item{Key: "/" + k, ID: id(i), Timestamp: int64(i)})
		}
		b := &Builder{Write: func(k objects.Kind, data []byte, _ objects.ID) (objects.ID, error) {
			return objects.HashObject(k, data), nil
		}}
		lo := 0
		for i := 1; i <= len(items); i++ {
			if i == len(items) || rootOfKey(items[i].Key) != rootOfKey(items[lo].Key) {
				b.Add(items[lo:i])
				lo = i
			}
		}
		got, err := b.Finish()
		if tt.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tt.name)
			}
			continue
		}
		m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
		if want := m.nestedTree(t, files); err != nil || got != want {
			t.Errorf("%s: root %s, %v; want %s", tt.name, got, err, want)
		}
	}
}

// rootOfKey is the folder of the root that key is in; "" for a resource
// at the root.
func rootOfKey(key string) string {
	name, _, ok := strings.Cut(key[1:], "/")
	if !ok {
		return ""
	}
	return name
}
