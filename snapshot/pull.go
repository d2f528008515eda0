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
	before, err := r.objs.Refs("refs/")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	hadOwn := false
	for _, ref := range before {
		if isOwnRef(ref.Name) {
			hadOwn = true
		}
	}
	end, err := r.dial(ctx, t, opt.RemoteOptions)
	if err != nil {
		return nil, err
	}
	sess, err := end.openFetch(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.close()

	// The instances' references, filtered.
	byInst := map[string]map[string]objects.ID{}
	for name, id := range sess.refs() {
		if rr, ok := parseRemoteRef(name); ok {
			if byInst[rr.instance] == nil {
				byInst[rr.instance] = map[string]objects.ID{}
			}
			byInst[rr.instance][name] = id
		}
	}
	if opt.Instance != "" {
		var match []string
		for inst := range byInst {
			if inst == opt.Instance {
				match = []string{inst}
				break
			}
			if len(opt.Instance) >= 4 && len(inst) > len(opt.Instance) && inst[:len(opt.Instance)] == opt.Instance {
				match = append(match, inst)
			}
		}
		if len(match) != 1 {
			names := make([]string, 0, len(byInst))
			for n := range byInst {
				names = append(names, n)
			}
			sort.Strings(names)
			if len(match) == 0 {
				return nil, fmt.Errorf("%w: the remote %s has no instance %q (it has: %s)", ErrNotFound, t.display(), opt.Instance, joinOrNone(names))
			}
			return nil, fmt.Errorf("%w: instance %q matches several on %s: %v", ErrAmbiguous, opt.Instance, t.display(), match)
		}
		byInst = map[string]map[string]objects.ID{match[0]: byInst[match[0]]}
	}

	var wants, tips []objects.ID
	seen := objects.ObjectSet{}
	for _, refs := range byInst {
		for _, id := range refs {
			if seen.Has(id) {
				continue
			}
			seen.Add(id)
			tips = append(tips, id)
			if !r.objs.Has(id) {
				wants = append(wants, id)
			}
		}
	}
	got, err := sess.fetch(ctx, wants, opt.Progress)
	if err != nil {
		return nil, err
	}
	fresh := got.fresh
	res.Objects, res.Bytes = got.objects, got.bytes
	// Every snapshot complete before any reference names it.
	if err := r.objs.CheckConnected(ctx, tips, fresh); err != nil {
		return nil, fmt.Errorf("%w: %s sent incomplete snapshots: %v", ErrCorrupt, t.display(), err)
	}
	if t.name == "" && !hadRemotes(r) {
		// The first pull of a URL into a repository without remotes: it
		// becomes "origin", the default (as git clone does).
		// Never a password into the config: later pulls take it from the
		// environment or ~/.netrc.
		if _, err := r.addRemoteLocked(trackingOrigin, t.display()); err == nil {
			t.name, t.tracking = trackingOrigin, trackingOrigin
			res.Remote, res.AddedRemote = trackingOrigin, true
		}
	}
	insts := make([]string, 0, len(byInst))
	for inst := range byInst {
		insts = append(insts, inst)
	}
	sort.Strings(insts)
	for _, inst := range insts {
		pi := PulledInstance{Name: inst, Refs: len(byInst[inst])}
		counted := objects.ObjectSet{}
		for _, name := range sortedRefs(byInst[inst]) {
			id := byInst[inst][name]
			rr, _ := parseRemoteRef(name)
			tn := rr.trackingName(t.tracking)
			old, _ := r.objs.Ref(tn)
			if old != id {
				if err := r.setRef(tn, id); err != nil {
					return res, err
				}
				pi.Updated = append(pi.Updated, RefChange{Ref: tn, Remote: name, Old: ID(old), New: ID(id)})
			}
			if rr.kind == "heads" {
				pi.Snapshots += r.countFresh(id, fresh, counted)
			}
		}
		res.Instances = append(res.Instances, pi)
	}
	if !hadOwn && len(byInst) == 1 {
		// A clone: the instance's branches and tags become this
		// repository's, so backups continue its history and "latest" finds
		// its snapshots.
		inst := insts[0]
		for _, name := range sortedRefs(byInst[inst]) {
			rr, _ := parseRemoteRef(name)
			if err := r.setRef(rr.localName(), byInst[inst][name]); err != nil {
				return res, err
			}
		}
		res.Adopted = inst
	}
	return res, nil
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

// addRemoteLocked is AddRemote for a caller holding the lock.
func (r *Repository) addRemoteLocked(name, url string) (Remote, error) {
	err := r.objs.EditConfig(func(c *objects.Config) error {
		if _, ok := c.Get(remoteSection, name, "url"); ok {
			return fmt.Errorf("%w: %q", ErrRemoteExists, name)
		}
		c.Set(remoteSection, name, "url", url)
		c.Set(remoteSection, name, "fetch", "+"+refMetastore+"*:"+refRemotes+name+"/*")
		c.Set("metastore", "", defaultRemoteKV, name)
		return nil
	})
	return Remote{Name: name, URL: url, Default: true}, err
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
