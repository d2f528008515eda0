package snapshot

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
)

func TestScanList(t *testing.T) {
	mk := func(names ...string) []scanned {
		out := make([]scanned, len(names))
		for i, n := range names {
			out[i] = scanned{path: n, id: objects.ID{byte(len(n))}}
		}
		return out
	}
	tests := []struct {
		name   string
		slabs  [][]scanned
		want   []string
		sorted bool
	}{
		{"one slab", [][]scanned{mk("/a", "/b")}, []string{"/a", "/b"}, true},
		{"slabs of any length, empty ones too", [][]scanned{mk("/a"), nil, mk("/b", "/c", "/d"), mk("/e")}, []string{"/a", "/b", "/c", "/d", "/e"}, true},
		{"out of order across slabs", [][]scanned{mk("/b"), mk("/a")}, []string{"/b", "/a"}, false},
		{"a path twice", [][]scanned{mk("/a"), mk("/a")}, []string{"/a", "/a"}, false},
		{"empty", nil, nil, true},
	}
	for _, tt := range tests {
		l := listOfSlabs(tt.slabs)
		var got []string
		for i := range l.Len() {
			if it, at := l.item(i), l.At(i); it.path != at.Key || it.id != at.ID {
				t.Errorf("%s: item(%d) = %s, At(%d) = %s", tt.name, i, it.path, i, at.Key)
			}
			got = append(got, l.item(i).path)
		}
		var all []string
		for it := range l.all() {
			all = append(all, it.path)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || fmt.Sprint(all) != fmt.Sprint(tt.want) {
			t.Errorf("%s: item %v, all %v; want %v", tt.name, got, all, tt.want)
		}
		if l.sorted() != tt.sorted {
			t.Errorf("%s: sorted = %v, want %v", tt.name, l.sorted(), tt.sorted)
		}
		if len(l.flat()) != len(tt.want) {
			t.Errorf("%s: flat has %d, want %d", tt.name, len(l.flat()), len(tt.want))
		}
	}
}

// TestFirstScanResultNotCopied checks that a scan without a change cache
// (a first backup: nothing tells how many resources to reserve room for)
// returns its slabs as they are, the resources that vanished dropped,
// instead of copying every record into one slice: the copy held them twice
// at the first backup's peak.
func TestFirstScanResultNotCopied(t *testing.T) {
	ctx := t.Context()
	r := newRepo(t)
	m := memory.New()
	const n = 3*slabSize + 5
	for i := range n {
		m.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/execute/job-%05d", i), Data: []byte{byte(i)}, Timestamp: 1})
	}
	caches := r.openCaches(metastore.Describe(m), true, false)
	defer caches.close()
	s := &scanner{src: m, write: hashOnly, load: caches.load, prog: progressOrNone(nil), has: r.objs.Has}
	next := make(chan toRead, n)
	if err := s.list(ctx, nil, true, next); err != nil {
		t.Fatal(err)
	}
	close(next)
	k := 0
	for it := range next {
		if k++; k == 7 {
			it.it.gone = true // deleted before it was read
			continue
		}
		if err := s.read(ctx, it.it, it.old.id); err != nil {
			t.Fatal(err)
		}
	}
	items, allocated := resultAllocs(t, s)
	if items.Len() != n-1 || len(items.slabs) < 2 || !items.sorted() {
		t.Fatalf("%d resources in %d slabs (sorted %v); want %d in several, sorted", items.Len(), len(items.slabs), items.sorted(), n-1)
	}
	if items.item(6).path != "/execute/job-00007" {
		t.Errorf("resource 6 is %s; want /execute/job-00007 (job-00006 was gone)", items.item(6).path)
	}
	if allocated > 16<<10 {
		t.Errorf("gathering the result of %d resources allocated %d bytes; want the slabs as they are", n, allocated)
	}
}

// resultAllocs returns the result of scan s and the bytes gathering it
// allocated.
func resultAllocs(t *testing.T, s *scanner) (scanList, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	items, err := s.result()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return items, after.TotalAlloc - before.TotalAlloc
}
