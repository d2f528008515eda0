package tree

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// A walk reads a big folder (Kylin's /execute and /execute_output: one
// resource per job, hundreds of thousands on a busy metastore) entry by
// entry from its encoding, and its timestamp records likewise, instead of
// decoding the folder into entries and its records into a map, and
// remembers neither: what a walk holds of such a folder is its encoding,
// until it is done with it, however many folders it walks. A project
// resolved from a snapshot reads every job once that way, and a restore
// keeps nothing of the jobs of other projects (see TestWalkKeepsNoBigFolder).
// Folders whose encoding is malformed, out of git order or lists a name
// twice are read as before, so that a walk reports what is wrong with them
// before it passes on any of their resources, as it did.

// bigFolderBytes is the size of encoding from which a walk streams a
// folder: about 3,000 entries.
const bigFolderBytes = 256 << 10

// bigFolder returns the encoding of folder path if a walk should stream it:
// a big folder, well formed, in git order, not read whole already. A
// smaller folder, read for the walk, is kept as a lookup would keep it.
// A big folder is noted as walked, for the walk to find the folders below
// it, until the walk calls done.
// The root is never streamed (it holds the records).
func (t *Root) bigFolder(path string) ([]byte, error) {
	t.mu.Lock()
	_, seen := t.dirs[path]
	t.mu.Unlock()
	if seen || path == "" {
		return nil, nil
	}
	id := t.TreeAt(path)
	if id.IsZero() {
		return nil, nil // none, or unreadable: Folder says which
	}
	d, fresh, err := t.r.read(id)
	if err != nil {
		return nil, nil // Folder reports it
	}
	d.mu.Lock()
	raw := d.raw
	d.mu.Unlock()
	if raw != nil && len(raw) >= bigFolderBytes && streamable(raw) {
		t.mu.Lock()
		if t.walking == nil {
			t.walking = map[string]*dir{}
		}
		t.walking[path] = d
		t.mu.Unlock()
		return raw, nil
	}
	if fresh {
		t.r.keep(d)
		t.remember(path, d)
	}
	return nil, nil
}

// streamable reports whether a folder's encoding can be read entry by
// entry as decode reads it: well formed, names of files and folders only,
// valid, in git order and listed once.
func streamable(raw []byte) bool {
	var o order[[]byte]
	for off := 0; off < len(raw); {
		m, n, _, next, err := objects.NextTreeEntry(raw, off)
		if err != nil || m != objects.ModeFile && m != objects.ModeDir || !validName(n) || !o.add(n, m == objects.ModeDir) {
			return false
		}
		off = next
	}
	return o.twice == nil
}

func validName(n []byte) bool {
	return len(n) > 0 && string(n) != "." && string(n) != ".." && bytes.IndexByte(n, '/') < 0
}

