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

// ErrEmptyPolicy means Forget was given a policy without any rule: it
// would forget everything not tagged, which is never what was meant.
var ErrEmptyPolicy = errors.New("empty retention policy")

// ForgetOptions say what Forget does.
type ForgetOptions struct {
	// Policy says which snapshots to keep; an empty one is refused.
	Policy Policy
	// Scope, if HasScope, limits Forget to that scope's groups (its
	// backups and its safety snapshots; for the system scope, the imported
	// Kylin backup folders too). By default every group is considered.
	Scope    scope.Scope
	HasScope bool
	// DryRun decides and reports, and changes nothing.
	DryRun bool
	// Now is the time the policy is applied at (snapshots recorded after
	// it are kept) and that names the forget (its stamp); zero: the
	// repository's clock.
	Now time.Time

	// step, in tests, runs after each step of the writing: "commits" (the
	// new commits stored), "saved" (the previous references kept),
	// "idmap", then "moved <ref>" after each reference moved; an error
	// stops Forget there, as a crash would.
	step func(name string) error
}

// Verdict is the policy's decision on one snapshot.
type Verdict struct {
	// Snapshot is the snapshot as it was before Forget.
	Snapshot Info
	// Keep says whether it stays; Reasons why ("last 2", "daily 3",
	// "tagged keep-me", "within 7d", "oldest daily", "in the future"),
	// empty for a forgotten snapshot.
	Keep    bool
	Reasons []string
	// NewID is, for a kept snapshot whose chain was rewritten (a snapshot
	// older than it was forgotten), its id from now on. The old id still
	// resolves to it. Zero if the snapshot keeps its id.
	NewID ID
}

// ForgetGroup is one group the policy was applied to: the snapshots of one
// branch (a scope's backups, its safety snapshots, or the imported Kylin
// backup folders).
type ForgetGroup struct {
	// Branch is the branch's name: "system", "project/P", "cube/C",
	// "safety/<scope>" or "imported".
	Branch string
	// Scope is what the group's snapshots hold, Kind why they were taken.
	Scope scope.Scope
	Kind  Kind
	// Snapshots are the decisions, newest first.
	Snapshots []Verdict
}

// ForgetResult is what Forget decided and did.
type ForgetResult struct {
	Policy Policy
	DryRun bool
	// Groups are the groups considered, by branch name.
	Groups []ForgetGroup
	// Kept and Forgotten count the snapshots; Rewritten the kept ones that
	// got a new id.
	Kept, Forgotten, Rewritten int
	// Stamp names this forget (UTC, yyyymmddThhmmssZ): the references it
	// changed keep their previous values under refs/forgotten/<Stamp>/.
	// Empty when nothing was forgotten, and for a dry run.
	Stamp string
	// Undo is the command that puts the references back (until the next
	// prune); empty with Stamp.
	Undo string
}

// forgetGroup is a group with what Forget needs to rewrite it.
type forgetGroup struct {
	ForgetGroup
	ref  string     // refs/heads/...
	tip  objects.ID // the branch's value
	base objects.ID // the commit below the oldest snapshot (a commit made with plain git), or zero
}

