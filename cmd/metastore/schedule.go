package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// Scheduled backups (serve --schedule): the flags, and the one place a
// scheduled run is composed of steps.

// scheduleFlags are serve's flags for scheduled backups.
func scheduleFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "schedule", Usage: "take backups by schedule: 5 cron fields in the host's local time (\"0 0 * * *\"; \"CRON_TZ=Zone ...\" for another zone), @daily, @hourly or @every DURATION"},
		&cli.StringSliceFlag{Name: "schedule-scope", Usage: "also back up this scope at every scheduled run: project/P or cube/C (repeatable; the system is always backed up)"},
		&cli.StringFlag{Name: "push", Usage: "after each scheduled backup, push to this remote (a name from 'metastore remote list' or a URL)"},
	}, scheduleKeepFlags()...)
}

// scheduleOptions are what the scheduling flags asked for.
type scheduleOptions struct {
	spec   string
	scopes []string
	keep   *api.ForgetRequest // nil: no retention
	push   string
	// local is the zone cron fields are read in; time.Local if nil.
	local *time.Location
	// clock is the scheduler's clock; the real one if nil (tests inject
	// a fake).
	clock clockwork.Clock
	// onRun, if not nil, is told of each run's end (tests).
	onRun func(schedule.Run)
}

// scheduleOptionsOf reads the scheduling flags. The flags that only mean
// something with a schedule are refused without one.
func scheduleOptionsOf(c *cli.Context) (scheduleOptions, error) {
	o := scheduleOptions{spec: c.String("schedule"), scopes: c.StringSlice("schedule-scope"), push: c.String("push")}
	keep, err := schedulePolicyOf(c)
	if err != nil {
		return o, err
	}
	o.keep = keep
	if o.spec == "" {
		for _, name := range append([]string{"schedule-scope", "push"}, keepNames()...) {
			if c.IsSet(name) {
				return o, usagef("--%s applies to scheduled backups: give --schedule SPEC too (e.g. --schedule @daily)", name)
			}
		}
	}
	return o, nil
}

