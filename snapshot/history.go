package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// HistoryOptions tune History and ProjectHistory.
type HistoryOptions struct {
	// Details fills the details of each entry's Change: the field-level
	// diff against the previous version (see DiffOptions.Details).
	Details bool
	// Ignore lists the JSON fields the field-level diff ignores.
	Ignore []string
}

// HistoryEntry is one snapshot in which a resource was added, modified,
// touched or deleted.
type HistoryEntry struct {
	// Snapshot is the snapshot that holds the new version (for a deletion:
	// the first snapshot without the resource). Safety and imported
	// snapshots are part of history (safety snapshots only of metastores
	// the repository backs up); Snapshot.Kind tells them apart.
	Snapshot Info
	// Change compares the resource with its previous version: the version
	// in the previous snapshot that covers it (see History). The oldest
	// version is DiffAdded.
	Change Change
	// Modifiers are the fields Kylin keeps inside the resource about who
	// changed it and when (scope.ModifierFields), read from the new version, or
	// from the old one for a deletion; only those present and not null.
	Modifiers []Modifier
}

// Modifier is one "who and when" field of a resource.
type Modifier struct {
	// Field is the JSON field name.
	Field string `json:"field"`
	// Value is its value: a string as is, anything else in JSON.
	Value string `json:"value"`
}

// version is a resource as one snapshot has it.
type version struct {
	present bool
	id      objects.ID
	ts      int64
}

// version looks resource p up (by path, through the folders the snapshots
// of the repository share).
func (s *Snapshot) version(p string) (version, error) {
	id, ts, err := s.tree.Lookup(p)
	if errors.Is(err, fs.ErrNotExist) {
		return version{}, nil
	}
	if err != nil {
		return version{}, err
	}
	return version{present: true, id: id, ts: ts}, nil
}

