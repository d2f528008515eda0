package snapshot

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects"
)

// refForgotten is where Forget keeps the previous values of the references
// it changed: refs/forgotten/<stamp>/heads/... and .../tags/....
const refForgotten = "refs/forgotten/"

// stampLayout names a forget by when it ran (UTC).
const stampLayout = "20060102T150405Z"

// undoMarker, under refs/forgotten/<stamp>/, marks an undo of that forget
// under way (see finishForgets).
const undoMarker = "undoing"

// rewritePlan is what Forget writes: the new commits, then the references.
type rewritePlan struct {
	stamp   string
	commits []newCommit
	heads   []refMove // branch moves; new zero: the branch goes
	tags    []refMove
	entries []idEntry // for the id map
	renamed map[objects.ID]objects.ID
}

type newCommit struct {
	id   objects.ID
	data []byte
}

type refMove struct {
	name     string
	old, new objects.ID
}

// planRewrite works out, for each group that forgets a snapshot, the
// commits of the kept snapshots above the oldest forgotten one, written
// again on top of the previous kept one, and the references to move.
func (r *Repository) planRewrite(groups []forgetGroup, tags map[objects.ID][]string) (*rewritePlan, error) {
	p := &rewritePlan{renamed: map[objects.ID]objects.ID{}}
	for gi := range groups {
		g := &groups[gi]
		parent, changed := g.base, false
		for i := len(g.Snapshots) - 1; i >= 0; i-- {
			v := &g.Snapshots[i]
			old := v.Snapshot.ID.object()
			if !v.Keep {
				changed = true
				p.entries = append(p.entries, idEntry{old: old, branch: g.Branch})
				continue
			}
			if !changed {
				parent = old
				continue
			}
			data, err := r.reparent(old, parent)
			if err != nil {
				return nil, err
			}
			id := objects.HashObject(objects.KindCommit, data)
			p.commits = append(p.commits, newCommit{id: id, data: data})
			p.entries = append(p.entries, idEntry{old: old, new: id, branch: g.Branch})
			p.renamed[old] = id
			v.NewID = ID(id)
			parent = id
		}
		if changed {
			p.heads = append(p.heads, refMove{name: g.ref, old: g.tip, new: parent})
		}
	}
	for old, names := range tags {
		id, ok := p.renamed[old]
		if !ok {
			continue
		}
		for _, n := range names {
			p.tags = append(p.tags, refMove{name: refTags + n, old: old, new: id})
		}
	}
	sort.Slice(p.tags, func(i, j int) bool { return p.tags[i].name < p.tags[j].name })
	return p, nil
}

// reparent returns the commit old written again with parent as its first
// parent (none if zero): same tree, author, committer, times and message.
// A commit that does not encode back to itself (one git signed, say)
// cannot be written again faithfully, and is refused.
func (r *Repository) reparent(old, parent objects.ID) ([]byte, error) {
	c, err := r.objs.ReadCommit(old)
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, ID(old).Short(), err)
	}
	if objects.HashObject(objects.KindCommit, objects.EncodeCommit(c)) != old {
		return nil, fmt.Errorf("%w: snapshot %s has commit headers this tool does not write (a signature?): it cannot be written again above a forgotten snapshot; nothing was forgotten", ErrConflict, ID(old).Short())
	}
	var parents []objects.ID
	if !parent.IsZero() {
		parents = append(parents, parent)
		if len(c.Parents) > 1 {
			parents = append(parents, c.Parents[1:]...)
		}
	}
	c.Parents = parents
	return objects.EncodeCommit(c), nil
}

