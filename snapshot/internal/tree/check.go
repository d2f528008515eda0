package tree

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kylin-tools/metastore/objects"
)

// Checker is the strict mode of reading snapshot trees, for verify: it
// reads every tree afresh (through Read, which checks each object's kind
// and hash) and reports, instead of refusing, what a Reader refuses and
// more: trees not in canonical git form, entries that are neither files
// nor folders, names listed twice, resources without exactly one timestamp
// record, records without a resource, timestamps of a folder that does not
// exist. Each pair of a folder tree and its timestamps tree is checked
// once, however many snapshots share it.
type Checker struct {
	// Read returns the content of object id, which must be of kind k and
	// hash to id.
	Read func(id objects.ID, k objects.Kind) ([]byte, error)
	// Problem reports what is wrong at key ("/cube/x.json", "/cube", "" for
	// the snapshot itself); object is the object involved, if any.
	Problem func(key string, object objects.ID, msg string)
	// Resource is called for each resource, with its blob.
	Resource func(key string, blob objects.ID)
	// Folder is called when a folder has been checked.
	Folder func()
	// Trees counts the trees checked.
	Trees int

	folders map[[2]objects.ID]int // (resource tree, mirror tree) pairs checked -> resources below
}

// Check checks the snapshot tree whose root tree is root and returns how
// many resources it holds; ok is false if the root tree cannot be read.
func (c *Checker) Check(root objects.ID) (n int, ok bool) {
	data, err := c.Read(root, objects.KindTree)
	if err != nil {
		c.Problem("", root, "root tree "+err.Error())
		return 0, false
	}
	list, err := objects.DecodeTree(data)
	if err != nil {
		c.Problem("", root, err.Error())
		return 0, false
	}
	c.Trees++
	var resources []objects.TreeEntry
	var mirror objects.ID
	for _, e := range list {
		if e.Name == RecordsDir {
			mirror = c.mirrorRoot(e)
			continue
		}
		resources = append(resources, e)
	}
	if mirror.IsZero() {
		c.Problem("", objects.ID{}, "no "+RecordsDir+"/"+TimestampsDir+" records")
	}
	return c.folder("", folderEntries{list: resources}, mirror), true
}

// mirrorRoot returns the timestamps tree in the records entry e.
func (c *Checker) mirrorRoot(e objects.TreeEntry) objects.ID {
	const key = "/" + RecordsDir
	if !e.IsDir() {
		c.Problem(key, objects.ID{}, "is not a folder")
		return objects.ID{}
	}
	data, err := c.Read(e.ID, objects.KindTree)
	if err != nil {
		c.Problem(key, e.ID, "tree "+err.Error())
		return objects.ID{}
	}
	entries, err := objects.DecodeTree(data)
	if err != nil {
		c.Problem(key, e.ID, err.Error())
		return objects.ID{}
	}
	for _, x := range entries {
		if x.Name == TimestampsDir && x.IsDir() {
			return x.ID
		}
	}
	return objects.ID{}
}

// tree reads a tree and checks that it is in canonical git form; it
// returns the tree's bytes, which the caller walks (ScanTree) or decodes
// in place: a flat folder of 300,000 jobs is neither copied, nor decoded
// into a slice, nor encoded again to compare.
func (c *Checker) tree(key string, id objects.ID) ([]byte, bool) {
	data, err := c.Read(id, objects.KindTree)
	if err != nil {
		c.Problem(key, id, "tree "+err.Error())
		return nil, false
	}
	enc := objects.EncodingCheck{Data: data}
	if err := objects.ScanTree(data, func(e objects.TreeEntry) bool {
		enc.Add(e)
		return true
	}); err != nil {
		c.Problem(key, id, err.Error())
		return nil, false
	}
	if err := enc.Err(); err != nil {
		msg := "tree is not in canonical git form"
		if !errors.Is(err, objects.ErrCorrupt) {
			msg += ": " + err.Error()
		}
		c.Problem(key, id, msg)
		return nil, false
	}
	c.Trees++
	return data, true
}

// folderEntries is a folder's entries: decoded (list: the root, or a folder with
// subfolders, whose names are looked up for a name listed twice), or walked
// in place from its tree's bytes (data: a folder of files only, where the
// canonical form leaves no name twice).
type folderEntries struct {
	list []objects.TreeEntry
	data []byte
}

// entriesOf returns the entries of the canonical tree data.
func entriesOf(data []byte) folderEntries {
	dirs := false
	objects.ScanTree(data, func(e objects.TreeEntry) bool {
		dirs = e.IsDir()
		return !dirs
	})
	if !dirs {
		return folderEntries{data: data}
	}
	list, _ := objects.DecodeTreeShared(data)
	return folderEntries{list: list}
}

// each calls fn with each entry and whether its name is that of an entry
// before it.
func (es folderEntries) each(fn func(e objects.TreeEntry, again bool)) {
	if es.list == nil {
		objects.ScanTree(es.data, func(e objects.TreeEntry) bool {
			fn(e, false)
			return true
		})
		return
	}
	again := namedBefore(es.list)
	for i, e := range es.list {
		fn(e, again(i))
	}
}

// subfolder checks the folder at key (tree id, timestamps tree mirror)
// once, and returns how many resources it holds.
func (c *Checker) subfolder(key string, id, mirror objects.ID) int {
	pair := [2]objects.ID{id, mirror}
	if n, ok := c.folders[pair]; ok {
		return n
	}
	data, ok := c.tree(key, id)
	n := 0
	if ok {
		n = c.folder(key, entriesOf(data), mirror)
	}
	if c.folders == nil {
		c.folders = map[[2]objects.ID]int{}
	}
	c.folders[pair] = n
	return n
}