// History lists the snapshots in which the resource at path was added,
// modified, touched or deleted, newest first. It looks the path up in every
// snapshot (by path through the trees, never walking a whole snapshot), from
// the oldest to the newest, and reports each snapshot whose version differs
// from the previous snapshot that covers the path.
//
// A system snapshot covers every path: lacking the resource, it records a
// deletion. A project or cube snapshot covers only the resources it holds:
// its scope may simply not include the path, so its lacking the resource
// says nothing. Deletions are therefore seen in system snapshots (backups,
// imports and safety snapshots of the system).
//
// It fails with an error wrapping ErrNotResource if no snapshot ever held
// the path.
func (r *Repository) History(ctx context.Context, path string, opt HistoryOptions) ([]HistoryEntry, error) {
	if err := checkKey(path); err != nil {
		return nil, err
	}
	all, err := r.historyLog(ctx)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	var prev version
	seen := false
	for i := len(all) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := all[i]
		cur, err := r.open(in).version(path)
		if err != nil {
			return nil, err
		}
		if !cur.present && in.Scope.Kind != scope.System {
			continue
		}
		if !seen && !cur.present {
			continue
		}
		if seen && cur == prev {
			continue
		}
		e, err := r.historyEntry(path, in, prev, cur, seen, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		seen, prev = true, cur
	}
	if !seen {
		return nil, fmt.Errorf("%w: no snapshot holds %s", ErrNotResource, path)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// historyLog lists the snapshots a history reads, newest first: every
// snapshot but the safety snapshots of metastores the repository does not
// back up. A safety snapshot records the state of a restore's target; when
// that target is another metastore than the one backed up (a restore into
// an empty folder or a test database from the same repository), its state
// is no version of the backed-up metastore's resources, and would show them
// deleted and added again. Which metastore a snapshot describes is its
// Metastore-Source.
func (r *Repository) historyLog(ctx context.Context) ([]Info, error) {
	all, err := r.Log(ctx, LogFilter{})
	if err != nil {
		return nil, err
	}
	backedUp := map[string]bool{}
	for _, in := range all {
		if in.Kind == KindBackup {
			backedUp[in.Source] = true
		}
	}
	out := all[:0]
	for _, in := range all {
		if in.Kind == KindSafety && !backedUp[in.Source] {
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

// historyEntry describes the step from version old (if hadOld) to cur in
// snapshot in.
func (r *Repository) historyEntry(path string, in Info, old, cur version, hadOld bool, opt HistoryOptions) (HistoryEntry, error) {
	e := HistoryEntry{Snapshot: in}
	ch := Change{Path: path, Type: scope.TypeOf(path)}
	hasOld := hadOld && old.present
	switch {
	case !hasOld:
		ch.Action = DiffAdded
	case !cur.present:
		ch.Action = DiffDeleted
	case old.id == cur.id:
		ch.Action = DiffTouched
	default:
		ch.Action = DiffModified
	}
	var oldData, newData []byte
	var err error
	if hasOld {
		if ch.OldSize, err = r.blobSize(old.id, path); err != nil {
			return e, err
		}
		ch.OldTimestamp, ch.OldID = old.ts, old.id.String()
	}
	if cur.present {
		if ch.NewSize, err = r.blobSize(cur.id, path); err != nil {
			return e, err
		}
		ch.NewTimestamp, ch.NewID = cur.ts, cur.id.String()
	}
	// The version the modifier fields come from.
	from := cur
	if !cur.present {
		from = old
	}
	fromData, err := r.blob(from.id, path)
	if err != nil {
		return e, err
	}
	e.Modifiers = modifiers(path, fromData)
	if opt.Details && ch.Action != DiffTouched {
		if hasOld {
			if oldData, err = r.blob(old.id, path); err != nil {
				return e, err
			}
		}
		if cur.present {
			newData = fromData
		}
		describe(&ch, oldData, newData, hasOld, cur.present, opt.Ignore)
	}
	e.Change = ch
	return e, nil
}

func (r *Repository) blob(id objects.ID, path string) ([]byte, error) {
	data, err := r.objs.ReadKind(id, objects.KindBlob)
	if err != nil {
		return nil, fmt.Errorf("%w: content of %s (object %s): %v", ErrCorrupt, path, id, err)
	}
	return data, nil
}

func (r *Repository) blobSize(id objects.ID, path string) (int64, error) {
	n, err := r.objs.Size(id)
	if err != nil {
		return 0, fmt.Errorf("%w: content of %s (object %s): %v", ErrCorrupt, path, id, err)
	}
	return n, nil
}

// modifiers reads the scope.ModifierFields of a resource: the top-level fields of
// a JSON object, or of a dictionary's or snapshot's header.
func modifiers(path string, data []byte) []Modifier {
	var fields map[string]json.RawMessage
	if h, err := scope.ReadBinaryHeader(path, data); err == nil && h.JSON != nil {
		data = h.JSON
	} else if scope.BinaryKindOf(path) != "" {
		return nil
	}
	if json.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &fields) != nil {
		return nil
	}
	var out []Modifier
	for _, name := range scope.ModifierFields() {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		switch {
		case string(raw) == "null":
			continue
		case json.Unmarshal(raw, &s) == nil:
		default:
			var buf bytes.Buffer
			if json.Compact(&buf, raw) != nil {
				continue
			}
			s = buf.String()
		}
		out = append(out, Modifier{Field: name, Value: s})
	}
	return out
}

// ProjectHistory is History for every resource of a project: it compares
// each snapshot covering the project (a snapshot of the project, or a
// system snapshot holding it) with the previous one, on the project's scope
// as each of them resolves it (DiffOptions.Scope), and lists the resources
// that changed, newest snapshot first, then by path. In the oldest such
// snapshot every resource of the project is DiffAdded.
//
// It fails with an error wrapping scope.ErrUnknownProject if no snapshot
// covers the project.
func (r *Repository) ProjectHistory(ctx context.Context, project string, opt HistoryOptions) ([]HistoryEntry, error) {
	want := scope.ProjectScope(project)
	if err := want.Check(); err != nil {
		return nil, err
	}
	all, err := r.historyLog(ctx)
	if err != nil {
		return nil, err
	}
	var covering []Info
	for i := len(all) - 1; i >= 0; i-- {
		in := all[i]
		if in.Scope.Kind == scope.Cube {
			continue
		}
		ok, err := r.covers(ctx, in, want)
		if err != nil {
			return nil, err
		}
		if ok {
			covering = append(covering, in)
		}
	}
	if len(covering) == 0 {
		return nil, fmt.Errorf("%w: no snapshot covers project %q", scope.ErrUnknownProject, project)
	}
	cache := resolved{}
	var out []HistoryEntry
	var prev metastore.Source = emptySource{}
	for _, in := range covering {
		snap := r.open(in)
		res, err := r.diff(ctx, prev, snap, DiffOptions{Scope: want, HasScope: true, Details: opt.Details, Ignore: opt.Ignore}, cache)
		if err != nil {
			return nil, err
		}
		var entries []HistoryEntry
		for _, ch := range res.Changes {
			e := HistoryEntry{Snapshot: in, Change: ch}
			hex := ch.NewID
			if ch.Action == DiffDeleted {
				hex = ch.OldID
			}
			if id, err := objects.ParseID(hex); err == nil {
				data, err := r.blob(id, ch.Path)
				if err != nil {
					return nil, err
				}
				e.Modifiers = modifiers(ch.Path, data)
			}
			entries = append(entries, e)
		}
		// Newest snapshot first; Diff sorted each snapshot's changes by path.
		out = append(entries, out...)
		prev = snap
	}
	return out, nil
}

// emptySource is a metastore without resources: the state before the first
// snapshot.
type emptySource struct{}

func (emptySource) List(context.Context, string, func(string) error) error { return nil }

func (emptySource) Read(_ context.Context, p string) (metastore.Resource, error) {
	return metastore.Resource{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
}

func (emptySource) Describe() string { return "nothing" }