// stream is walk for folder dir, whose encoding raw is streamable.
func (t *Root) stream(ctx context.Context, dir string, raw []byte, prefix string, timestamps bool, fn func(Entry) error) error {
	defer t.done(dir)
	var ts *records
	base := "/" + dir + "/"
	if dir == "" {
		base = "/"
	}
	for off := 0; off < len(raw); {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, n, id, next, _ := objects.NextTreeEntry(raw, off) // checked by streamable
		off = next
		if m == objects.ModeDir {
			full := base + string(n)
			if strings.HasPrefix(full+"/", prefix) || strings.HasPrefix(prefix, full+"/") {
				if err := t.walk(ctx, full[1:], prefix, timestamps, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !hasPrefix(base, n, prefix) {
			continue
		}
		ent := Entry{Key: base + string(n), ID: id}
		if timestamps {
			if ts == nil {
				var err error
				if ts, err = t.records(dir); err != nil {
					return err
				}
			}
			var ok bool
			if ent.Timestamp, ok = ts.of(n); !ok {
				return t.NoTimestamp(ent.Key)
			}
		}
		if err := fn(ent); err != nil {
			return err
		}
	}
	return nil
}

// done ends the walk of big folder dir, and of its mirror.
func (t *Root) done(dir string) {
	t.mu.Lock()
	delete(t.walking, dir)
	delete(t.walking, MirrorPath(dir))
	t.mu.Unlock()
}

// hasPrefix reports whether base+name starts with prefix, without making
// the key.
func hasPrefix(base string, name []byte, prefix string) bool {
	if len(prefix) <= len(base) {
		return strings.HasPrefix(base, prefix)
	}
	return strings.HasPrefix(prefix, base) && bytes.HasPrefix(name, []byte(prefix[len(base):]))
}

// records are the timestamp records of a resource folder, read one after
// the other from the mirror folder's encoding as a walk of the resource
// folder asks for them. Both are in git order, in which a record
// "name@ms" comes after those of the names that extend name with a byte
// below '@' ("name-01@..." before "name@..."): the records read past on
// the way are kept until asked for.
type records struct {
	raw   []byte
	off   int
	ahead map[string]int64
	all   map[string]int64 // every record, when read whole (not to be changed)
}

// records returns the timestamp records of resource folder dir, read as
// Timestamps reads them when the mirror folder is small, malformed or read
// whole already.
func (t *Root) records(dir string) (*records, error) {
	mp := MirrorPath(dir)
	raw, err := t.bigFolder(mp)
	if err != nil {
		return nil, err
	}
	if raw != nil && mirrorStreamable(raw) {
		return &records{raw: raw}, nil
	}
	m, err := t.Timestamps(dir)
	if err != nil {
		return nil, err
	}
	return &records{all: m}, nil
}

// of returns the timestamp recorded for name.
func (r *records) of(name []byte) (int64, bool) {
	if r.all != nil {
		ms, ok := r.all[string(name)]
		return ms, ok
	}
	if ms, ok := r.ahead[string(name)]; ok {
		delete(r.ahead, string(name))
		return ms, true
	}
	for r.off < len(r.raw) {
		m, n, _, next, _ := objects.NextTreeEntry(r.raw, r.off) // checked by mirrorStreamable
		r.off = next
		if m == objects.ModeDir {
			continue
		}
		rn, ms, _ := parseRecord(n)
		if bytes.Equal(rn, name) {
			return ms, true
		}
		if r.ahead == nil {
			r.ahead = map[string]int64{}
		}
		r.ahead[string(rn)] = ms
	}
	return 0, false
}

// mirrorStreamable reports whether a streamable mirror folder's encoding
// holds good records only, one per name, as Timestamps requires. In git
// order every entry between two records of a name starts with "name@", so
// that the names that may still have a record to come are a chain, each
// extending the one before.
func mirrorStreamable(raw []byte) bool {
	var open [][]byte
	for off := 0; off < len(raw); {
		m, n, _, next, _ := objects.NextTreeEntry(raw, off)
		off = next
		if m == objects.ModeDir {
			continue
		}
		name, _, ok := parseRecord(n)
		if !ok {
			return false
		}
		for len(open) > 0 && !extends(n, open[len(open)-1]) {
			open = open[:len(open)-1]
		}
		for _, o := range open {
			if bytes.Equal(o, name) {
				return false
			}
		}
		open = append(open, name)
	}
	return true
}

// extends reports whether entry starts with name+"@".
func extends(entry, name []byte) bool {
	return len(entry) > len(name) && entry[len(name)] == '@' && bytes.HasPrefix(entry, name)
}

// parseRecord is ParseMirrorEntry without allocating.
func parseRecord(entry []byte) (name []byte, ms int64, ok bool) {
	i := bytes.LastIndexByte(entry, '@')
	if i <= 0 {
		return nil, 0, false
	}
	digits, neg := entry[i+1:], false
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		neg, digits = digits[0] == '-', digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		n, err := strconv.ParseInt(string(entry[i+1:]), 10, 64)
		return entry[:i], n, err == nil
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, 0, false
		}
		ms = ms*10 + int64(c-'0')
	}
	if neg {
		ms = -ms
	}
	return entry[:i], ms, true
}
