package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// Summary describes a snapshot for show: its record and what it holds.
type Summary struct {
	// Info is the snapshot's record (scope, time, author, message, source,
	// metastore UUID, resource count and bytes, tags).
	Info Info
	// Parent is the previous snapshot of the same scope and kind; nil for
	// the first one.
	Parent *Info
	// Types counts the resources per type (scope.TypeOf), sorted by type.
	Types []TypeCount
}

// TypeCount is the number of resources of one type.
type TypeCount struct {
	Type      string `json:"type"`
	Resources int    `json:"resources"`
}

// Summarize describes snap. It reads the snapshot's trees (never the
// resources) to count them per type.
func (r *Repository) Summarize(ctx context.Context, snap *Snapshot) (*Summary, error) {
	sum := &Summary{Info: snap.Info}
	if !snap.Info.Parent.IsZero() {
		p, err := r.info(snap.Info.Parent.object(), nil)
		if err != nil {
			return nil, err
		}
		sum.Parent = &p
	}
	counts := map[string]int{}
	err := snap.tree.Walk(ctx, "/", false, func(e tree.Entry) error {
		counts[scope.TypeOf(e.Key)]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snap.Info.ID.Short(), err)
	}
	for t, n := range counts {
		sum.Types = append(sum.Types, TypeCount{Type: t, Resources: n})
	}
	sort.Slice(sum.Types, func(i, j int) bool { return sum.Types[i].Type < sum.Types[j].Type })
	return sum, nil
}

// Resource is Read for show: a missing resource gives an error wrapping both
// ErrNotResource and fs.ErrNotExist.
func (s *Snapshot) Resource(ctx context.Context, p string) (metastore.Resource, error) {
	res, err := s.Read(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return res, notInSnapshot(fmt.Sprintf("%v: %s is not in snapshot %s (%s)", ErrNotResource, p, s.Info.ID.Short(), s.Info.Scope))
	}
	return res, err
}

// notInSnapshot is the error of a missing resource: it is both
// ErrNotResource and fs.ErrNotExist.
type notInSnapshot string

func (e notInSnapshot) Error() string   { return string(e) }
func (e notInSnapshot) Unwrap() []error { return []error{ErrNotResource, fs.ErrNotExist} }

// Entries lists the resources of the snapshot with their sizes and
// timestamps, sorted by path. A prefix keeps the resource prefix and the
// resources below it ("/cube" lists "/cube/*", not "/cube_desc/*"); "" or
// "/" lists everything. Entry.Change is the content's blob id.
func (s *Snapshot) Entries(ctx context.Context, prefix string) ([]metastore.Entry, error) {
	var out []metastore.Entry
	err := s.EachEntry(ctx, prefix, func(e metastore.Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachEntry is Entries, one entry at a time: fn gets each in path order,
// and the listing keeps none (ls of a million resources).
func (s *Snapshot) EachEntry(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	f := newPathFilter(prefix, nil)
	return s.ListEntries(ctx, f.listPrefix(), func(e metastore.Entry) error {
		if f.Match(e.Path) {
			return fn(e)
		}
		return nil
	})
}

// SplitRefPath splits "REF:PATH" (show's form of a resource in a snapshot)
// into the reference and the resource key, adding the key's leading slash
// if it lacks one: "latest:cube/ssb.json" is ("latest", "/cube/ssb.json").
// ok is false if s has no colon. References never contain a colon (git
// forbids it in ref names).
func SplitRefPath(s string) (ref, path string, ok bool) {
	ref, path, ok = strings.Cut(s, ":")
	if !ok {
		return s, "", false
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return ref, path, true
}
