package tree

import (
	"context"
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// Filter limits a comparison to some resources.
type Filter interface {
	// MayContain reports whether folder dir ("" for the root, "/cube", ...)
	// can hold resources the filter keeps.
	MayContain(dir string) bool
	// Match reports whether the filter keeps resource key.
	Match(key string) bool
}

// Version is one side's version of a resource.
type Version struct {
	ID        objects.ID
	Timestamp int64
}

// Change is a resource whose blob or timestamp differ between two trees:
// Old is nil if the old tree lacks it, New if the new one does.
type Change struct {
	Key      string
	Old, New *Version
}

// Compare walks two snapshot trees (their root trees; the zero ID for an
// empty snapshot) together and returns the resources the filter keeps
// whose blob or timestamp differ, and how many trees it read below the
// roots' records. Folders whose resource tree and timestamps tree are both
// identical are skipped unread, so the cost grows with what changed, not
// with the size of the snapshots.
func (r *Reader) Compare(ctx context.Context, a, b objects.ID, f Filter) ([]Change, int, error) {
	ma, err := r.mirrorRoot(a)
	if err != nil {
		return nil, 0, err
	}
	mb, err := r.mirrorRoot(b)
	if err != nil {
		return nil, 0, err
	}
	c := &comparison{r: r, f: f}
	if err := c.dir(ctx, "", a, b, ma, mb); err != nil {
		return nil, 0, err
	}
	return c.changes, c.reads, nil
}

// mirrorRoot returns the root of the timestamps mirror of the snapshot
// tree root (zero if none).
func (r *Reader) mirrorRoot(root objects.ID) (objects.ID, error) {
	id := root
	for _, name := range []string{RecordsDir, TimestampsDir} {
		if id.IsZero() {
			return id, nil
		}
		d, err := r.load(id)
		if err != nil {
			return objects.ID{}, treeError(id, err)
		}
		e, ok, err := d.find(name)
		if err != nil {
			return objects.ID{}, treeError(id, err)
		}
		id = objects.ID{}
		if ok && e.IsDir() {
			id = e.ID
		}
	}
	return id, nil
}

func treeError(id objects.ID, err error) error {
	return fmt.Errorf("%w: tree %s: %v", ErrCorrupt, id, err)
}

type comparison struct {
	r       *Reader
	f       Filter
	changes []Change
	reads   int // trees read below the roots
}

// entries returns the entries of tree id (none for the zero ID).
func (c *comparison) entries(id objects.ID) ([]objects.TreeEntry, error) {
	if id.IsZero() {
		return nil, nil
	}
	c.reads++
	d, err := c.r.load(id)
	if err != nil {
		return nil, treeError(id, err)
	}
	entries, err := d.decode()
	if err != nil {
		return nil, treeError(id, err)
	}
	return entries, nil
}

// mirrorDiff is what differs between the two timestamps trees of a folder:
// the timestamps of the resources whose mirror entry ("name@ms") is not the
// same on both sides, and the mirror trees of the subfolders.
type mirrorDiff struct {
	ts         map[string][2]*int64 // name -> old and new timestamp (nil if none)
	subA, subB map[string]objects.ID
	a, b       []objects.TreeEntry
}

// compareMirrors merge-joins two timestamps trees (git keeps tree entries
// sorted) so that only differing entries are parsed and remembered.
func (c *comparison) compareMirrors(ma, mb objects.ID, dir string) (*mirrorDiff, error) {
	a, err := c.entries(ma)
	if err != nil {
		return nil, err
	}
	b, err := c.entries(mb)
	if err != nil {
		return nil, err
	}
	d := &mirrorDiff{ts: map[string][2]*int64{}, subA: map[string]objects.ID{}, subB: map[string]objects.ID{}, a: a, b: b}
	note := func(e objects.TreeEntry, side int) error {
		name, ms, ok := ParseMirrorEntry(e.Name)
		if !ok {
			return fmt.Errorf("%w: bad timestamp entry %q in the mirror of %s/", ErrCorrupt, e.Name, dir)
		}
		v := d.ts[name]
		v[side] = &ms
		d.ts[name] = v
		return nil
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && a[i].IsDir():
			d.subA[a[i].Name] = a[i].ID
			i++
		case j < len(b) && b[j].IsDir():
			d.subB[b[j].Name] = b[j].ID
			j++
		case j == len(b) || (i < len(a) && a[i].Name < b[j].Name):
			if err := note(a[i], 0); err != nil {
				return nil, err
			}
			i++
		case i == len(a) || b[j].Name < a[i].Name:
			if err := note(b[j], 1); err != nil {
				return nil, err
			}
			j++
		default: // the same name and timestamp on both sides
			i++
			j++
		}
	}
	return d, nil
}

