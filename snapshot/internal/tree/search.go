package tree

import (
	"bytes"
	"sort"

	"github.com/kylin-tools/metastore/objects"
)

// search searches a tree's encoding in place. It is made by reading the
// whole encoding once, which tells whether the entries are in git order (as
// git and this tool write them) and which names are listed twice (as two
// files, two folders, or a file and a folder, which git order does not keep
// together: "a", "a.json", "a/"). A name listed twice is refused by every
// search of it. In git order, a search starts at the last mark before the
// name and stops past where the name would be: it reads about markEvery
// entries, whatever the size of the folder. Out of git order (a crafted
// tree), every search reads the whole encoding.
type search struct {
	sorted bool
	twice  map[string]bool // names listed twice (nil: none)
	marks  []mark          // every markEvery-th entry, in git order
}

// mark is an entry of the encoding, where a search may start.
type mark struct {
	off  int
	name []byte // a slice of the encoding
	dir  bool
}

const markEvery = 32

func newSearch(raw []byte) (*search, error) {
	s := &search{}
	var o order[[]byte]
	for off, i := 0, 0; off < len(raw); i++ {
		m, n, _, next, err := objects.NextTreeEntry(raw, off)
		if err != nil {
			return nil, err
		}
		if !o.add(n, m == objects.ModeDir) {
			return &search{}, nil
		}
		if i%markEvery == 0 {
			s.marks = append(s.marks, mark{off: off, name: n, dir: m == objects.ModeDir})
		}
		off = next
	}
	s.sorted, s.twice = true, o.twice
	return s, nil
}

// order checks that the names of a folder come in git order, and notes
// those listed twice: as two files or two folders, next to each other, or
// as a file and a folder, which git order does not keep together ("a",
// "a.json", "a/").
type order[T string | []byte] struct {
	prev    T
	prevDir bool
	started bool
	files   []T             // files that a folder of the same name may still follow
	twice   map[string]bool // names listed twice (nil: none)
	first   string          // the first of them
}

// add takes the next name; false if it is out of git order.
func (o *order[T]) add(n T, isDir bool) bool {
	if o.started {
		c := objects.CompareTreeKeys(o.prev, o.prevDir, n, isDir)
		if c > 0 {
			return false
		}
		if c == 0 {
			o.note(n)
		}
	}
	for len(o.files) > 0 {
		f := o.files[len(o.files)-1]
		if len(n) >= len(f) && string(n[:len(f)]) == string(f) {
			// (Otherwise n, after f in git order, is past f's folder too.)
			c := objects.CompareTreeKeys(n, isDir, f, true)
			if c < 0 {
				break
			}
			if c == 0 {
				o.note(n) // the folder of a file's name
			}
		}
		o.files = o.files[:len(o.files)-1]
	}
	if !isDir {
		o.files = append(o.files, n)
	}
	o.prev, o.prevDir, o.started = n, isDir, true
	return true
}

func (o *order[T]) note(n T) {
	if o.twice == nil {
		o.twice, o.first = map[string]bool{}, string(n)
	}
	o.twice[string(n)] = true
}

// start returns where to start reading for the entries whose key is key
// (a file's name) or after it: at the last mark before it.
func (s *search) start(key []byte) int {
	i := sort.Search(len(s.marks), func(i int) bool {
		return objects.CompareTreeKeys(s.marks[i].name, s.marks[i].dir, key, false) >= 0
	})
	if i == 0 {
		return 0
	}
	return s.marks[i-1].off
}

// find returns the entry named name in raw, if there is one.
func (s *search) find(raw []byte, name string) (objects.TreeEntry, bool, error) {
	if s.twice[name] {
		return objects.TreeEntry{}, false, errListedTwice(name)
	}
	if !s.sorted {
		return findAll(raw, name)
	}
	// The entry is a file named name or a folder, whose key is name+"/":
	// nothing past that can be it (a name past it has a key past it).
	stop := []byte(name + "/")
	for off := s.start(stop[:len(name)]); off < len(raw); {
		m, n, id, next, err := objects.NextTreeEntry(raw, off)
		if err != nil {
			return objects.TreeEntry{}, false, err
		}
		if bytes.Compare(n, stop) > 0 {
			break
		}
		if string(n) == name {
			return objects.TreeEntry{Name: name, Mode: m, ID: id}, true, nil
		}
		off = next
	}
	return objects.TreeEntry{}, false, nil
}

// findAll finds name by reading the whole encoding, so that a name listed
// twice is an error.
func findAll(raw []byte, name string) (objects.TreeEntry, bool, error) {
	var found objects.TreeEntry
	ok, again := false, false
	err := objects.WalkTree(raw, func(m objects.Mode, n []byte, id objects.ID) bool {
		if string(n) != name {
			return true
		}
		if ok {
			again = true
			return false
		}
		found, ok = objects.TreeEntry{Name: name, Mode: m, ID: id}, true
		return true
	})
	if err == nil && again {
		err = errListedTwice(name)
	}
	return found, ok, err
}

// timestamp returns the timestamp a mirror folder's encoding records for
// name: the record "name@<ms>".
func (s *search) timestamp(raw []byte, name string) (ms int64, ok bool, err error) {
	prefix := []byte(name + "@")
	off := 0
	if s.sorted {
		off = s.start(prefix)
	}
	for off < len(raw) {
		m, n, _, next, err := objects.NextTreeEntry(raw, off)
		if err != nil {
			return 0, false, err
		}
		off = next
		if !bytes.HasPrefix(n, prefix) {
			// In git order the records "name@..." are together, and a name
			// past them has a key past them.
			if s.sorted && bytes.Compare(n, prefix) > 0 {
				break
			}
			continue
		}
		if m == objects.ModeDir {
			continue
		}
		if rn, t, good := ParseMirrorEntry(string(n)); good && rn == name {
			if ok {
				return 0, false, errTwoTimestamps(name)
			}
			ms, ok = t, true
		}
	}
	return ms, ok, nil
}
