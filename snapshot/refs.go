package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// Names of the repository layout; FORMAT.md documents them.
const (
	refHeads  = "refs/heads/"
	refTags   = "refs/tags/"
	safetyRef = "safety/"
	importRef = "imported"
	headRef   = refHeads + "system"
	cacheDir  = "metastore-cache"
)

// chainRef is the branch that holds the snapshots of one scope and kind.
func chainRef(s scope.Scope, k Kind) string {
	switch k {
	case KindSafety:
		return refHeads + safetyRef + s.String()
	case KindImport:
		return refHeads + importRef
	}
	return refHeads + s.String()
}

// tagMap returns the tags of each snapshot.
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
