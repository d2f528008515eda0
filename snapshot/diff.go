package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/jsondiff"
	"golang.org/x/sync/errgroup"
)

// DiffAction says how a resource differs between two metastores.
type DiffAction string

// The actions of a diff.
const (
	// DiffAdded: only the new side has the resource.
	DiffAdded DiffAction = "added"
	// DiffModified: both have it, with different bytes.
	DiffModified DiffAction = "modified"
	// DiffTouched: both have it with the same bytes, but Kylin's timestamp
	// differs (Kylin saved it again without changing it, or a restore
	// rewrote it). It is reported, never counted as modified.
	DiffTouched DiffAction = "touched"
	// DiffDeleted: only the old side has the resource.
	DiffDeleted DiffAction = "deleted"
)

// Change is how one resource differs between the old and the new side of a
// diff. The JSON form (field names in the tags) is the documented --json
// schema of the diff command (README, "Diff JSON schema").
type Change struct {
	// Path is the resource key.
	Path string `json:"path"`
	// Type is the resource type, scope.TypeOf(Path).
	Type string `json:"type"`
	// Action says how it differs.
	Action DiffAction `json:"action"`
	// OldSize and NewSize are the sizes in bytes (0 on the side that lacks
	// the resource).
	OldSize int64 `json:"old_size"`
	NewSize int64 `json:"new_size"`
	// OldTimestamp and NewTimestamp are Kylin's resource timestamps in
	// milliseconds (0 on the side that lacks the resource).
	OldTimestamp int64 `json:"old_timestamp,omitempty"`
	NewTimestamp int64 `json:"new_timestamp,omitempty"`
	// OldID and NewID are the git blob ids of the content (the SHA-1 of
	// "blob <size>\0<bytes>"), equal exactly when the bytes are. A live
	// metastore's id is only computed when needed: it is empty when the
	// sizes alone told the contents apart and no details were asked for.
	OldID string `json:"old_id,omitempty"`
	NewID string `json:"new_id,omitempty"`

	// The details below are filled only when DiffOptions.Details is set.

	// Trivial is set on a modified JSON resource whose only differences
	// are formatting, key order or ignored fields: Fields is empty.
	Trivial bool `json:"trivial,omitempty"`
	// Fields is the field-level difference of a modified JSON resource.
	Fields []jsondiff.Change `json:"fields,omitempty"`
	// Malformed says which version of a JSON resource is not valid JSON
	// and why; Text then holds a line diff instead of Fields.
	Malformed string `json:"malformed,omitempty"`
	// Text is the line diff of a modified resource that is text but not
	// valid JSON.
	Text []jsondiff.Line `json:"text,omitempty"`
	// Binary describes an added, modified or deleted binary resource.
	Binary *BinaryChange `json:"binary,omitempty"`
}

// BinaryChange describes a binary resource: a dictionary, table snapshot,
// statistics file, /UUID, or any resource that is not UTF-8 text. Its
// content hash change is OldID -> NewID of the Change.
type BinaryChange struct {
	// Kind is the format: "dictionary", "snapshot", "statistics", "uuid",
	// or "" for an unknown binary format.
	Kind scope.BinaryKind `json:"kind"`
	// OldHeader and NewHeader are the JSON headers of a dictionary or
	// snapshot (compact, keys sorted), when they can be read.
	OldHeader json.RawMessage `json:"old_header,omitempty"`
	NewHeader json.RawMessage `json:"new_header,omitempty"`
	// Header is the field-level difference of the two headers, for a
	// modified dictionary or snapshot whose headers can both be read.
	Header []jsondiff.Change `json:"header_changes,omitempty"`
	// OldUUID and NewUUID are the decoded content of /UUID.
	OldUUID string `json:"old_uuid,omitempty"`
	NewUUID string `json:"new_uuid,omitempty"`
	// Unreadable says why a header that should be there could not be read.
	Unreadable string `json:"unreadable,omitempty"`
}