// scheduledScopes are the scopes a run backs up: the system, then the
// --schedule-scope ones in the order given (each once).
func scheduledScopes(names []string) ([]scope.Scope, error) {
	out := []scope.Scope{scope.SystemScope()}
	seen := map[string]bool{"system": true}
	for _, n := range names {
		s, err := scope.Parse(n)
		if err != nil {
			return nil, usagef("--schedule-scope: %v", err)
		}
		if !seen[s.String()] {
			seen[s.String()] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// newScheduler builds serve's scheduler on the console's Env (the same
// repository, metastore and repository lock as the console's requests).
// A bad SPEC or scope is a usage error. Its structured log goes to log,
// every error message cleaned by redact.
func (e *env) newScheduler(o scheduleOptions, ae *api.Env, log io.Writer, redact func(string) string) (*schedule.Scheduler, error) {
	spec, err := schedule.Parse(o.spec, o.local)
	if err != nil {
		return nil, usagef("--schedule %q: %v; %s", o.spec, strings.TrimPrefix(err.Error(), schedule.ErrSpec.Error()+": "), schedule.SpecHelp)
	}
	steps, err := e.scheduledSteps(o, spec, ae)
	if err != nil {
		return nil, err
	}
	return schedule.New(schedule.Config{Spec: spec, Steps: steps, Clock: o.clock, Log: log, Redact: redact, OnRun: o.onRun}), nil
}

// scheduledSteps composes a scheduled run: a backup of each scope (none
// when nothing changed), then retention (forget, and prune at most once
// a day), then the push.
func (e *env) scheduledSteps(o scheduleOptions, spec schedule.Spec, ae *api.Env) ([]schedule.Step, error) {
	scopes, err := scheduledScopes(o.scopes)
	if err != nil {
		return nil, err
	}
	var steps []schedule.Step
	for _, s := range scopes {
		steps = append(steps, schedule.Backup(s.String(), func(ctx context.Context) (string, bool, error) {
			b, err := ae.Backup(ctx, api.BackupRequest{Scope: s, SkipIfUnchanged: true,
				Message: fmt.Sprintf("scheduled backup of %s (%s)", s, spec)}, nil)
			if err != nil {
				return "", false, err
			}
			return b.Result.Snapshot.ID.Short(), b.Result.Recorded, nil
		}))
	}
	steps = append(steps, e.retentionSteps(o.keep, ae)...)
	if o.push != "" {
		steps = append(steps, e.pushStep(o.push, ae))
	}
	return steps, nil
}

// pushStep pushes the repository to remote, as metastore push REMOTE does.
func (e *env) pushStep(remote string, ae *api.Env) schedule.Step {
	return schedule.Push(remote, func(ctx context.Context) (string, error) {
		opt, err := e.remoteOptions()
		if err != nil {
			return "", err
		}
		opt.Progress = nil // no progress bar among the console's log lines
		repo, _, err := ae.OpenRepo("", false)
		if err != nil {
			return "", err
		}
		defer repo.Close()
		res, err := repo.Push(ctx, snapshot.PushOptions{RemoteOptions: opt, Remote: remote})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s updated, %d up to date, %s sent",
			plural(len(res.Updated), "reference", "references"), res.UpToDate, api.HumanBytes(res.Bytes)), nil
	})
}

// scheduleKeepFlags are serve's retention flags: forget's --keep-* rules,
// applied after each scheduled backup.
func scheduleKeepFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "keep-last", Usage: "after each scheduled backup, forget all but the last N snapshots of each scope (and those the other --keep-* rules keep), as forget does"},
		&cli.IntFlag{Name: "keep-hourly", Usage: "keep the newest snapshot of each of the last N hours that have one"},
		&cli.IntFlag{Name: "keep-daily", Usage: "keep the newest snapshot of each of the last N days that have one"},
		&cli.IntFlag{Name: "keep-weekly", Usage: "keep the newest snapshot of each of the last N ISO weeks that have one"},
		&cli.IntFlag{Name: "keep-monthly", Usage: "keep the newest snapshot of each of the last N months that have one"},
		&cli.IntFlag{Name: "keep-yearly", Usage: "keep the newest snapshot of each of the last N years that have one"},
		&cli.StringFlag{Name: "keep-within", Usage: "keep every snapshot recorded within this long before the newest of its scope (7d, 2w, 36h)"},
		&cli.StringSliceFlag{Name: "keep-tag", Usage: "keep every snapshot with this tag (repeatable)"},
	}
}

// schedulePolicyOf reads the retention flags as forget reads them (the
// same checks and messages); nil when none is given.
func schedulePolicyOf(c *cli.Context) (*api.ForgetRequest, error) {
	given := false
	for _, name := range keepNames() {
		given = given || c.IsSet(name)
	}
	if !given {
		return nil, nil
	}
	req := keepRequest(c)
	if _, err := req.Policy(); err != nil {
		return nil, err
	}
	return &req, nil
}

// schedulePruneEvery is how often scheduled runs prune at most.
const schedulePruneEvery = 24 * time.Hour

// retentionSteps are the forget and prune steps of a scheduled run under
// the policy of req (none without one): forget as metastore forget does,
// then, when it forgot something, prune at most once a day.
func (e *env) retentionSteps(req *api.ForgetRequest, ae *api.Env) []schedule.Step {
	if req == nil {
		return nil
	}
	forget := schedule.Forget(func(ctx context.Context) (int, string, error) {
		// The time is the repository's clock, which recorded the snapshots.
		f, err := ae.Forget(ctx, *req)
		if err != nil {
			return 0, "", err
		}
		res := f.Result
		detail := fmt.Sprintf("%s: kept %d, forgot %d", res.Policy, res.Kept, res.Forgotten)
		if f.Undo != "" {
			detail += "; undo until the next prune: " + f.Undo
		}
		return res.Forgotten, detail, nil
	})
	prune := schedule.Prune(schedulePruneEvery, func(ctx context.Context) (string, error) {
		repo, _, err := ae.OpenRepo("", false)
		if err != nil {
			return "", err
		}
		defer repo.Close()
		res, err := repo.Prune(ctx, snapshot.PruneOptions{})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("removed %s; %s -> %s", plural(res.ObjectsRemoved, "object", "objects"),
			api.HumanBytes(res.BytesBefore), api.HumanBytes(res.BytesAfter)), nil
	})
	return []schedule.Step{forget, prune}
}
