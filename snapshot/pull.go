package snapshot

import (
	"context"
	"fmt"
	"sort"

	"github.com/kylin-tools/metastore/objects"
)

// PullOptions say what Pull does.
type PullOptions struct {
	RemoteOptions
	// Remote is a configured remote's name or a URL; "" for the default
	// remote.
	Remote string
	// Instance, if set, pulls only that instance's snapshots (a name or a
	// unique prefix).
	Instance string
}

// PulledInstance is what Pull brought of one instance.
type PulledInstance struct {
	Name string
	// Refs counts its references on the remote; Updated lists those that
	// moved here (their Ref is the remote-tracking reference).
	Refs    int
	Updated []RefChange
	// Snapshots counts the snapshots that arrived.
	Snapshots int
}

// PullResult is what Pull did.
type PullResult struct {
	// Remote is the name the snapshots are kept under
	// (refs/remotes/<Remote>/...); URL the remote's URL without any
	// password.
	Remote, URL string
	// AddedRemote is true when the pull configured the URL as remote
	// "origin" (the first pull into a repository without remotes).
	AddedRemote bool
	Instances   []PulledInstance
	// Objects and Bytes count what was received.
	Objects int
	Bytes   int64
	// Adopted names the instance whose branches and tags became this
	// repository's own: a pull into a repository that had no snapshot,
	// from a remote holding one instance (or with Instance given), is a
	// clone.
	Adopted string
}

// Pull copies the snapshots of every instance on a remote (or of one) into
// this repository, under refs/remotes/<remote>/<instance>/heads/... and
// .../tags/..., where log --instance, restore and verify find them. Only
// objects this repository lacks travel; everything received is checked
// (each object hashed, every snapshot complete) before any reference
// moves, and an interrupted pull leaves the repository as it was (on S3,
// the packs already received stay, so a rerun resumes).
func (r *Repository) Pull(ctx context.Context, opt PullOptions) (*PullResult, error) {
	opt.defaults()
	t, err := r.resolveRemote(opt.Remote)
	if err != nil {
		return nil, err
	}
	res := &PullResult{Remote: t.tracking, URL: t.display()}
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	hadOwn, err := r.hasOwnRefs()
	if err != nil {
		return nil, err
	}
	sess, err := r.openFetch(ctx, t, opt.RemoteOptions)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	byInst := byInstance(sess.refs())
	if opt.Instance != "" {
		if byInst, err = pickInstance(byInst, opt.Instance, t.display()); err != nil {
			return nil, err
		}
	}
	var wants []objects.ID
	tips := uniqueTips(byInst)
	for _, id := range tips {
		if !r.objs.Has(id) {
			wants = append(wants, id)
		}
	}
	got, err := sess.fetch(ctx, wants, opt.Progress)
	if err != nil {
		return nil, err
	}
	res.Objects, res.Bytes = got.objects, got.bytes
	// Every snapshot complete before any reference names it.
	if err := r.objs.CheckConnected(ctx, tips, got.fresh); err != nil {
		return nil, fmt.Errorf("%w: %s sent incomplete snapshots: %v", ErrCorrupt, t.display(), err)
	}
	if t.name == "" && !hadRemotes(r) {
		// The first pull of a URL into a repository without remotes: it
		// becomes "origin", the default (as git clone does).
		// Never a password into the config: later pulls take it from the
		// environment or ~/.netrc.
		if _, err := r.addRemoteLocked(trackingOrigin, t.display(), true); err == nil {
			t.name, t.tracking = trackingOrigin, trackingOrigin
			res.Remote, res.AddedRemote = trackingOrigin, true
		}
	}
	for _, inst := range sortedKeys(byInst) {
		pi, err := r.trackPulled(inst, byInst[inst], t.tracking, got.fresh)
		if err != nil {
			return res, err
		}
		res.Instances = append(res.Instances, pi)
	}
	if !hadOwn && len(byInst) == 1 {
		// A clone: the instance's branches and tags become this
		// repository's, so backups continue its history and "latest" finds
		// its snapshots.
		inst := sortedKeys(byInst)[0]
		if err := r.adopt(byInst[inst]); err != nil {
			return res, err
		}
		res.Adopted = inst
	}
	return res, nil
}