// DiffOptions say what a diff compares.
type DiffOptions struct {
	// Scope, if HasScope, limits the diff to the resources of a project or
	// cube scope (a cube with its segments' dictionaries, snapshots and
	// statistics): the scope is resolved on both sides with scope.Resolve
	// and the union of the two member lists is compared, so a resource that
	// left the scope shows as deleted. A scope that neither side has fails
	// with the scope package's not-found error.
	Scope    scope.Scope
	HasScope bool
	// NoSegments leaves a cube scope's segment resources out (to compare
	// with a cube snapshot taken without them).
	NoSegments bool
	// Types, if not empty, keeps the resources of these types
	// (scope.TypeOf: "cube", "cube_desc", "dict", ...).
	Types []string
	// Prefix, if not empty or "/", keeps the resource Prefix and the
	// resources below it: "/cube" means "/cube/*", never "/cube_desc/*".
	Prefix string
	// Details reads the content of every added, modified and deleted
	// resource to fill the details of its Change: the field-level diff of
	// JSON, a line diff of malformed JSON, the headers of binary resources.
	Details bool
	// Ignore lists the JSON fields the field-level diff ignores (see
	// jsondiff.Options; scope.SaveFields is the usual choice).
	Ignore []string
	// Source names a live metastore as its backups did (BackupOptions.Source;
	// metastore.Describe of it if empty), so that the change cache of those
	// backups can vouch for unchanged content without reading it.
	Source string
}

// DiffResult is the outcome of a diff.
type DiffResult struct {
	// Changes are the resources that differ, sorted by path.
	Changes []Change
	// Warnings are what scope resolution met on either side (with a scope
	// filter only).
	Warnings []scope.Warning
}

// Diff compares the resources of two metastores, old and new: two
// snapshots, a snapshot and the live metastore, or any two sources. The
// result lists every resource that was added, modified, touched (same bytes,
// new timestamp) or deleted, sorted by path; unchanged resources are not
// listed.
//
// Two snapshots of r are compared by walking their trees together: a folder
// whose tree and timestamps tree are identical on both sides is skipped
// without being read, so the cost grows with what changed, not with the size
// of the metastore. A live source is listed (metastore.ListEntries) and
// compared by size first; its content is read and hashed only when the
// sizes are equal and the change cache of its backups cannot vouch for it.
//
// A folder side that overlaps the repository (see CheckSeparate) is refused
// with ErrInsideRepository, as Backup refuses it: it would list the
// repository's own files as resources.
func (r *Repository) Diff(ctx context.Context, old, new metastore.Source, opt DiffOptions) (*DiffResult, error) {
	for _, src := range []metastore.Source{old, new} {
		if err := r.checkSeparate(src); err != nil {
			return nil, err
		}
	}
	return r.diff(ctx, old, new, opt, nil)
}

// resolved caches scope resolutions by snapshot, for histories that diff
// each snapshot twice.
type resolved map[ID]*scope.Result

func (r *Repository) diff(ctx context.Context, old, new metastore.Source, opt DiffOptions, cache resolved) (*DiffResult, error) {
	f := newPathFilter(opt.Prefix, opt.Types)
	for _, src := range []*metastore.Source{&old, &new} {
		if v, ok := (*src).(metastore.Viewer); ok {
			view, err := v.View(ctx)
			if err != nil {
				return nil, fmt.Errorf("open a consistent view of %s: %w", metastore.Describe(*src), err)
			}
			defer view.Close()
			*src = view
		}
	}
	a, b := r.side(old, opt.Source), r.side(new, opt.Source)
	res := &DiffResult{}
	var pairs []diffPair
	var err error
	switch {
	case opt.HasScope:
		pairs, res.Warnings, err = r.scopePairs(ctx, a, b, opt.Scope, !opt.NoSegments, f, cache)
	case a.snap != nil && b.snap != nil:
		pairs, _, err = r.treePairs(ctx, a.snap.Info.tree, b.snap.Info.tree, f)
	default:
		pairs, err = r.listPairs(ctx, a, b, f)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].path < pairs[j].path })
	if res.Changes, err = r.describeAll(ctx, a, b, pairs, opt); err != nil {
		return nil, err
	}
	return res, nil
}

