package snapshot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/scope"
)

// Latest is the reference that names the newest snapshot covering a scope.
const Latest = "latest"

// Resolve finds the snapshot a reference names. A reference is, in this
// order: "latest" (the newest snapshot recorded, other than a safety
// snapshot, that covers want, in Log's order: for a project, a snapshot of that project or of the whole
// system that holds the project; for a cube, also snapshots of the cube or
// of a project holding it); a tag; a branch name such as "system" or
// "project/learn_kylin" (its newest snapshot); a full snapshot id or a unique
// prefix of at least 4 hexadecimal digits; an id that names no snapshot
// any more because a forget wrote the snapshot again under a new id
// resolves to it (see Forget). It fails with ErrNotFound,
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
	if checkTagName(ref) == nil {
		// A tag of an instance pulled from a remote.
		if in, err := r.resolvePulledTag(ref); !errors.Is(err, ErrNotFound) {
			return in, err
		}
	}
	if len(ref) < 4 || len(ref) > 40 || !isHex(ref) {
		return Info{}, fmt.Errorf("%w: %q is not a snapshot id, tag or \"latest\"", ErrNotFound, ref)
	}
	ref = strings.ToLower(ref)
	all, _, err := r.everySnapshot(ctx)
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
		// The old id of a snapshot a forget wrote again, or forgot.
		if in, ok, err := r.resolveOld(ref); ok || err != nil {
			return in, err
		}
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
			// A Kylin 5 model recorded under another of its names.
			return sameModel(ctx, r.open(in), in.Scope, want), nil
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
