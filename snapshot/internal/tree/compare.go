package tree

import (
	"bytes"
	"context"
	"fmt"
	"sync"

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

// encodings returns the encodings of the trees ids (nil for the zero ID),
// reading those that are not cached at the same time: the two versions of
// a large folder and of its timestamps mirror inflate on as many CPUs.
func (c *comparison) encodings(ids ...objects.ID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		if id.IsZero() {
			continue
		}
		c.reads++
		if i == len(ids)-1 {
			out[i], errs[i] = c.r.encoding(id)
			break
		}
		wg.Go(func() { out[i], errs[i] = c.r.encoding(id) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, treeError(ids[i], err)
		}
	}
	return out, nil
}

// cursor reads an encoded tree entry by entry, in place, checking what
// decoding checks: each entry well formed, a file or a folder, the names in
// git order and none listed twice.
type cursor struct {
	data []byte
	off  int
	ok   bool // an entry is current
	cur  rawEntry
	o    order[[]byte]
}

// rawEntry is an entry of an encoded tree; name and raw are slices of it.
type rawEntry struct {
	mode objects.Mode
	name []byte
	id   objects.ID
	raw  []byte // the entry's whole encoding: equal encodings, equal entries
}

func (e *rawEntry) isDir() bool { return e.mode == objects.ModeDir }

func (e *rawEntry) entry() *objects.TreeEntry {
	return &objects.TreeEntry{Name: string(e.name), Mode: e.mode, ID: e.id}
}

func newCursor(data []byte) (*cursor, error) {
	k := &cursor{data: data}
	return k, k.next()
}

// next moves to the next entry.
func (k *cursor) next() error {
	if k.off >= len(k.data) {
		k.ok = false
		if k.o.twice != nil {
			return errListedTwice(k.o.first)
		}
		return nil
	}
	mode, name, id, next, err := objects.NextTreeEntry(k.data, k.off)
	if err != nil {
		return err
	}
	if len(name) == 0 || bytes.IndexByte(name, '/') >= 0 || string(name) == "." || string(name) == ".." {
		return fmt.Errorf("tree entry name %q is not allowed", name)
	}
	if mode != objects.ModeFile && mode != objects.ModeDir {
		return checkMode(string(name), mode)
	}
	if !k.o.add(name, mode == objects.ModeDir) {
		return fmt.Errorf("entry %q is not in git order", name)
	}
	k.cur = rawEntry{mode: mode, name: name, id: id, raw: k.data[k.off:next]}
	k.off, k.ok = next, true
	return nil
}

// mirrorDiff is what differs between the two timestamps trees of a folder:
// the timestamps of the resources whose mirror entry ("name@ms") is not the
// same on both sides, and the mirror trees of the subfolders.
type mirrorDiff struct {
	ts         map[string][2]*int64 // name -> old and new timestamp (nil if none)
	subA, subB map[string]objects.ID
	a, b       []byte // the encodings of the two timestamps trees
}

// compareMirrors merge-joins two encoded timestamps trees (git keeps tree
// entries sorted): entries encoded alike on both sides are passed over
// unparsed, only differing ones are parsed and remembered.
func compareMirrors(a, b []byte) (*mirrorDiff, error) {
	d := &mirrorDiff{ts: map[string][2]*int64{}, subA: map[string]objects.ID{}, subB: map[string]objects.ID{}, a: a, b: b}
	ka, err := newCursor(a)
	if err != nil {
		return nil, err
	}
	kb, err := newCursor(b)
	if err != nil {
		return nil, err
	}
	note := func(k *cursor, side int) error {
		name, ms, ok := ParseMirrorEntry(string(k.cur.name))
		if !ok {
			return fmt.Errorf("bad timestamp entry %q", k.cur.name)
		}
		v := d.ts[name]
		if v[side] != nil {
			return errTwoTimestamps(name)
		}
		v[side] = &ms
		d.ts[name] = v
		return k.next()
	}
	for ka.ok || kb.ok {
		var err error
		switch {
		case ka.ok && ka.cur.isDir():
			d.subA[string(ka.cur.name)] = ka.cur.id
			err = ka.next()
		case kb.ok && kb.cur.isDir():
			d.subB[string(kb.cur.name)] = kb.cur.id
			err = kb.next()
		case ka.ok && kb.ok && bytes.Equal(ka.cur.raw, kb.cur.raw):
			if err = ka.next(); err == nil {
				err = kb.next()
			}
		case !kb.ok || ka.ok && bytes.Compare(ka.cur.name, kb.cur.name) < 0:
			err = note(ka, 0)
		case !ka.ok || bytes.Compare(kb.cur.name, ka.cur.name) < 0:
			err = note(kb, 1)
		default: // the same name and timestamp on both sides
			if err = ka.next(); err == nil {
				err = kb.next()
			}
		}
		if err != nil {
			return nil, err
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
	for side, raw := range [][]byte{d.a, d.b} {
		for off := 0; off < len(raw); {
			mode, e, _, next, err := objects.NextTreeEntry(raw, off)
			if err != nil {
				return nil, err
			}
			off = next
			k := bytes.LastIndexByte(e, '@')
			if mode == objects.ModeDir || k <= 0 || !missing[string(e[:k])] {
				continue
			}
			name, ms, ok := ParseMirrorEntry(string(e))
			if !ok {
				return nil, fmt.Errorf("%w: bad timestamp entry %q in the mirror of %s/", ErrCorrupt, e, dir)
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

// dir compares folder path (with a leading slash; "" for the root) whose
// trees are ta and tb and timestamps trees ma and mb (zero ids for a side
// that lacks the folder). Both trees are merge-joined in git order on their
// encodings: an entry encoded alike on both sides (same name, same blob or
// subtree) is passed over without being decoded, and the timestamps trees
// are compared entry by entry, so that nothing is parsed or remembered for
// the resources that did not change.
func (c *comparison) dir(ctx context.Context, path string, ta, tb, ma, mb objects.ID) error {
	if ta == tb && ma == mb || !c.f.MayContain(path) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	enc, err := c.encodings(ta, tb, ma, mb)
	if err != nil {
		return err
	}
	mir, err := compareMirrors(enc[2], enc[3])
	if err != nil {
		return fmt.Errorf("%w: the timestamps of %s/: %v", ErrCorrupt, path, err)
	}
	files, dirs, err := c.join(path, enc[0], enc[1], mir)
	if err != nil {
		return fmt.Errorf("%w: folder %s/: %v", ErrCorrupt, path, err)
	}
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

// join merge-joins the encoded trees a and b of folder path in git order
// and returns the resources that may differ (the filter's, whose blob or
// timestamp record is not the same) and every subfolder.
func (c *comparison) join(path string, a, b []byte, mir *mirrorDiff) (files, dirs []candidate, err error) {
	ka, err := newCursor(a)
	if err != nil {
		return nil, nil, err
	}
	kb, err := newCursor(b)
	if err != nil {
		return nil, nil, err
	}
	take := func(cand candidate) {
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
	}
	for ka.ok || kb.ok {
		if ka.ok && kb.ok && bytes.Equal(ka.cur.raw, kb.cur.raw) {
			// The same entry on both sides: only a subfolder (whose
			// timestamps may differ) or a touched resource matter.
			if ka.cur.isDir() || mir.ts[string(ka.cur.name)] != [2]*int64{} {
				e := ka.cur.entry()
				take(candidate{name: e.Name, a: e, b: kb.cur.entry()})
			}
			if err := ka.next(); err != nil {
				return nil, nil, err
			}
			if err := kb.next(); err != nil {
				return nil, nil, err
			}
			continue
		}
		var k int
		switch {
		case !kb.ok:
			k = -1
		case !ka.ok:
			k = 1
		default:
			k = objects.CompareTreeKeys(ka.cur.name, ka.cur.isDir(), kb.cur.name, kb.cur.isDir())
		}
		var cand candidate
		if k <= 0 {
			cand.a = ka.cur.entry()
			cand.name = cand.a.Name
		}
		if k >= 0 {
			cand.b = kb.cur.entry()
			cand.name = cand.b.Name
		}
		take(cand)
		if k <= 0 {
			if err := ka.next(); err != nil {
				return nil, nil, err
			}
		}
		if k >= 0 {
			if err := kb.next(); err != nil {
				return nil, nil, err
			}
		}
	}
	return files, dirs, nil
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