// records reads the timestamps tree of the folder at key: the names of the
// resources it has records for, and its subfolders' timestamps trees by
// (escaped) name.
func (c *Checker) records(key string, mirror objects.ID) (*recordSet, map[string]objects.ID) {
	files := &recordSet{}
	dirs := map[string]objects.ID{}
	if mirror.IsZero() {
		return files, dirs
	}
	data, ok := c.tree("/"+MirrorPath("")+key, mirror)
	if !ok {
		return files, dirs
	}
	// A record of a timestamp since 2001 (13 digits) takes at least 43
	// bytes ("100644 ", a name, "@", the digits, a NUL and an id): room for
	// all of them without regrowing (shorter timestamps only make it grow).
	names := make([]string, 0, len(data)/43+1)
	objects.ScanTree(data, func(e objects.TreeEntry) bool {
		if e.IsDir() {
			dirs[e.Name] = e.ID
			return true
		}
		name, _, ok := ParseMirrorEntry(e.Name)
		if !ok {
			c.Problem(key+"/"+e.Name, objects.ID{}, "timestamp record is not <name>@<milliseconds>")
			return true
		}
		names = append(names, name)
		return true
	})
	// In the mirror's order a name can come before a shorter one it
	// starts with ("JOB-00@..." before "JOB@..."): sort by name.
	if !slices.IsSorted(names) {
		slices.Sort(names)
	}
	files.names = slices.CompactFunc(names, func(a, b string) bool {
		if a == b {
			c.Problem(key+"/"+a, objects.ID{}, "two timestamp records")
		}
		return a == b
	})
	files.used = make([]bool, len(files.names))
	return files, dirs
}

// recordSet is the names of the resources a folder's timestamps tree has
// records for, sorted, each marked once a resource takes it: 17 bytes a
// name where a map took 30 to 60 (a flat folder of 300,000 jobs).
type recordSet struct {
	names []string
	used  []bool
	next  int // where the last name taken was: resources come in order
}

// take marks the record of name as used; false if there is none, or it
// is used already (a name listed twice).
func (r *recordSet) take(name string) bool {
	lo, hi := 0, len(r.names)
	if r.next < hi && r.names[r.next] <= name {
		// Gallop from the last one taken: the next resource is usually
		// the next record.
		lo = r.next
		step := 1
		for lo+step < hi && r.names[lo+step] <= name {
			lo += step
			step *= 2
		}
		hi = min(hi, lo+step+1)
	}
	i, found := slices.BinarySearch(r.names[lo:hi], name)
	i += lo
	if !found || r.used[i] {
		return false
	}
	r.used[i], r.next = true, i
	return true
}

// folder checks the entries of the folder at key against its timestamps
// tree and returns how many resources it holds.
func (c *Checker) folder(key string, es folderEntries, mirror objects.ID) int {
	files, dirs := c.records(key, mirror)
	n := 0
	es.each(func(e objects.TreeEntry, again bool) {
		p := key + "/" + e.Name
		if again {
			// Two files are caught as a non-canonical tree; a file and a
			// folder of one name are in git order, and as ambiguous.
			c.Problem(p, objects.ID{}, "name listed twice in its folder")
		}
		if e.IsDir() {
			m, ok := dirs[EscapeDir(e.Name)]
			if !ok {
				c.Problem(p, objects.ID{}, "folder has no timestamp records")
			}
			delete(dirs, EscapeDir(e.Name))
			n += c.subfolder(p, e.ID, m)
			return
		}
		n++
		if err := checkMode(e.Name, e.Mode); err != nil {
			c.Problem(p, e.ID, fmt.Sprintf("unexpected mode %o", e.Mode))
		}
		if !files.take(e.Name) {
			c.Problem(p, objects.ID{}, "resource has no timestamp record")
		}
		c.Resource(p, e.ID)
	})
	for i, name := range files.names {
		if !files.used[i] {
			c.Problem(key+"/"+name, objects.ID{}, "timestamp record without a resource")
		}
	}
	for name := range dirs {
		c.Problem(key+"/"+name, objects.ID{}, "timestamp records for a folder that does not exist")
	}
	c.Folder()
	return n
}

// namedBefore returns a function reporting whether the name of entries[i]
// is that of an entry before it. In a tree strictly in git order (every
// folder checked but the root) only a file and a folder can share a name,
// the file first: a folder's name is looked up among the entries by binary
// search, without a set of every name (15 MB for a flat folder of 300,000
// jobs). Otherwise the names seen are kept in a set.
func namedBefore(entries []objects.TreeEntry) func(i int) bool {
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1], entries[i]
		if objects.CompareTreeKeys(a.Name, a.IsDir(), b.Name, b.IsDir()) >= 0 {
			seen := make(map[string]bool, len(entries))
			return func(i int) bool {
				name := entries[i].Name
				was := seen[name]
				seen[name] = true
				return was
			}
		}
	}
	return func(i int) bool {
		if !entries[i].IsDir() {
			return false
		}
		_, found := slices.BinarySearchFunc(entries[:i], entries[i].Name, func(x objects.TreeEntry, name string) int {
			return objects.CompareTreeKeys(x.Name, x.IsDir(), name, false)
		})
		return found
	}
}
