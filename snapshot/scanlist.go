package snapshot

import (
	"iter"
	"sort"

	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// scanList is the resources of a scan, in path order, in one slab or
// several. A whole scan fills slabs of slabSize (a scoped scan reserves one
// for its members); copying them into one slice held every record twice at
// the backup's peak (72 bytes per resource: 72 MB at a million), so the
// slabs are the result as they are, and the snapshot's record frees them
// one by one as its trees are written (release).
type scanList struct {
	slabs  [][]scanned
	starts []int // position of each slab's first resource
	n      int
}

// listOf is the list of items, one slab.
func listOf(items []scanned) scanList {
	return scanList{slabs: [][]scanned{items}, starts: []int{0}, n: len(items)}
}

// listOfSlabs is the list of slabs, whose lengths are final.
func listOfSlabs(slabs [][]scanned) scanList {
	l := scanList{slabs: slabs, starts: make([]int, len(slabs))}
	for k, b := range slabs {
		l.starts[k] = l.n
		l.n += len(b)
	}
	return l
}

// Len returns the number of resources.
func (l scanList) Len() int { return l.n }

// item returns the resource at position i.
func (l scanList) item(i int) *scanned {
	k := len(l.slabs) - 1
	if k > 0 {
		k = sort.Search(len(l.starts), func(k int) bool { return l.starts[k] > i }) - 1
	}
	return &l.slabs[k][i-l.starts[k]]
}

// At is the resource at position i as its snapshot's tree records it (see
// tree.Items).
func (l scanList) At(i int) tree.Item {
	it := l.item(i)
	return tree.Item{Key: it.path, ID: it.id, Timestamp: it.ts}
}

// release drops the resources from position lo to hi, which nothing reads
// again (see tree.Builder.Passed): a slab wholly before hi is let go, the
// part of one that is before it cleared, so that their paths go too (a
// backup's records and paths were a third of its heap at a million
// resources, held while the trees after them were encoded). Released
// resources are gone: all, At and item must not reach them afterwards.
func (l scanList) release(lo, hi int) {
	for k, b := range l.slabs {
		start := l.starts[k]
		if start >= hi {
			return
		}
		if b == nil || start+len(b) <= lo {
			continue
		}
		if start+len(b) <= hi {
			l.slabs[k] = nil
			continue
		}
		clear(b[max(lo-start, 0) : hi-start])
	}
}

// all yields every resource, in order.
func (l scanList) all() iter.Seq[*scanned] {
	return func(yield func(*scanned) bool) {
		for _, b := range l.slabs {
			for i := range b {
				if !yield(&b[i]) {
					return
				}
			}
		}
	}
}

// flat returns the resources as one slice: the only slab, or a copy.
func (l scanList) flat() []scanned {
	if len(l.slabs) == 1 {
		return l.slabs[0]
	}
	out := make([]scanned, 0, l.n)
	for _, b := range l.slabs {
		out = append(out, b...)
	}
	return out
}

// sorted reports whether the paths are in strictly increasing order.
func (l scanList) sorted() bool {
	prev := ""
	for it := range l.all() {
		if prev != "" && it.path <= prev {
			return false
		}
		prev = it.path
	}
	return true
}