// timestamps returns the timestamps of the named resources on both sides.
// Resources whose mirror entries differ are known already; the others
// (content changed, timestamp kept) cost one more pass over the entries.
func (d *mirrorDiff) timestamps(names []string, dir string) (map[string][2]int64, error) {
	out := make(map[string][2]int64, len(names))
	var missing map[string]bool
	for _, n := range names {
		v, ok := d.ts[n]
		if !ok {
			if missing == nil {
				missing = map[string]bool{}
			}
			missing[n] = true
			continue
		}
		var t [2]int64
		for side, p := range v {
			if p != nil {
				t[side] = *p
			}
		}
		out[n] = t
	}
	if len(missing) == 0 {
		return out, nil
	}
	found := map[string]int{}
	for side, entries := range [][]objects.TreeEntry{d.a, d.b} {
		for _, e := range entries {
			k := strings.LastIndexByte(e.Name, '@')
			if e.IsDir() || k <= 0 || !missing[e.Name[:k]] {
				continue
			}
			name, ms, ok := ParseMirrorEntry(e.Name)
			if !ok {
				return nil, fmt.Errorf("%w: bad timestamp entry %q in the mirror of %s/", ErrCorrupt, e.Name, dir)
			}
			t := out[name]
			t[side] = ms
			out[name] = t
			found[name]++
		}
	}
	for n := range missing {
		if found[n] != 2 {
			return nil, fmt.Errorf("%w: no timestamp for %s/%s", ErrCorrupt, dir, n)
		}
	}
	return out, nil
}

// candidate is a name of a folder on one side or both.
type candidate struct {
	name string
	a, b *objects.TreeEntry
}

// join merge-joins the entries of a folder on both sides, in git order.
func join(ea, eb []objects.TreeEntry, fn func(candidate)) {
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		var k int
		switch {
		case j == len(eb):
			k = -1
		case i == len(ea):
			k = 1
		default:
			k = objects.CompareTreeKeys(ea[i].Name, ea[i].IsDir(), eb[j].Name, eb[j].IsDir())
		}
		switch {
		case k < 0:
			fn(candidate{name: ea[i].Name, a: &ea[i]})
			i++
		case k > 0:
			fn(candidate{name: eb[j].Name, b: &eb[j]})
			j++
		default:
			fn(candidate{name: ea[i].Name, a: &ea[i], b: &eb[j]})
			i++
			j++
		}
	}
}

// dir compares folder path (with a leading slash; "" for the root) whose
// trees are ta and tb and timestamps trees ma and mb (zero ids for a side
// that lacks the folder). Both trees are merge-joined in git order; the
// timestamps trees are compared entry by entry, so that nothing is parsed
// or remembered for the resources that did not change.
func (c *comparison) dir(ctx context.Context, path string, ta, tb, ma, mb objects.ID) error {
	if ta == tb && ma == mb || !c.f.MayContain(path) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ea, err := c.entries(ta)
	if err != nil {
		return err
	}
	eb, err := c.entries(tb)
	if err != nil {
		return err
	}
	mir, err := c.compareMirrors(ma, mb, path)
	if err != nil {
		return err
	}
	var files, dirs []candidate
	join(ea, eb, func(cand candidate) {
		switch {
		case path == "" && cand.name == RecordsDir:
		case cand.a != nil && cand.a.IsDir() || cand.b != nil && cand.b.IsDir():
			dirs = append(dirs, cand)
		case !c.f.Match(path + "/" + cand.name):
		case cand.a != nil && cand.b != nil && cand.a.ID == cand.b.ID && mir.ts[cand.name] == [2]*int64{}:
			// The same blob and the same timestamp record.
		default:
			files = append(files, cand)
		}
	})
	if err := c.files(path, files, mir); err != nil {
		return err
	}
	for _, cand := range dirs {
		esc := EscapeDir(cand.name)
		var ta, tb, ma, mb objects.ID
		if cand.a != nil && cand.a.IsDir() {
			ta, ma = cand.a.ID, mir.subA[esc]
		}
		if cand.b != nil && cand.b.IsDir() {
			tb, mb = cand.b.ID, mir.subB[esc]
		}
		if err := c.dir(ctx, path+"/"+cand.name, ta, tb, ma, mb); err != nil {
			return err
		}
	}
	return nil
}

// files notes the changes of the resources of folder path that may differ.
func (c *comparison) files(path string, files []candidate, mir *mirrorDiff) error {
	names := make([]string, len(files))
	for k, cand := range files {
		names[k] = cand.name
	}
	ts, err := mir.timestamps(names, path)
	if err != nil {
		return err
	}
	for _, cand := range files {
		full := path + "/" + cand.name
		v := mir.ts[cand.name]
		ch := Change{Key: full}
		if cand.a != nil {
			if v[0] == nil && (cand.b == nil || v[1] != nil) {
				return fmt.Errorf("%w: no timestamp for %s", ErrCorrupt, full)
			}
			ch.Old = &Version{ID: cand.a.ID, Timestamp: ts[cand.name][0]}
		}
		if cand.b != nil {
			if v[1] == nil && (cand.a == nil || v[0] != nil) {
				return fmt.Errorf("%w: no timestamp for %s", ErrCorrupt, full)
			}
			ch.New = &Version{ID: cand.b.ID, Timestamp: ts[cand.name][1]}
		}
		c.changes = append(c.changes, ch)
	}
	return nil
}
