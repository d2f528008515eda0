package tree

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kylin-tools/metastore/objects"
)

// dir is one folder tree, shared by every snapshot holding it (see Reader).
// The first lookups search the tree's encoding in place (see search); a
// walk, or more lookups, decode it once into entries. Looking up one cube
// in a folder of thousands so costs one inflate and one pass over the
// bytes.
type dir struct {
	id objects.ID

	mu        sync.Mutex
	raw       []byte // the tree's encoding, until decoded
	lookups   int    // searches of raw so far
	tsLookups int
	search    *search // how to search raw, once it was read whole
	decoded   bool
	err       error // from decoding
	entries   []objects.TreeEntry
	index     map[string]int   // entries by name, if not in git order
	ts        map[string]int64 // timestamp records of a mirror folder, once parsed
}

// scanLookups is how many lookups in a folder search its encoding before
// it is decoded, at the least (see dir.searcher).
const scanLookups = 8

// decode returns the folder's entries, decoding them once. A snapshot holds
// files and folders only (FORMAT.md): a symbolic link or a submodule entry
// would otherwise be restored as a file holding its target, so either is
// an error. So is a name listed twice (as two files, or a file and a
// folder): git never writes one, and readers that took the first or the
// last entry would disagree on the content.
func (d *dir) decode() ([]objects.TreeEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.decoded {
		d.decoded = true
		d.entries, d.err = objects.DecodeTree(d.raw)
		if d.err == nil {
			d.err = d.check()
		}
		d.raw = nil // the entries say it all now
	}
	return d.entries, d.err
}

// check checks the decoded entries' modes and names. Entries in git order
// (as git and this tool write them) are found by binary search; others
// through an index by name.
func (d *dir) check() error {
	var o order[string]
	sorted := true
	for _, e := range d.entries {
		if err := checkMode(e.Name, e.Mode); err != nil {
			return err
		}
		if sorted && !o.add(e.Name, e.IsDir()) {
			sorted = false
		}
	}
	if sorted {
		if o.twice != nil {
			return errListedTwice(o.first)
		}
		return nil
	}
	d.index = make(map[string]int, len(d.entries))
	for i, e := range d.entries {
		if _, dup := d.index[e.Name]; dup {
			d.index = nil
			return errListedTwice(e.Name)
		}
		d.index[e.Name] = i
	}
	return nil
}

// get returns the decoded entry named name, if there is one.
func (d *dir) get(name string) (objects.TreeEntry, bool) {
	if d.index != nil {
		i, ok := d.index[name]
		if !ok {
			return objects.TreeEntry{}, false
		}
		return d.entries[i], true
	}
	// A file named name, or a folder (whose key is name+"/").
	for _, dir := range []bool{false, true} {
		i := sort.Search(len(d.entries), func(i int) bool {
			return objects.CompareTreeKeys(d.entries[i].Name, d.entries[i].IsDir(), name, dir) >= 0
		})
		if i < len(d.entries) && d.entries[i].Name == name {
			return d.entries[i], true
		}
	}
	return objects.TreeEntry{}, false
}

func errListedTwice(name string) error {
	return fmt.Errorf("entry %q is listed twice", name)
}

func errTwoTimestamps(name string) error {
	return fmt.Errorf("two timestamp records for %q", name)
}

// checkMode refuses what a snapshot never holds: anything but a file or a
// folder.
func checkMode(name string, m objects.Mode) error {
	if m != objects.ModeFile && m != objects.ModeDir {
		return fmt.Errorf("entry %q has mode %o, not a file or folder", name, m)
	}
	return nil
}

// searcher returns the encoding and how to search it if the next lookup
// (of a timestamp record, with ts) should search the encoding in place: the
// first scanLookups lookups do, and, in a folder in git order, as many as
// the search's marks, since each then reads about markEvery entries where
// decoding reads them all. The first search reads the whole encoding.
func (d *dir) searcher(ts bool) ([]byte, *search, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := &d.lookups
	if ts {
		n = &d.tsLookups
	}
	*n++
	if d.decoded || d.ts != nil {
		return nil, nil, nil
	}
	if d.search == nil {
		s, err := newSearch(d.raw)
		if err != nil {
			return nil, nil, err
		}
		d.search = s
	}
	if *n > max(scanLookups, len(d.search.marks)) {
		return nil, nil, nil
	}
	return d.raw, d.search, nil
}

// find returns the entry named name, if there is one.
func (d *dir) find(name string) (objects.TreeEntry, bool, error) {
	raw, s, err := d.searcher(false)
	if err != nil {
		return objects.TreeEntry{}, false, err
	}
	if s == nil {
		if _, err := d.decode(); err != nil {
			return objects.TreeEntry{}, false, err
		}
		e, ok := d.get(name)
		return e, ok, nil
	}
	e, ok, err := s.find(raw, name)
	if err == nil && ok {
		err = checkMode(name, e.Mode)
	}
	return e, ok, err
}

// timestamps returns the timestamp records of a mirror folder, parsing them
// once; bad reports the first malformed record.
func (d *dir) timestamps() (m map[string]int64, bad string, err error) {
	d.mu.Lock()
	m = d.ts
	d.mu.Unlock()
	if m != nil {
		return m, "", nil
	}
	entries, err := d.decode()
	if err != nil {
		return nil, "", err
	}
	m = make(map[string]int64, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name, ms, ok := ParseMirrorEntry(e.Name)
		if !ok {
			return nil, e.Name, nil
		}
		if _, dup := m[name]; dup {
			return nil, "", errTwoTimestamps(name)
		}
		m[name] = ms
	}
	d.mu.Lock()
	d.ts = m
	d.mu.Unlock()
	return m, "", nil
}

// timestamp returns the timestamp a mirror folder records for name,
// searching the encoding for "name@..." for the first lookups.
func (d *dir) timestamp(name string) (ms int64, ok bool, bad string, err error) {
	raw, s, err := d.searcher(true)
	if err != nil {
		return 0, false, "", err
	}
	if s == nil {
		m, bad, err := d.timestamps()
		if err != nil || bad != "" {
			return 0, false, bad, err
		}
		ms, ok = m[name]
		return ms, ok, "", nil
	}
	ms, ok, err = s.timestamp(raw, name)
	return ms, ok, "", err
}
