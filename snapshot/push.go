package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// PushOptions say what Push does.
type PushOptions struct {
	RemoteOptions
	// Remote is a configured remote's name or a URL; "" for the default
	// remote.
	Remote string
	// Instance is the namespace to push into; "" for Instance() (the
	// metastore UUID of the newest backup).
	Instance string
}

// RefChange is one reference a push or pull moved.
type RefChange struct {
	// Ref is the reference in this repository (refs/heads/system, or
	// refs/remotes/origin/<instance>/heads/system for a pull), Remote the
	// reference on the remote.
	Ref, Remote string
	// Old is the remote's previous value (zero: created), New the new one.
	Old, New ID
}

// PushResult is what Push did.
type PushResult struct {
	// Remote is the remote's name ("" for a URL given directly), URL its
	// URL without any password.
	Remote, URL string
	// Instance is the namespace pushed into.
	Instance string
	// Updated lists the references created or moved on the remote;
	// UpToDate counts those that already held the right snapshot.
	Updated  []RefChange
	UpToDate int
	// Objects and Bytes count what was sent.
	Objects int
	Bytes   int64
}

// Push copies this repository's snapshots (its branches and tags) to a
// remote, under the namespace of its instance: refs/metastore/<instance>/
// heads/... and .../tags/.... Only objects the remote lacks travel. The
// objects are stored on the remote before any reference moves, so a remote
// reference never names a snapshot that is not complete there, and an
// interrupted push leaves the remote as it was (a rerun sends what is
// still missing).
//
// A push never forces: a remote branch must be an ancestor of the local
// one, and a remote tag must name the same snapshot; otherwise Push fails
// with ErrNonFastForward, saying what to do, and changes nothing. The one
// exception is a forget here (Forget): a remote branch or tag that is this
// repository's own from before a forget (the snapshot it names is in the id
// map, and leads to the local value, or was forgotten from that branch) is
// replaced by the rewritten one. Branches
// and tags deleted here are not deleted on the remote. Other instances'
// references are never touched.
func (r *Repository) Push(ctx context.Context, opt PushOptions) (*PushResult, error) {
	opt.defaults()
	t, err := r.resolveRemote(opt.Remote)
	if err != nil {
		return nil, err
	}
	inst := opt.Instance
	if inst == "" {
		if inst, err = r.Instance(ctx); err != nil {
			return nil, err
		}
		if inst == "" {
			return nil, fmt.Errorf("%w: no snapshot here records a metastore UUID (a metastore without /UUID, or no backup yet): name the instance with --instance NAME", ErrNoInstance)
		}
	}
	if err := checkInstance(inst); err != nil {
		return nil, err
	}
	res := &PushResult{Remote: t.name, URL: t.display(), Instance: inst}
	local := map[string]objects.ID{}
	for _, prefix := range []string{refHeads, refTags} {
		refs, err := r.objs.Refs(prefix)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		for _, ref := range refs {
			local[ref.Name] = ref.ID
		}
	}
	if len(local) == 0 {
		return res, nil
	}
	end, err := r.dial(ctx, t, opt.RemoteOptions)
	if err != nil {
		return nil, err
	}
	sess, err := end.openPush(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	remote := sess.refs()

	forgets, err := r.loadIDMap()
	if err != nil {
		return nil, err
	}
	var updates []refChange
	var refused []string
	for _, name := range sortedRefs(local) {
		id := local[name]
		rname := refMetastore + inst + "/" + strings.TrimPrefix(name, "refs/")
		old := remote[rname]
		switch {
		case old == id:
			res.UpToDate++
			continue
		case old.IsZero():
		case forgets.replaces(name, old, id):
			// The remote has this branch or tag as it was before a
			// forget here: it moves with it.
		case strings.HasPrefix(name, refTags):
			refused = append(refused, fmt.Sprintf("tag %s: the remote's names snapshot %s, this repository's %s", strings.TrimPrefix(name, refTags), ID(old).Short(), ID(id).Short()))
			continue
		case !r.objs.Has(old):
			refused = append(refused, fmt.Sprintf("%s: the remote's is at snapshot %s, which this repository does not have", strings.TrimPrefix(name, refHeads), ID(old).Short()))
			continue
		default:
			ok, err := r.objs.IsAncestor(ctx, old, id)
			if err != nil {
				return nil, err
			}
			if !ok {
				refused = append(refused, fmt.Sprintf("%s: the remote's snapshot %s is not in this repository's history (at %s)", strings.TrimPrefix(name, refHeads), ID(old).Short(), ID(id).Short()))
				continue
			}
		}
		updates = append(updates, refChange{name: rname, old: old, new: id})
		res.Updated = append(res.Updated, RefChange{Ref: name, Remote: rname, Old: ID(old), New: ID(id)})
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: instance %s on %s: %s. Nothing was pushed. Another repository pushes snapshots of a metastore with the same UUID (a copied Kylin?), or this repository was recreated: pull (metastore pull; metastore log --instance %s) to look at them, and push this repository under another name with --instance NAME, or start it again from the remote (metastore --repo NEW pull URL)",
			ErrNonFastForward, inst, t.display(), strings.Join(refused, "; "), inst)
	}
	if len(updates) > 0 {
		var tips []objects.ID
		for _, u := range updates {
			tips = append(tips, u.new)
		}
		ids, err := sess.missing(ctx, tips)
		if err != nil {
			if errors.Is(err, objects.ErrNotFound) {
				return nil, fmt.Errorf("%w: %v (run metastore verify)", ErrCorrupt, err)
			}
			return nil, err
		}
		res.Objects = len(ids)
		if res.Bytes, err = sess.send(ctx, updates, ids, opt.Progress); err != nil {
			return nil, err
		}
	}
	// Remember what the remote holds now.
	if err := r.track(ctx, t.tracking, remote, updates, inst); err != nil {
		return res, err
	}
	return res, nil
}

// track records, under refs/remotes/<tracking>/<instance>/..., the values
// of the instance's references on the remote after a push.
func (r *Repository) track(ctx context.Context, tracking string, remote map[string]objects.ID, updates []refChange, inst string) error {
	now := map[string]objects.ID{}
	for name, id := range remote {
		if rr, ok := parseRemoteRef(name); ok && rr.instance == inst {
			now[name] = id
		}
	}
	for _, u := range updates {
		now[u.name] = u.new
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for _, name := range sortedRefs(now) {
		rr, _ := parseRemoteRef(name)
		if err := r.setRef(rr.trackingName(tracking), now[name]); err != nil {
			return err
		}
	}
	return nil
}

// setRef points name at id whatever it held. Callers hold the lock.
func (r *Repository) setRef(name string, id objects.ID) error {
	cur, err := r.objs.Ref(name)
	if err != nil && !errors.Is(err, objects.ErrNotFound) {
		return err
	}
	if cur == id {
		return nil
	}
	return r.objs.UpdateRef(name, id, cur)
}

func sortChanges(c []RefChange) {
	sort.Slice(c, func(i, j int) bool { return c[i].Ref < c[j].Ref })
}
