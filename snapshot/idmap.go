package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// The id map (FORMAT.md, "Forgotten snapshots") remembers what Forget did
// to the ids of snapshots: a kept snapshot written again above a forgotten
// one has a new id, and its old one (in an admin's notes, a script, a
// safety snapshot's Metastore-Restore-Of) must keep naming it. It also
// remembers the forgotten ones, so that Resolve can say so and Push can
// tell a remote branch that is this repository's own branch before a
// forget. It holds ids only and keeps no object alive.
//
// The file is metastore-idmap: a first line "metastore-idmap 1", then one
// line per snapshot:
//
//	<stamp> <old id> <new id> <branch>     a kept snapshot written again
//	<stamp> <old id> forgotten <branch>    a forgotten snapshot
const (
	idMapFile  = "metastore-idmap"
	idMapMagic = "metastore-idmap 1"
	idMapGone  = "forgotten"
)

// idEntry is one line of the id map; new is zero for a forgotten snapshot.
type idEntry struct {
	stamp    string
	old, new objects.ID
	branch   string
}

// idMap is the id map, by old id (a later line wins).
type idMap struct {
	lines []idEntry
	byOld map[objects.ID]idEntry
}

func (r *Repository) idMapPath() string { return filepath.Join(r.Path(), idMapFile) }

// loadIDMap reads the id map; a repository without one has an empty map.
func (r *Repository) loadIDMap() (*idMap, error) {
	m := &idMap{byOld: map[objects.ID]idEntry{}}
	data, err := os.ReadFile(r.idMapPath())
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			if line != idMapMagic {
				return nil, fmt.Errorf("%w: %s: first line %q, want %q", ErrCorrupt, idMapFile, line, idMapMagic)
			}
			first = false
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("%w: %s: line %q", ErrCorrupt, idMapFile, line)
		}
		e := idEntry{stamp: f[0], branch: f[3]}
		if e.old, err = objects.ParseID(f[1]); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, idMapFile, err)
		}
		if f[2] != idMapGone {
			if e.new, err = objects.ParseID(f[2]); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, idMapFile, err)
			}
		}
		m.lines = append(m.lines, e)
		m.byOld[e.old] = e
	}
	return m, sc.Err()
}

// save replaces the id map file with lines (synced, then renamed into
// place: a crash leaves the old or the new map).
func (r *Repository) saveIDMap(lines []idEntry) error {
	var b bytes.Buffer
	b.WriteString(idMapMagic + "\n")
	for _, e := range lines {
		n := idMapGone
		if !e.new.IsZero() {
			n = e.new.String()
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", e.stamp, e.old, n, e.branch)
	}
	path := r.idMapPath()
	f, err := os.CreateTemp(r.Path(), ".tmp-idmap-")
	if err != nil {
		return err
	}
	if _, err := f.Write(b.Bytes()); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save %s: %w", idMapFile, err)
	}
	return nil
}

// addIDMap adds entries to the id map.
func (r *Repository) addIDMap(entries []idEntry) error {
	m, err := r.loadIDMap()
	if err != nil {
		return err
	}
	return r.saveIDMap(append(m.lines, entries...))
}

// dropIDMap removes the entries of forget stamp (undone).
func (r *Repository) dropIDMap(stamp string) error {
	m, err := r.loadIDMap()
	if err != nil {
		return err
	}
	kept := m.lines[:0]
	for _, e := range m.lines {
		if e.stamp != stamp {
			kept = append(kept, e)
		}
	}
	return r.saveIDMap(kept)
}

// follow returns where the old id of a snapshot leads: the id it has now,
// or, if it was forgotten, the entry that forgot it (ok false).
func (m *idMap) follow(old objects.ID) (objects.ID, idEntry, bool) {
	id := old
	for range len(m.lines) + 1 {
		e, found := m.byOld[id]
		if !found {
			return id, idEntry{}, true
		}
		if e.new.IsZero() {
			return objects.ZeroID, e, false
		}
		id = e.new
	}
	return id, idEntry{}, true
}

// matching returns the old ids in the map that start with prefix (lower
// case hexadecimal), sorted.
func (m *idMap) matching(prefix string) []objects.ID {
	var out []objects.ID
	for id := range m.byOld {
		if strings.HasPrefix(id.String(), prefix) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// resolveOld resolves an id prefix that names no snapshot of the
// repository through the id map: the old id of a snapshot written again
// by a forget resolves to the snapshot under its new id. A forgotten
// snapshot is ErrNotFound, saying so and how to undo.
func (r *Repository) resolveOld(prefix string) (Info, bool, error) {
	m, err := r.loadIDMap()
	if err != nil || len(m.byOld) == 0 {
		return Info{}, false, err
	}
	ids := m.matching(prefix)
	switch len(ids) {
	case 0:
		return Info{}, false, nil
	case 1:
	default:
		var short []string
		for _, id := range ids {
			short = append(short, ID(id).Short())
		}
		return Info{}, true, fmt.Errorf("%w: %s matches %d snapshots written again or forgotten by forget (%s); give more digits", ErrAmbiguous, prefix, len(ids), strings.Join(short, ", "))
	}
	id, e, ok := m.follow(ids[0])
	if !ok {
		return Info{}, true, fmt.Errorf("%w: snapshot %s of %s was forgotten (forget %s; metastore forget --undo %s puts it back until the next prune)",
			ErrNotFound, ID(ids[0]).Short(), e.branch, e.stamp, e.stamp)
	}
	in, err := r.info(id, nil)
	if err != nil {
		return Info{}, true, fmt.Errorf("%w: snapshot %s was written again as %s, which is gone: %v", ErrNotFound, ID(ids[0]).Short(), ID(id).Short(), err)
	}
	return in, true, nil
}

// replaces reports whether the remote's value old of the local reference
// name (whose value is now id) is that reference before a forget here: for
// a tag, old was written again as id; for a branch, old is a snapshot of
// that branch that a forget wrote again or forgot.
func (m *idMap) replaces(name string, old, id objects.ID) bool {
	e, ok := m.byOld[old]
	if !ok {
		return false
	}
	if strings.HasPrefix(name, refTags) {
		now, _, ok := m.follow(old)
		return ok && now == id
	}
	return refHeads+e.branch == name
}
