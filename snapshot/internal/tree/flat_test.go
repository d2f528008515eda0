package tree

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// build stores the trees of a snapshot of files (key without its leading
// slash -> version, as snapshotTree takes them) into m with a Builder and
// returns the root and the bytes the build allocated.
func (m *memObjects) build(t *testing.T, files map[string]Version) (objects.ID, uint64) {
	t.Helper()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	})
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i] = Item{Key: "/" + k, ID: files[k].ID, Timestamp: files[k].Timestamp}
	}
	b := &Builder{Write: func(k objects.Kind, data []byte, _ objects.ID) (objects.ID, error) {
		id := objects.HashObject(k, data)
		if k == objects.KindTree {
			m.mu.Lock()
			m.trees[id] = data
			m.mu.Unlock()
		}
		return id, nil
	}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	root, err := b.Build(ItemSlice(items))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return root, after.TotalAlloc - before.TotalAlloc
}

// TestFlatFoldersEncodedFromItems checks that the trees of folders without
// subfolders, encoded straight from the items, are the trees their entries
// encode to, including folders whose timestamps mirror sorts differently
// from their names (where the builder goes through entries), and that a
// large flat folder costs about its encoded trees, not slices of entries
// and a mirror name per resource beside them.
func TestFlatFoldersEncodedFromItems(t *testing.T) {
	id := func(i int) objects.ID { return objects.HashObject(objects.KindBlob, []byte(fmt.Sprint(i))) }
	tests := []struct {
		name  string
		files map[string]Version
	}{
		{"jobs", map[string]Version{"UUID": {id(0), 5}, "execute/0a-1": {id(1), 1700000000001}, "execute/0b-2": {id(2), 1700000000002}, "project/p.json": {id(3), 3}}},
		{"mirror sorts otherwise", map[string]Version{"UUID": {id(0), 5}, "cube/a": {id(1), 1}, "cube/a-b": {id(2), 2}, "cube/a.json": {id(3), 3}, "cube/a0": {id(4), 4}}},
	}
	for _, tt := range tests {
		m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
		want := m.snapshotTree(t, tt.files)
		if got, _ := m.build(t, tt.files); got != want {
			t.Errorf("%s: root %s, want %s (the trees of the entries)", tt.name, got, want)
		}
	}
	const n = 50000
	// A folder of job outputs as Kylin names them ("JOB" and "JOB-00"),
	// whose mirror sorts otherwise, and one whose mirror sorts the same.
	for _, format := range []string{"execute_output/%08x-0000-4000-8000-%012x%s", "execute_output/%08x-0000-4000-8000-%012x-%02d"} {
		files := map[string]Version{"UUID": {id(0), 5}}
		for i := range n {
			var last any = i % 3
			if format[len(format)-2:] == "%s" {
				last = []string{"", "-00", "-01"}[i%3]
			}
			files[fmt.Sprintf(format, i/3, (i/3)*7919, last)] = Version{id(i), 1700000000000 + int64(i)}
		}
		m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
		want := m.snapshotTree(t, files)
		got, alloc := m.build(t, files)
		if got != want {
			t.Errorf("%s: root %s, want %s", format, got, want)
		}
		// Encoded: a tree entry is 7 + 50 + 1 + 20 bytes, a mirror entry 14
		// more: 170 bytes a resource (and 4 for the mirror's order).
		// Entries and mirror names beside them took about 160 more.
		if per := float64(alloc) / n; per > 220 && !raceEnabled {
			t.Errorf("%s: building a flat folder of %d resources allocated %.0f bytes per resource; want at most 220", format, n, per)
		}
	}
}