// hasOwnRefs reports whether the repository holds snapshots of its own (a
// branch or a tag).
func (r *Repository) hasOwnRefs() (bool, error) {
	refs, err := r.objs.Refs("refs/")
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for _, ref := range refs {
		if isOwnRef(ref.Name) {
			return true, nil
		}
	}
	return false, nil
}

// openFetch dials the remote at t and starts a fetch from it.
func (r *Repository) openFetch(ctx context.Context, t target, opt RemoteOptions) (fetchSession, error) {
	end, err := r.dial(ctx, t, opt)
	if err != nil {
		return nil, err
	}
	return end.openFetch(ctx)
}

// byInstance groups a remote's instance references (the others are left
// out) by instance.
func byInstance(refs map[string]objects.ID) map[string]map[string]objects.ID {
	byInst := map[string]map[string]objects.ID{}
	for name, id := range refs {
		if rr, ok := parseRemoteRef(name); ok {
			if byInst[rr.instance] == nil {
				byInst[rr.instance] = map[string]objects.ID{}
			}
			byInst[rr.instance][name] = id
		}
	}
	return byInst
}

// pickInstance keeps of byInst the instance that want names: in full, or
// by a unique prefix of four characters or more.
func pickInstance(byInst map[string]map[string]objects.ID, want, remote string) (map[string]map[string]objects.ID, error) {
	names := sortedKeys(byInst)
	match := matchInstance(names, want, 4)
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: the remote %s has no instance %q (it has: %s)", ErrNotFound, remote, want, joinOrNone(names))
	case 1:
		return map[string]map[string]objects.ID{match[0]: byInst[match[0]]}, nil
	}
	return nil, fmt.Errorf("%w: instance %q matches several on %s: %v", ErrAmbiguous, want, remote, match)
}

// uniqueTips lists, each once, the commits the references of byInst name.
func uniqueTips(byInst map[string]map[string]objects.ID) []objects.ID {
	var tips []objects.ID
	seen := objects.ObjectSet{}
	for _, refs := range byInst {
		for _, id := range refs {
			if !seen.Has(id) {
				seen.Add(id)
				tips = append(tips, id)
			}
		}
	}
	return tips
}

// trackPulled moves the remote-tracking references of one pulled instance (refs,
// its references on the remote) to where they are there, and counts the
// snapshots fresh holds.
func (r *Repository) trackPulled(inst string, refs map[string]objects.ID, tracking string, fresh func(objects.ID) bool) (PulledInstance, error) {
	pi := PulledInstance{Name: inst, Refs: len(refs)}
	counted := objects.ObjectSet{}
	for _, name := range sortedRefs(refs) {
		id := refs[name]
		rr, _ := parseRemoteRef(name)
		tn := rr.trackingName(tracking)
		old, _ := r.objs.Ref(tn)
		if old != id {
			if err := r.setRef(tn, id); err != nil {
				return pi, err
			}
			pi.Updated = append(pi.Updated, RefChange{Ref: tn, Remote: name, Old: ID(old), New: ID(id)})
		}
		if rr.kind == "heads" {
			pi.Snapshots += r.countFresh(id, fresh, counted)
		}
	}
	return pi, nil
}

// adopt makes an instance's branches and tags (refs, its references on the
// remote) this repository's own.
func (r *Repository) adopt(refs map[string]objects.ID) error {
	for _, name := range sortedRefs(refs) {
		rr, _ := parseRemoteRef(name)
		if err := r.setRef(rr.localName(), refs[name]); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isOwnRef reports whether a reference holds this repository's own
// snapshots (a branch or a tag).
func isOwnRef(name string) bool {
	return len(name) > len(refHeads) && name[:len(refHeads)] == refHeads ||
		len(name) > len(refTags) && name[:len(refTags)] == refTags
}

func hadRemotes(r *Repository) bool {
	rs, err := r.Remotes()
	return err == nil && len(rs) > 0
}

// countFresh counts the commits of id's first-parent chain that fresh
// holds (that this pull brought), each once.
func (r *Repository) countFresh(id objects.ID, fresh func(objects.ID) bool, counted objects.ObjectSet) int {
	n := 0
	for !id.IsZero() && fresh(id) && !counted.Has(id) {
		counted.Add(id)
		n++
		c, err := r.objs.ReadCommit(id)
		if err != nil || len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	return n
}
