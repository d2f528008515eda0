package snapshot

import (
	"context"
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// forgottenPrefix holds the tips Forget moved references away from, which
// keep forgotten snapshots (and forget's undo) until the next prune.
const forgottenPrefix = "refs/forgotten/"

// PruneOptions configure Prune.
type PruneOptions struct {
	// DryRun reports what would be removed and changes nothing.
	DryRun bool
	// Progress, if not nil, is told of the phases (finding reachable
	// objects, writing the pack, removing old packs).
	Progress Progress

	// step, if not nil, is called after each step that changes the
	// repository (tests crash Prune there).
	step func(string)
}

// PruneResult tells what Prune found and did (or, in a dry run, would do).
type PruneResult struct {
	DryRun bool `json:"dry_run"`
	// UndoDropped lists the undo points of forget that Prune dropped
	// (refs/forgotten/<time>), oldest first; ForgottenRefs the references
	// under them.
	UndoDropped   []string `json:"undo_dropped"`
	ForgottenRefs []string `json:"forgotten_refs"`
	// Kept counts the references whose snapshots are kept.
	Kept int `json:"refs_kept"`
	// ObjectsBefore counts the repository's objects, ObjectsAfter those
	// kept, ObjectsRemoved the difference; Deltas the kept objects stored
	// as deltas of others.
	ObjectsBefore  int `json:"objects_before"`
	ObjectsAfter   int `json:"objects_after"`
	ObjectsRemoved int `json:"objects_removed"`
	Deltas         int `json:"deltas"`
	// PacksBefore, PacksAfter count packs; BytesBefore, BytesAfter the
	// bytes of packs, their indexes and loose objects (BytesAfter is zero
	// in a dry run: the new pack is not written).
	PacksBefore int   `json:"packs_before"`
	PacksAfter  int   `json:"packs_after"`
	BytesBefore int64 `json:"bytes_before"`
	BytesAfter  int64 `json:"bytes_after"`
}

// Prune removes every object that no snapshot still referenced reaches and
// rewrites the repository's packs into one, storing similar objects (the
// versions of a tree, the resources of one folder) as deltas of each other,
// so that the space is really returned.
//
// It first deletes every reference under refs/forgotten/ (the undo points of
// Forget: forget's undo ends at prune), then keeps everything the other
// references reach: refs/heads/ (every scope's snapshots, safety snapshots,
// imports), refs/tags/ and refs/remotes/ (snapshots pulled from remotes),
// and any other reference git keeps under refs/. It holds the repository
// lock throughout, so a backup started meanwhile waits for it.
//
// Prune is crash-safe: the new pack and its index are durable before any old
// pack is deleted, so a crash (or a kill) at any point leaves a repository
// that verifies, holding every snapshot a reference names. A reference or
// object that cannot be read fails Prune before it deletes anything (but
// the forgotten references), with an error wrapping ErrCorrupt.
func (r *Repository) Prune(ctx context.Context, opt PruneOptions) (*PruneResult, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	step := opt.step
	if step == nil {
		step = func(string) {}
	}
	res := &PruneResult{DryRun: opt.DryRun, UndoDropped: []string{}, ForgottenRefs: []string{}}
	refs, err := r.objs.Refs("refs/")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var tips []objects.ID
	seenUndo := map[string]bool{}
	for _, ref := range refs {
		if !strings.HasPrefix(ref.Name, forgottenPrefix) {
			tips = append(tips, ref.ID)
			res.Kept++
			continue
		}
		res.ForgottenRefs = append(res.ForgottenRefs, ref.Name)
		stamp, _, _ := strings.Cut(strings.TrimPrefix(ref.Name, forgottenPrefix), "/")
		if undo := forgottenPrefix + stamp; !seenUndo[undo] {
			seenUndo[undo] = true
			res.UndoDropped = append(res.UndoDropped, undo)
		}
		if opt.DryRun {
			continue
		}
		if err := r.objs.DeleteRef(ref.Name, ref.ID); err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
		step("deleted " + ref.Name)
	}
	st, err := r.objs.Repack(ctx, tips, objects.RepackOptions{
		Level:    r.opt.Compression,
		DryRun:   opt.DryRun,
		Progress: opt.Progress,
		Step:     step,
	})
	res.ObjectsBefore, res.ObjectsAfter, res.ObjectsRemoved = st.ObjectsBefore, st.ObjectsAfter, st.Removed
	res.Deltas = st.Deltas
	res.PacksBefore, res.PacksAfter = st.PacksBefore, st.PacksAfter
	res.BytesBefore, res.BytesAfter = st.BytesBefore, st.BytesAfter
	if err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	if !opt.DryRun {
		// Trees read before may name objects that are gone.
		r.trees = tree.NewReader(r.objs)
	}
	return res, nil
}
