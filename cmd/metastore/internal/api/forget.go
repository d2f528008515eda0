package api

import (
	"context"
	"strings"

	"github.com/kylin-tools/metastore/snapshot"
)

// ForgetRequest is a retention policy to apply (forget), or a forget to
// undo (Undo).
type ForgetRequest struct {
	KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly int
	// KeepWithin is a duration snapshot.ParseWithin reads ("7d"); "" for
	// none.
	KeepWithin string
	KeepTags   []string
	// Scope limits the policy to one scope's groups ("" for every group).
	Scope  string
	DryRun bool
}

// Policy returns the request's policy, checked: a usage error for a bad
// duration, a negative count or an empty policy.
func (req ForgetRequest) Policy() (snapshot.Policy, error) {
	p := snapshot.Policy{Last: req.KeepLast, Hourly: req.KeepHourly, Daily: req.KeepDaily, Weekly: req.KeepWeekly,
		Monthly: req.KeepMonthly, Yearly: req.KeepYearly}
	for _, n := range []int{p.Last, p.Hourly, p.Daily, p.Weekly, p.Monthly, p.Yearly} {
		if n < 0 {
			return p, Usagef("--keep-* counts cannot be negative")
		}
	}
	if req.KeepWithin != "" {
		d, err := snapshot.ParseWithin(req.KeepWithin)
		if err != nil {
			return p, Usagef("--keep-within: %v", err)
		}
		p.Within = d
	}
	for _, t := range req.KeepTags {
		if strings.TrimSpace(t) == "" {
			return p, Usagef("--keep-tag: empty tag name")
		}
		p.Tags = append(p.Tags, t)
	}
	if p.Empty() {
		return p, Usagef("forget needs a policy: at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within, --keep-tag (a policy without rules would forget every snapshot without a tag)")
	}
	return p, nil
}

// Forget is a forget done (or, for a dry run, decided).
type Forget struct {
	Result *snapshot.ForgetResult
	// Undo is the command that undoes it, with the global flags that reach
	// the same repository; "" if nothing was forgotten.
	Undo string
}

// Forget applies a retention policy (snapshot.Repository.Forget).
func (e *Env) Forget(ctx context.Context, req ForgetRequest) (*Forget, error) {
	p, err := req.Policy()
	if err != nil {
		return nil, err
	}
	opt := snapshot.ForgetOptions{Policy: p, DryRun: req.DryRun}
	if opt.Scope, opt.HasScope, err = parseScope(req.Scope); err != nil {
		return nil, err
	}
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	res, err := repo.Forget(ctx, opt)
	if err != nil {
		return nil, err
	}
	f := &Forget{Result: res}
	if res.Undo != "" {
		f.Undo = e.command(repo, res.Undo)
	}
	return f, nil
}

// UndoForget puts back what a forget changed (stamp; "" for the latest).
func (e *Env) UndoForget(ctx context.Context, stamp string) (*snapshot.UndoResult, error) {
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return repo.UndoForget(ctx, stamp)
}

// ForgetJSON is the document of a forget (forget --json).
type ForgetJSON struct {
	DryRun    bool              `json:"dry_run"`
	Policy    string            `json:"policy"`
	Kept      int               `json:"kept"`
	Forgotten int               `json:"forgotten"`
	Rewritten int               `json:"rewritten"`
	Stamp     string            `json:"stamp,omitempty"`
	Undo      string            `json:"undo,omitempty"`
	Groups    []ForgetGroupJSON `json:"groups"`
}

// ForgetGroupJSON is one group: a branch's snapshots, newest first.
type ForgetGroupJSON struct {
	Branch    string        `json:"branch"`
	Scope     string        `json:"scope"`
	Kind      string        `json:"kind"`
	Snapshots []VerdictJSON `json:"snapshots"`
}

// VerdictJSON is the decision on one snapshot.
type VerdictJSON struct {
	Snapshot SnapshotJSON `json:"snapshot"`
	Keep     bool         `json:"keep"`
	Reasons  []string     `json:"reasons"`
	// NewID is the id a kept snapshot has from now on, when the forget
	// wrote it again (its old id still resolves).
	NewID string `json:"new_id,omitempty"`
}

// JSON is the forget's document.
func (f *Forget) JSON() ForgetJSON {
	r := f.Result
	j := ForgetJSON{DryRun: r.DryRun, Policy: r.Policy.String(), Kept: r.Kept, Forgotten: r.Forgotten,
		Rewritten: r.Rewritten, Stamp: r.Stamp, Undo: f.Undo, Groups: []ForgetGroupJSON{}}
	for _, g := range r.Groups {
		gj := ForgetGroupJSON{Branch: g.Branch, Scope: g.Scope.String(), Kind: string(g.Kind), Snapshots: []VerdictJSON{}}
		for _, v := range g.Snapshots {
			vj := VerdictJSON{Snapshot: Snapshot(v.Snapshot), Keep: v.Keep, Reasons: NonNil(v.Reasons)}
			if !v.NewID.IsZero() {
				vj.NewID = v.NewID.String()
			}
			gj.Snapshots = append(gj.Snapshots, vj)
		}
		j.Groups = append(j.Groups, gj)
	}
	return j
}