// applyRewrite stores the new commits (one pack, durable before anything
// else), keeps the previous value of every reference to move under
// refs/forgotten/<stamp>/, records the id map, and only then moves the
// branches and tags.
func (r *Repository) applyRewrite(ctx context.Context, p *rewritePlan, opt ForgetOptions) error {
	var merged []string
	if len(p.commits) > 0 {
		pw, err := r.newPack()
		if err != nil {
			return err
		}
		defer pw.Abort()
		for _, c := range p.commits {
			id, _, err := pw.Write(objects.KindCommit, c.data)
			if err != nil {
				return err
			}
			if id != c.id {
				return fmt.Errorf("forget: commit stored as %s, planned as %s", id, c.id)
			}
		}
		ps, err := pw.Commit()
		if err != nil {
			return err
		}
		merged = ps.Merged
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := opt.stepDone("commits"); err != nil {
		return err
	}
	stamp, err := r.newStamp(opt.Now)
	if err != nil {
		return err
	}
	p.stamp = stamp
	moves := append(append([]refMove{}, p.heads...), p.tags...)
	for _, m := range moves {
		if err := r.objs.UpdateRef(forgottenRef(stamp, m.name), m.old, objects.ZeroID); err != nil {
			return fmt.Errorf("forget: keep %s: %w", m.name, err)
		}
	}
	if err := opt.stepDone("saved"); err != nil {
		return err
	}
	for i := range p.entries {
		p.entries[i].stamp = stamp
	}
	if err := r.addIDMap(p.entries); err != nil {
		return err
	}
	if err := opt.stepDone("idmap"); err != nil {
		return err
	}
	for _, m := range moves {
		if err := r.moveRef(m.name, m.old, m.new); err != nil {
			return fmt.Errorf("forget: %w (metastore forget --undo %s puts every reference back)", err, stamp)
		}
		if err := opt.stepDone("moved " + m.name); err != nil {
			return err
		}
	}
	r.objs.RemovePacks(merged)
	r.remapCaches(p.renamed)
	return nil
}

// moveRef points name at id (removes it if id is zero) if it holds old.
func (r *Repository) moveRef(name string, old, id objects.ID) error {
	if id.IsZero() {
		if err := r.objs.DeleteRef(name, old); err != nil {
			return err
		}
		removeEmptyRefDirs(r.Path(), name)
		return nil
	}
	return r.objs.UpdateRef(name, id, old)
}

// removeEmptyRefDirs removes the folders of a deleted reference that are
// left empty, up to refs/<kind>.
func removeEmptyRefDirs(repo, name string) {
	dir := filepath.Dir(filepath.Join(repo, filepath.FromSlash(name)))
	for strings.Count(strings.TrimPrefix(filepath.ToSlash(dir), filepath.ToSlash(repo)), "/") > 2 {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// forgottenRef is where a forget keeps the previous value of reference
// name: refs/forgotten/<stamp>/heads/... or .../tags/....
func forgottenRef(stamp, name string) string {
	return refForgotten + stamp + "/" + strings.TrimPrefix(name, "refs/")
}

// newStamp names a forget run at now, unique among the stamps kept.
func (r *Repository) newStamp(now time.Time) (string, error) {
	have, err := r.forgetStamps()
	if err != nil {
		return "", err
	}
	base := now.UTC().Format(stampLayout)
	stamp := base
	for n := 2; have[stamp]; n++ {
		stamp = fmt.Sprintf("%s-%d", base, n)
	}
	return stamp, nil
}

// forgetStamps returns the stamps of the forgets that can be undone.
func (r *Repository) forgetStamps() (map[string]bool, error) {
	refs, err := r.objs.Refs(refForgotten)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	out := map[string]bool{}
	for _, ref := range refs {
		stamp, _, _ := strings.Cut(strings.TrimPrefix(ref.Name, refForgotten), "/")
		out[stamp] = true
	}
	return out, nil
}

// remapCaches points the change caches and tree memos saved with a
// snapshot that got a new id at the new id, so that they stay trusted
// once prune has removed the old commit. A cache that cannot be rewritten
// only makes the next backup slower.
func (r *Repository) remapCaches(renamed map[objects.ID]objects.ID) {
	if len(renamed) == 0 {
		return
	}
	dir := filepath.Join(r.Path(), cacheDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tmpMarker) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := readCacheFile(path)
		if err != nil {
			continue
		}
		var magic string
		for _, m := range []string{cacheMagic, memoMagic} {
			if strings.HasPrefix(string(data), m) {
				magic = m
			}
		}
		if magic == "" || len(data) < len(magic)+40 {
			continue
		}
		if sum := sha1.Sum(data[:len(data)-20]); string(sum[:]) != string(data[len(data)-20:]) {
			continue
		}
		var commit objects.ID
		copy(commit[:], data[len(magic):])
		id, ok := renamed[commit]
		if !ok {
			continue
		}
		out := append([]byte{}, data[:len(data)-20]...)
		copy(out[len(magic):], id[:])
		sum := sha1.Sum(out)
		_ = writeAtomic(path, append(out, sum[:]...), tmpMarker+"remap-")
	}
}

// UndoResult is what UndoForget put back.
type UndoResult struct {
	// Stamp names the forget undone.
	Stamp string
	// Refs are the branches and tags put back, with the value the forget
	// had given them (Old) and the one they have again (New).
	Refs []RefChange
}

// ErrNothingToUndo means there is no forget to undo: none was made, or
// prune ended the chance to undo it.
var ErrNothingToUndo = errors.New("no forget to undo")

// UndoForget puts back the branches and tags a forget moved (stamp; "" for
// the latest forget), as long as prune has not run since. A reference that
// moved again after the forget (a backup recorded since, a later forget) is
// not overwritten: UndoForget then changes nothing and fails with
// ErrConflict, naming it. The commits the forget wrote stay until prune;
// the ids of the kept snapshots are their old ones again.
func (r *Repository) UndoForget(ctx context.Context, stamp string) (*UndoResult, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	stamps, err := r.forgetStamps()
	if err != nil {
		return nil, err
	}
	known := make([]string, 0, len(stamps))
	for s := range stamps {
		known = append(known, s)
	}
	sort.Strings(known)
	if stamp == "" {
		if len(known) == 0 {
			return nil, fmt.Errorf("%w: no forget since the last prune", ErrNothingToUndo)
		}
		stamp = known[len(known)-1]
	}
	if !stamps[stamp] {
		return nil, fmt.Errorf("%w: no forget %q (%s)", ErrNothingToUndo, stamp, joinOrNone(known))
	}
	all, err := r.objs.Refs(refForgotten + stamp + "/")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	marker := refForgotten + stamp + "/" + undoMarker
	var saved []objects.Ref
	for _, s := range all {
		if s.Name != marker {
			saved = append(saved, s)
		}
	}
	m, err := r.loadIDMap()
	if err != nil {
		return nil, err
	}
	res := &UndoResult{Stamp: stamp}
	var conflicts []string
	for _, s := range saved {
		name := "refs/" + strings.TrimPrefix(s.Name, refForgotten+stamp+"/")
		want, err := r.afterForget(m, stamp, name, s.ID)
		if err != nil {
			return nil, err
		}
		cur, err := r.objs.Ref(name)
		if errors.Is(err, objects.ErrNotFound) {
			cur, err = objects.ZeroID, nil
		}
		if err != nil {
			return nil, err
		}
		switch cur {
		case s.ID:
		case want:
			res.Refs = append(res.Refs, RefChange{Ref: name, Old: ID(cur), New: ID(s.ID)})
		default:
			conflicts = append(conflicts, fmt.Sprintf("%s is at %s, not where forget %s left it (%s)", strings.TrimPrefix(name, "refs/"), ID(cur).Short(), stamp, ID(want).Short()))
		}
	}
	if len(conflicts) > 0 {
		later := ""
		if known[len(known)-1] != stamp {
			later = fmt.Sprintf(" Undo the later forgets first (metastore forget --undo %s).", known[len(known)-1])
		}
		return nil, fmt.Errorf("%w: %s: undoing forget %s would drop what happened since; nothing was changed.%s",
			ErrConflict, strings.Join(conflicts, "; "), stamp, later)
	}
	// The marker tells finishForgets that the references now on old ids
	// are an undo under way, not a forget to finish.
	if len(saved) > 0 && len(saved) == len(all) {
		if err := r.objs.UpdateRef(marker, saved[0].ID, objects.ZeroID); err != nil {
			return nil, err
		}
	}
	for _, c := range res.Refs {
		if err := r.objs.UpdateRef(c.Ref, c.New.object(), c.Old.object()); err != nil {
			return nil, err
		}
	}
	back := map[objects.ID]objects.ID{}
	for old, e := range m.byOld {
		if e.stamp == stamp && !e.new.IsZero() {
			back[e.new] = old
		}
	}
	if err := r.dropIDMap(stamp); err != nil {
		return nil, err
	}
	for _, s := range all {
		if err := r.objs.DeleteRef(s.Name, s.ID); err != nil && !errors.Is(err, objects.ErrNotFound) {
			return nil, err
		}
		removeEmptyRefDirs(r.Path(), s.Name)
	}
	if id, err := r.objs.Ref(marker); err == nil {
		if err := r.objs.DeleteRef(marker, id); err != nil {
			return nil, err
		}
		removeEmptyRefDirs(r.Path(), marker)
	}
	r.remapCaches(back)
	return res, nil
}

// afterForget returns the value forget stamp gave reference name, whose
// value before was old: for a branch, its newest kept snapshot (zero if it
// kept none); for a tag, its snapshot's new id.
func (r *Repository) afterForget(m *idMap, stamp, name string, old objects.ID) (objects.ID, error) {
	isTag := strings.HasPrefix(name, refTags)
	for id, n := old, 0; !id.IsZero(); n++ {
		e, ok := m.byOld[id]
		if !ok || e.stamp != stamp {
			return id, nil // kept as it was
		}
		if !e.new.IsZero() {
			return e.new, nil
		}
		if isTag || n > 1<<20 {
			return id, nil
		}
		c, err := r.objs.ReadCommit(id)
		if err != nil {
			return objects.ZeroID, fmt.Errorf("%w: undo forget %s: %v (pruned since?)", ErrCorrupt, stamp, err)
		}
		if len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	return objects.ZeroID, nil
}

// stepDone runs the test hook after a step of the writing.
func (opt ForgetOptions) stepDone(name string) error {
	if opt.step == nil {
		return nil
	}
	return opt.step(name)
}

// finishForgets completes a forget that was interrupted while it moved the
// references (a crash between two of them): a branch whose value is in the
// id map moves to its newest snapshot that forget kept, a tag on a
// snapshot the forget wrote again moves to the new commit. A completed
// forget leaves no reference on an id of the map (undo removes its lines),
// so this only ever finishes what a forget began.
func (r *Repository) finishForgets() error {
	m, err := r.loadIDMap()
	if err != nil || len(m.byOld) == 0 {
		return err
	}
	refs, err := r.objs.Refs("refs/")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	undoing := map[string]bool{}
	for _, ref := range refs {
		if rest, ok := strings.CutPrefix(ref.Name, refForgotten); ok {
			if stamp, name, _ := strings.Cut(rest, "/"); name == undoMarker {
				undoing[stamp] = true
			}
		}
	}
	for _, ref := range refs {
		if e, ok := m.byOld[ref.ID]; !ok || undoing[e.stamp] {
			continue
		}
		var to objects.ID
		switch {
		case strings.HasPrefix(ref.Name, refTags):
			id, _, ok := m.follow(ref.ID)
			if !ok {
				continue
			}
			to = id
		case strings.HasPrefix(ref.Name, refHeads):
			if to, err = r.rolledForward(m, ref.ID); err != nil {
				return err
			}
		default:
			continue
		}
		if err := r.moveRef(ref.Name, ref.ID, to); err != nil {
			return fmt.Errorf("finish an interrupted forget: %w", err)
		}
	}
	return nil
}

// rolledForward returns where the forgets of the id map put a branch whose
// value was tip: its newest snapshot they kept, under its new id (zero if
// they kept none).
func (r *Repository) rolledForward(m *idMap, tip objects.ID) (objects.ID, error) {
	for id := tip; !id.IsZero(); {
		if _, ok := m.byOld[id]; !ok {
			return id, nil
		}
		if now, _, ok := m.follow(id); ok {
			return now, nil
		}
		c, err := r.objs.ReadCommit(id)
		if err != nil {
			return objects.ZeroID, fmt.Errorf("%w: finish an interrupted forget: %v", ErrCorrupt, err)
		}
		if len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	return objects.ZeroID, nil
}
