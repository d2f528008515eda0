package tree

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// memObjects is an object store in memory that counts the trees read.
// Reads may come from several goroutines (a comparison reads the versions
// of a folder at the same time).
type memObjects struct {
	mu    sync.Mutex
	trees map[objects.ID][]byte
	reads map[objects.ID]int
}

func (m *memObjects) ReadKind(id objects.ID, k objects.Kind) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.trees[id]
	if !ok || k != objects.KindTree {
		return nil, fmt.Errorf("%w: %s", objects.ErrNotFound, id)
	}
	m.reads[id]++
	return raw, nil
}

func (m *memObjects) put(t *testing.T, entries ...objects.TreeEntry) objects.ID {
	t.Helper()
	objects.SortTree(entries)
	raw := encode(t, entries)
	id := objects.HashObject(objects.KindTree, raw)
	m.trees[id] = raw
	return id
}

// TestTreeAtReadsOnlyTheFoldersAbove checks that TreeAt, which a backup
// calls for every tree it writes (to find its previous version, a delta
// base), names the tree at a path by reading the folders above it only:
// the trees themselves, as large as a folder of 50,000 jobs, are never
// read for it.
func TestTreeAtReadsOnlyTheFoldersAbove(t *testing.T) {
	m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
	blob := objects.HashObject(objects.KindBlob, []byte("x"))
	leaf := m.put(t, objects.TreeEntry{Name: "x.json", Mode: objects.ModeFile, ID: blob})
	mid := m.put(t, objects.TreeEntry{Name: "C", Mode: objects.ModeDir, ID: leaf}, objects.TreeEntry{Name: "C.json", Mode: objects.ModeFile, ID: blob})
	root := m.put(t, objects.TreeEntry{Name: "dict", Mode: objects.ModeDir, ID: mid}, objects.TreeEntry{Name: "UUID", Mode: objects.ModeFile, ID: blob})
	r := NewReader(m).Open(root, "snapshot test")
	for path, want := range map[string]objects.ID{
		"": root, "dict": mid, "dict/C": leaf,
		"dict/C.json": {}, "UUID": {}, "missing": {}, "missing/x": {},
	} {
		if got := r.TreeAt(path); got != want {
			t.Errorf("TreeAt(%q) = %s, want %s", path, got, want)
		}
	}
	if m.reads[leaf] != 0 {
		t.Errorf("TreeAt read the tree at dict/C itself (%d times)", m.reads[leaf])
	}
	if m.reads[root] != 1 || m.reads[mid] != 1 {
		t.Errorf("the folders above were read %d and %d times, want once each", m.reads[root], m.reads[mid])
	}
}
