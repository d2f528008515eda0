package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// LogFilter selects snapshots for Log.
type LogFilter struct {
	// Scope, if set (HasScope), keeps the snapshots of exactly that scope.
	Scope    scope.Scope
	HasScope bool
	// Safety keeps safety snapshots too (they are listed by default and
	// marked; set ExcludeSafety to drop them).
	ExcludeSafety bool
	// Instance, if set, lists the snapshots of that instance (a metastore
	// UUID or a unique prefix of one), this repository's own or pulled
	// from a remote, or of every instance (AllInstances). By default only
	// this repository's own snapshots are listed.
	Instance string
}

// Log lists snapshots newest first, in the order they were recorded into
// the repository (see sortNewestFirst): an imported Kylin backup folder is
// placed when it was imported, whatever the time in its name.
func (r *Repository) Log(ctx context.Context, f LogFilter) ([]Info, error) {
	all, err := r.all(ctx)
	if f.Instance != "" {
		all, err = r.instanceSnapshots(ctx, f.Instance)
	}
	if err != nil {
		return nil, err
	}
	if f.Instance == "" {
		own := instanceOf(all)
		for i := range all {
			all[i].Instance = own
		}
	}
	out := all[:0]
	for _, in := range all {
		if f.HasScope && in.Scope != f.Scope {
			continue
		}
		if f.ExcludeSafety && in.Kind == KindSafety {
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

// all reads every snapshot reachable from the repository's branches and
// tags, newest first.
func (r *Repository) all(ctx context.Context) ([]Info, error) {
	refs, err := r.objs.Refs("refs/")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	tags, err := r.tagMap()
	if err != nil {
		return nil, err
	}
	seen := map[objects.ID]bool{}
	var out []Info
	for _, ref := range refs {
		if !strings.HasPrefix(ref.Name, refHeads) && !strings.HasPrefix(ref.Name, refTags) {
			continue
		}
		for id := ref.ID; !id.IsZero() && !seen[id]; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			seen[id] = true
			in, err := r.info(id, tags)
			if err != nil {
				if errors.Is(err, ErrNotMetastoreRepository) {
					// A commit someone made with plain git: not a snapshot.
					break
				}
				return nil, fmt.Errorf("%s: %w", ref.Name, err)
			}
			out = append(out, in)
			id = in.Parent.object()
		}
	}
	sortNewestFirst(out)
	return out, nil
}

// sortNewestFirst orders snapshots by when they were recorded into the
// repository, newest first; never by the time in an imported folder's name.
// Within a chain (a snapshot and its parent) the later snapshot always comes
// first, even when both were recorded in the same millisecond or the clock
// went back between them: a snapshot counts as recorded no earlier than its
// parent, and ties go to the one further down its chain, then to the id.
func sortNewestFirst(s []Info) {
	type key struct {
		recorded time.Time
		depth    int
	}
	index := make(map[ID]int, len(s))
	for i := range s {
		index[s[i].ID] = i
	}
	keys := make([]key, len(s))
	done := make([]bool, len(s))
	var chain []int
	for i := range s {
		// Walk up to the first snapshot whose key is known (or the root),
		// then fill the keys in on the way back down.
		// (A crafted cycle of parents stops the walk too: its keys are
		// then only partly ordered, but still well defined.)
		chain = chain[:0]
		for j, ok := i, true; ok && !done[j]; j, ok = index[s[j].Parent] {
			chain = append(chain, j)
			done[j] = true
		}
		for n := len(chain) - 1; n >= 0; n-- {
			j := chain[n]
			k := key{recorded: s[j].Recorded}
			if p, ok := index[s[j].Parent]; ok {
				pk := keys[p]
				if pk.recorded.After(k.recorded) {
					k.recorded = pk.recorded
				}
				k.depth = pk.depth + 1
			}
			keys[j] = k
		}
	}
	order := make([]int, len(s))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ka, kb := keys[order[a]], keys[order[b]]
		if !ka.recorded.Equal(kb.recorded) {
			return ka.recorded.After(kb.recorded)
		}
		if ka.depth != kb.depth {
			return ka.depth > kb.depth
		}
		return s[order[a]].ID.String() < s[order[b]].ID.String()
	})
	sorted := make([]Info, len(s))
	for i, j := range order {
		sorted[i] = s[j]
	}
	copy(s, sorted)
}
