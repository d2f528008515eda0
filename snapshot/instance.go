package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// AllInstances is the LogFilter.Instance that lists every instance's
// snapshots: this repository's own and all those pulled from remotes.
const AllInstances = "all"

// Instance returns the name this repository's snapshots take on remotes
// (refs/metastore/<instance>/...): the metastore UUID (Metastore-UUID) of its
// newest backup that records one. It is "" when no backup records one.
func (r *Repository) Instance(ctx context.Context) (string, error) {
	local, err := r.all(ctx)
	if err != nil {
		return "", err
	}
	return instanceOf(local), nil
}

// instanceOf is Instance over snapshots listed newest first.
func instanceOf(local []Info) string {
	for _, in := range local {
		if in.Kind == KindBackup && in.UUID != "" && checkInstance(in.UUID) == nil {
			return in.UUID
		}
	}
	for _, in := range local {
		if in.UUID != "" && checkInstance(in.UUID) == nil {
			return in.UUID
		}
	}
	return ""
}

// everySnapshot lists this repository's snapshots (Instance set to its
// own instance) and those of every remote-tracking namespace (Instance and
// Remote set), newest first, each snapshot once: one reachable from this
// repository's branches and tags is listed as its own.
func (r *Repository) everySnapshot(ctx context.Context) ([]Info, string, error) {
	local, err := r.all(ctx)
	if err != nil {
		return nil, "", err
	}
	own := instanceOf(local)
	seen := map[objects.ID]bool{}
	for i := range local {
		local[i].Instance = own
		seen[local[i].ID.object()] = true
	}
	refs, err := r.objs.Refs(refRemotes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	type ns struct{ remote, instance string }
	tags := map[ns]map[objects.ID][]string{}
	for _, ref := range refs {
		remote, rr, ok := parseTrackingRef(ref.Name)
		if !ok || rr.kind != "tags" {
			continue
		}
		k := ns{remote, rr.instance}
		if tags[k] == nil {
			tags[k] = map[objects.ID][]string{}
		}
		tags[k][ref.ID] = append(tags[k][ref.ID], rr.rest)
	}
	out := local
	// Branches first, so a snapshot is listed with its instance's tags.
	sort.SliceStable(refs, func(i, j int) bool {
		_, a, _ := parseTrackingRef(refs[i].Name)
		_, b, _ := parseTrackingRef(refs[j].Name)
		return a.kind < b.kind
	})
	for _, ref := range refs {
		remote, rr, ok := parseTrackingRef(ref.Name)
		if !ok {
			continue
		}
		k := ns{remote, rr.instance}
		if tags[k] == nil {
			tags[k] = map[objects.ID][]string{}
		}
		for id := ref.ID; !id.IsZero() && !seen[id]; {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
			seen[id] = true
			in, err := r.info(id, tags[k])
			if err != nil {
				if errors.Is(err, ErrNotMetastoreRepository) {
					break
				}
				return nil, "", fmt.Errorf("%s: %w", ref.Name, err)
			}
			in.Instance, in.Remote = rr.instance, remote
			out = append(out, in)
			id = in.Parent.object()
		}
	}
	sortNewestFirst(out)
	return out, own, nil
}

// instanceSnapshots lists the snapshots of instance (a full name or a
// unique prefix of one), or of all instances, newest first.
func (r *Repository) instanceSnapshots(ctx context.Context, instance string) ([]Info, error) {
	every, own, err := r.everySnapshot(ctx)
	if err != nil {
		return nil, err
	}
	if instance == AllInstances {
		return every, nil
	}
	names := map[string]bool{}
	if own != "" {
		names[own] = true
	}
	for _, in := range every {
		if in.Instance != "" {
			names[in.Instance] = true
		}
	}
	var match []string
	for n := range names {
		if n == instance {
			match = []string{n}
			break
		}
		if strings.HasPrefix(n, instance) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 0:
		known := make([]string, 0, len(names))
		for n := range names {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("%w: no instance %q (known: %s)", ErrNotFound, instance, joinOrNone(known))
	case 1:
	default:
		sort.Strings(match)
		return nil, fmt.Errorf("%w: instance %q matches %s", ErrAmbiguous, instance, strings.Join(match, ", "))
	}
	out := every[:0]
	for _, in := range every {
		if in.Instance == match[0] {
			out = append(out, in)
		}
	}
	return out, nil
}

func joinOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Instances lists the instances this repository knows: its own first
// (own is true), then those pulled from remotes, with how many snapshots
// each has.
func (r *Repository) Instances(ctx context.Context) ([]InstanceInfo, error) {
	every, own, err := r.everySnapshot(ctx)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	remotes := map[string]map[string]bool{}
	for _, in := range every {
		count[in.Instance]++
		if in.Remote != "" {
			if remotes[in.Instance] == nil {
				remotes[in.Instance] = map[string]bool{}
			}
			remotes[in.Instance][in.Remote] = true
		}
	}
	var out []InstanceInfo
	for name, n := range count {
		ii := InstanceInfo{Name: name, Own: name == own, Snapshots: n}
		for rm := range remotes[name] {
			ii.Remotes = append(ii.Remotes, rm)
		}
		sort.Strings(ii.Remotes)
		out = append(out, ii)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Own != out[j].Own {
			return out[i].Own
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// InstanceInfo describes one instance a repository knows of.
type InstanceInfo struct {
	// Name is the instance's name (its metastore UUID); "" for this
	// repository's own snapshots when none records a UUID.
	Name string
	// Own is true for this repository's own instance.
	Own bool
	// Snapshots counts its snapshots here; Remotes lists the remotes they
	// were pulled from.
	Snapshots int
	Remotes   []string
}

// resolvePulledTag finds a tag among the pulled instances' tags. It fails
// with ErrNotFound, or ErrAmbiguous when tags of that name in several
// instances name different snapshots.
func (r *Repository) resolvePulledTag(name string) (Info, error) {
	refs, err := r.objs.Refs(refRemotes)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	type where struct{ remote, instance string }
	found := map[objects.ID][]where{}
	for _, ref := range refs {
		remote, rr, ok := parseTrackingRef(ref.Name)
		if ok && rr.kind == "tags" && rr.rest == name {
			found[ref.ID] = append(found[ref.ID], where{remote, rr.instance})
		}
	}
	if len(found) == 0 {
		return Info{}, fmt.Errorf("%w: no tag %q", ErrNotFound, name)
	}
	if len(found) == 1 {
		for id, w := range found {
			in, err := r.info(id, map[objects.ID][]string{id: {name}})
			if err != nil {
				return Info{}, err
			}
			in.Instance, in.Remote = w[0].instance, w[0].remote
			return in, nil
		}
	}
	var list []string
	for id, ws := range found {
		var names []string
		for _, w := range ws {
			names = append(names, w.instance+" (from "+w.remote+")")
		}
		list = append(list, ID(id).Short()+" in "+strings.Join(names, ", "))
	}
	sort.Strings(list)
	return Info{}, fmt.Errorf("%w: tag %q names different snapshots in several instances (%s): use the snapshot id", ErrAmbiguous, name, strings.Join(list, "; "))
}