// Forget applies the policy to each group of snapshots and forgets the
// snapshots it does not keep. Every branch is a group: a scope's backups
// (system, each project, each cube), the safety snapshots of each scope,
// and the imported Kylin backup folders; so a burst of project backups
// never evicts the last system backup. Within a group the policy reads the
// time each snapshot was recorded into the repository (Info.Recorded; for
// an imported folder, when it was imported, never the time in its name),
// in Log's order: a snapshot counts as recorded no earlier than its parent.
//
// Forgetting only removes references. Snapshots are chained by first
// parent, so the kept snapshots above a forgotten one are written again
// (same tree, times, message and trailers; as parent the previous kept
// one), branches and tags move to the new commits, and the previous value
// of every reference moved is kept under refs/forgotten/<stamp>/, where
// UndoForget finds it until the next prune. The old ids of kept snapshots
// keep resolving (FORMAT.md, "Forgotten snapshots"). New commits are stored
// before any reference is written: a crash leaves each branch and tag at
// its old or its new value.
//
// Forget fails with ErrEmptyPolicy if the policy has no rule.
func (r *Repository) Forget(ctx context.Context, opt ForgetOptions) (*ForgetResult, error) {
	if opt.Policy.Empty() {
		return nil, fmt.Errorf("%w: give at least one --keep-* rule (a policy without rules would forget every snapshot without a tag)", ErrEmptyPolicy)
	}
	if opt.Now.IsZero() {
		opt.Now = r.opt.Now()
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !opt.DryRun {
		if err := r.finishForgets(); err != nil {
			return nil, err
		}
	}
	tags, err := r.tagMap()
	if err != nil {
		return nil, err
	}
	groups, err := r.forgetGroups(ctx, opt, tags)
	if err != nil {
		return nil, err
	}
	res := &ForgetResult{Policy: opt.Policy, DryRun: opt.DryRun}
	for i := range groups {
		decide(&groups[i], opt)
		for _, v := range groups[i].Snapshots {
			if v.Keep {
				res.Kept++
			} else {
				res.Forgotten++
			}
		}
	}
	plan, err := r.planRewrite(groups, tags)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		res.Groups = append(res.Groups, g.ForgetGroup)
	}
	res.Rewritten = len(plan.commits)
	if opt.DryRun || res.Forgotten == 0 {
		return res, nil
	}
	if err := r.applyRewrite(ctx, plan, opt); err != nil {
		return nil, err
	}
	res.Stamp = plan.stamp
	res.Undo = "metastore forget --undo " + plan.stamp
	return res, nil
}

// forgetGroups reads the snapshots of every branch (of opt's scope).
func (r *Repository) forgetGroups(ctx context.Context, opt ForgetOptions, tags map[objects.ID][]string) ([]forgetGroup, error) {
	refs, err := r.objs.Refs(refHeads)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var out []forgetGroup
	for _, ref := range refs {
		g := forgetGroup{ref: ref.Name, tip: ref.ID}
		g.Branch = strings.TrimPrefix(ref.Name, refHeads)
		switch {
		case g.Branch == importRef:
			g.Scope, g.Kind = scope.SystemScope(), KindImport
		case strings.HasPrefix(g.Branch, safetyRef):
			g.Kind = KindSafety
			g.Scope, err = scope.Parse(strings.TrimPrefix(g.Branch, safetyRef))
		default:
			g.Kind = KindBackup
			g.Scope, err = scope.Parse(g.Branch)
		}
		if err != nil {
			// A branch this tool does not write: none of its business.
			continue
		}
		if opt.HasScope && g.Scope != opt.Scope {
			continue
		}
		seen := map[objects.ID]bool{}
		for id := ref.ID; !id.IsZero(); {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if seen[id] {
				return nil, fmt.Errorf("%w: %s: the chain of snapshots loops at %s", ErrCorrupt, ref.Name, ID(id).Short())
			}
			seen[id] = true
			in, err := r.info(id, tags)
			if errors.Is(err, ErrNotMetastoreRepository) {
				g.base = id // made with plain git: the chain ends here
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w (run metastore verify; nothing was forgotten)", ref.Name, err)
			}
			g.Snapshots = append(g.Snapshots, Verdict{Snapshot: in})
			id = in.Parent.object()
		}
		if len(g.Snapshots) > 0 {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Branch < out[j].Branch })
	return out, nil
}

// decide applies the policy to a group, newest first. A snapshot counts as
// recorded no earlier than its parent (as Log orders them).
func decide(g *forgetGroup, opt ForgetOptions) {
	n := len(g.Snapshots)
	items := make([]policyItem, n)
	var floor time.Time
	for i := n - 1; i >= 0; i-- {
		in := g.Snapshots[i].Snapshot
		t := in.Recorded
		if t.Before(floor) {
			t = floor.In(t.Location())
		}
		floor = t
		items[i] = policyItem{Time: t, Tags: in.Tags}
	}
	for i, d := range opt.Policy.apply(items, opt.Now) {
		g.Snapshots[i].Keep, g.Snapshots[i].Reasons = d.Keep, d.Reasons
	}
}
