package snapshot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// Latest is the reference that names the newest snapshot covering a scope.
const Latest = "latest"

// LogFilter selects snapshots for Log.
type LogFilter struct {
	// Scope, if set (HasScope), keeps the snapshots of exactly that scope.
	Scope    scope.Scope
	HasScope bool
	// Safety keeps safety snapshots too (they are listed by default and
	// marked; set ExcludeSafety to drop them).
	ExcludeSafety bool
}

// Log lists snapshots newest first, in the order they were recorded into
// the repository (see sortNewestFirst): an imported Kylin backup folder is
// placed when it was imported, whatever the time in its name.
func (r *Repository) Log(ctx context.Context, f LogFilter) ([]Info, error) {
	all, err := r.all(ctx)
	if err != nil {
		return nil, err
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

func (r *Repository) tagMap() (map[objects.ID][]string, error) {
	refs, err := r.objs.Refs(refTags)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m := map[objects.ID][]string{}
	for _, ref := range refs {
		m[ref.ID] = append(m[ref.ID], strings.TrimPrefix(ref.Name, refTags))
	}
	return m, nil
}

// Resolve finds the snapshot a reference names. A reference is, in this
// order: "latest" (the newest snapshot recorded, other than a safety
// snapshot, that covers want, in Log's order: for a project, a snapshot of that project or of the whole
// system that holds the project; for a cube, also snapshots of the cube or
// of a project holding it); a tag; a branch name such as "system" or
// "project/learn_kylin" (its newest snapshot); a full snapshot id or a unique
// prefix of at least 4 hexadecimal digits. It fails with ErrNotFound,
// ErrAmbiguous or ErrInvalidRef.
func (r *Repository) Resolve(ctx context.Context, ref string, want scope.Scope) (Info, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Info{}, fmt.Errorf("%w: empty reference", ErrInvalidRef)
	}
	if ref == Latest {
		return r.latest(ctx, want)
	}
	if checkTagName(ref) == nil {
		if id, err := r.objs.Ref(refTags + ref); err == nil {
			return r.info(id, nil)
		}
	}
	if s, err := scope.Parse(ref); err == nil {
		if id, err := r.objs.Ref(chainRef(s, KindBackup)); err == nil {
			return r.info(id, nil)
		}
	}
	if len(ref) < 4 || len(ref) > 40 || !isHex(ref) {
		return Info{}, fmt.Errorf("%w: %q is not a snapshot id, tag or \"latest\"", ErrNotFound, ref)
	}
	ref = strings.ToLower(ref)
	all, err := r.all(ctx)
	if err != nil {
		return Info{}, err
	}
	var found []Info
	for _, in := range all {
		if strings.HasPrefix(in.ID.String(), ref) {
			found = append(found, in)
		}
	}
	switch len(found) {
	case 0:
		return Info{}, fmt.Errorf("%w: no snapshot id starts with %s", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	var ids []string
	for _, in := range found {
		ids = append(ids, in.ID.Short())
	}
	return Info{}, fmt.Errorf("%w: %s matches %d snapshots (%s); give more digits", ErrAmbiguous, ref, len(found), strings.Join(ids, ", "))
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil
}

// latest returns the newest recorded non-safety snapshot that holds want.
func (r *Repository) latest(ctx context.Context, want scope.Scope) (Info, error) {
	all, err := r.all(ctx)
	if err != nil {
		return Info{}, err
	}
	for _, in := range all {
		if in.Kind == KindSafety {
			continue
		}
		ok, err := r.covers(ctx, in, want)
		if err != nil {
			return Info{}, err
		}
		if ok {
			return in, nil
		}
	}
	return Info{}, fmt.Errorf("%w: no snapshot covers %s yet", ErrNotFound, want)
}

// covers reports whether snapshot in holds the resources of scope want.
func (r *Repository) covers(ctx context.Context, in Info, want scope.Scope) (bool, error) {
	switch want.Kind {
	case scope.System:
		return in.Scope.Kind == scope.System, nil
	case scope.Project:
		if in.Scope == want {
			return true, nil
		}
		if in.Scope.Kind != scope.System {
			return false, nil
		}
		return r.hasProject(ctx, in, want.Name)
	case scope.Cube:
		if in.Scope == want {
			return true, nil
		}
		if in.Scope.Kind == scope.Cube {
			return false, nil
		}
		return scope.HasCube(ctx, r.open(in), want.Name)
	}
	return false, nil
}

func (r *Repository) hasProject(ctx context.Context, in Info, project string) (bool, error) {
	snap := r.open(in)
	names, err := scope.Projects(ctx, snap)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n == project {
			return true, nil
		}
	}
	return false, nil
}

// checkTagName accepts names usable as refs/tags/NAME that cannot be
// mistaken for a snapshot id prefix or "latest".
func checkTagName(name string) error {
	if name == "" || name == Latest {
		return fmt.Errorf("%w: tag name %q is reserved", ErrInvalidRef, name)
	}
	if err := objects.CheckRefName(refTags + name); err != nil {
		return fmt.Errorf("%w: tag %q: %v", ErrInvalidRef, name, err)
	}
	if len(name) >= 4 && len(name) <= 40 && isHex(name) {
		return fmt.Errorf("%w: tag %q looks like a snapshot id", ErrInvalidRef, name)
	}
	if _, err := scope.Parse(name); err == nil || name == importRef || strings.HasPrefix(name, safetyRef) ||
		strings.HasPrefix(name, "project/") || strings.HasPrefix(name, "cube/") {
		return fmt.Errorf("%w: tag %q would hide the branch of the same name", ErrInvalidRef, name)
	}
	return nil
}

// Tag names the snapshot ref resolves to.
func (r *Repository) Tag(ctx context.Context, ref, name string) (Info, error) {
	if err := checkTagName(name); err != nil {
		return Info{}, err
	}
	in, err := r.Resolve(ctx, ref, scope.SystemScope())
	if err != nil {
		return Info{}, err
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return Info{}, err
	}
	defer unlock()
	if err := r.checkNewTag(name, nil); err != nil {
		return Info{}, err
	}
	if err := r.objs.UpdateRef(refTags+name, in.ID.object(), objects.ZeroID); err != nil {
		if errors.Is(err, objects.ErrRefChanged) {
			return Info{}, fmt.Errorf("tag %q: %w", name, ErrTagExists)
		}
		return Info{}, err
	}
	in.Tags = append(in.Tags, name)
	sort.Strings(in.Tags)
	return in, nil
}

// DeleteTag removes a tag. The snapshot stays.
func (r *Repository) DeleteTag(ctx context.Context, name string) error {
	if err := checkTagName(name); err != nil {
		return err
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	names, err := r.objs.RefNames()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if !slices.Contains(names, refTags+name) {
		if below := tagsBelow(names, name); len(below) > 0 {
			return fmt.Errorf("%w: no tag %q, only tags below it (%s)", ErrNotFound, name, strings.Join(below, ", "))
		}
		return fmt.Errorf("%w: no tag %q", ErrNotFound, name)
	}
	id, err := r.objs.Ref(refTags + name)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return fmt.Errorf("%w: no tag %q", ErrNotFound, name)
		}
		return err
	}
	if err := r.objs.DeleteRef(refTags+name, id); err != nil {
		return err
	}
	// Leave no empty folders behind under refs/tags.
	dir := filepath.Dir(filepath.Join(r.Path(), filepath.FromSlash(refTags+name)))
	for dir != filepath.Join(r.Path(), "refs", "tags") {
		if os.Remove(dir) != nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// checkNewTag checks, under the lock, that tag name can be created beside
// the repository's tags and the tags given before it in the same command
// (given): ErrTagExists if it is taken, ErrInvalidRef if it would be both a
// name and a folder of names ("a" beside "a/b", or the reverse), which git's
// reference rules forbid.
func (r *Repository) checkNewTag(name string, given []string) error {
	names, err := r.objs.RefNames()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for _, g := range given {
		names = append(names, refTags+g)
	}
	full := refTags + name
	for _, n := range names {
		switch {
		case n == full:
			return fmt.Errorf("tag %q: %w", name, ErrTagExists)
		case strings.HasPrefix(n, full+"/"), strings.HasPrefix(full, n+"/"):
			return fmt.Errorf("%w: tag %q cannot be created beside tag %q: a tag name cannot also be a folder of tag names (git's rule)",
				ErrInvalidRef, name, strings.TrimPrefix(n, refTags))
		}
	}
	return nil
}

// tagsBelow returns the tags named "name/...", from a list of reference
// names.
func tagsBelow(refs []string, name string) []string {
	var out []string
	for _, n := range refs {
		if strings.HasPrefix(n, refTags+name+"/") {
			out = append(out, strings.TrimPrefix(n, refTags))
		}
	}
	return out
}