// describeAll classifies the pairs and reads the details asked for, and
// returns the changes in the order of the pairs. Two snapshots of r are
// read on several goroutines (the object store reads concurrently, and
// reading and comparing the versions of the changed resources is most of
// a diff's work once the trees are compared); a live source, which may
// read on one connection, is read in turn.
func (r *Repository) describeAll(ctx context.Context, a, b *diffSide, pairs []diffPair, opt DiffOptions) ([]Change, error) {
	workers := 1
	if a.snap != nil && b.snap != nil {
		workers = min(runtime.GOMAXPROCS(0), max(1, len(pairs)/16))
	}
	out := make([]*Change, len(pairs))
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(pairs) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				p := pairs[i]
				ch, changed, err := r.classify(gctx, a, b, p, opt.Details)
				if err != nil {
					return err
				}
				if changed && opt.Details && ch.Action != DiffTouched {
					if err := r.details(gctx, &ch, a, b, p, opt.Ignore); err != nil {
						return err
					}
				}
				if changed {
					out[i] = &ch
				}
				p.release()
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var changes []Change
	for _, ch := range out {
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	return changes, nil
}

// pathFilter keeps the resources under a prefix and of some types.
type pathFilter struct {
	prefix string // without a trailing slash; "" keeps everything
	types  map[string]bool
}

func newPathFilter(prefix string, types []string) pathFilter {
	prefix = strings.TrimSpace(prefix)
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	f := pathFilter{prefix: strings.TrimRight(prefix, "/")}
	for _, t := range types {
		if t = strings.TrimSpace(t); t != "" {
			if f.types == nil {
				f.types = map[string]bool{}
			}
			f.types[t] = true
		}
	}
	return f
}

// Match reports whether the filter keeps resource p.
func (f pathFilter) Match(p string) bool {
	if f.prefix != "" && p != f.prefix && !strings.HasPrefix(p, f.prefix+"/") {
		return false
	}
	return f.types == nil || f.types[scope.TypeOf(p)]
}

// MayContain reports whether folder dir ("" for the root, "/cube", ...) can
// hold resources the filter keeps.
func (f pathFilter) MayContain(dir string) bool {
	return dir == "" || f.prefix == "" || dir == f.prefix ||
		strings.HasPrefix(dir, f.prefix+"/") || strings.HasPrefix(f.prefix, dir+"/")
}

// listPrefix is the prefix to list a source with.
func (f pathFilter) listPrefix() string {
	if f.prefix == "" {
		return "/"
	}
	return f.prefix
}

// TypeStat counts the changes of one resource type.
type TypeStat struct {
	Type     string `json:"type"`
	Added    int    `json:"added"`
	Modified int    `json:"modified"`
	Touched  int    `json:"touched"`
	Deleted  int    `json:"deleted"`
}

// Stat counts changes per resource type, sorted by type.
func Stat(changes []Change) []TypeStat {
	m := map[string]*TypeStat{}
	var types []string
	for _, c := range changes {
		s, ok := m[c.Type]
		if !ok {
			s = &TypeStat{Type: c.Type}
			m[c.Type] = s
			types = append(types, c.Type)
		}
		switch c.Action {
		case DiffAdded:
			s.Added++
		case DiffModified:
			s.Modified++
		case DiffTouched:
			s.Touched++
		case DiffDeleted:
			s.Deleted++
		}
	}
	sort.Strings(types)
	out := make([]TypeStat, 0, len(types))
	for _, t := range types {
		out = append(out, *m[t])
	}
	return out
}
