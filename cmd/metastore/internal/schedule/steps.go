package schedule

import (
	"context"
	"fmt"
	"time"
)

// The steps of a scheduled run. Each is built on a function that does the
// work (a backup, forget, prune or push, wired by the serve command); the
// step decides when there is work, and remembers work a failed run left.

// BackupFunc takes a backup of one scope unless nothing changed since its
// latest snapshot: recorded says whether a snapshot was recorded, id names
// the new snapshot, or the latest one when nothing changed.
type BackupFunc func(ctx context.Context) (id string, recorded bool, err error)

// Backup is the step that backs up one scope (named by scope) at every run;
// it skips when nothing changed.
func Backup(scope string, fn BackupFunc) Step {
	return Step{Name: "backup " + scope, Run: func(ctx context.Context, t *Tick) (Outcome, error) {
		id, recorded, err := fn(ctx)
		if err != nil {
			return Outcome{}, err
		}
		if !recorded {
			return Outcome{Skipped: true, Detail: "unchanged since snapshot " + id}, nil
		}
		t.Recorded++
		return Outcome{Detail: "snapshot " + id}, nil
	}}
}

// owed is work a step must do: set when something new calls for the
// step, cleared when the step has done it. A step that fails keeps it, so
// the next run does the work even if it brings nothing new.
type owed bool

// ForgetFunc applies the retention policy; it returns how many snapshots
// it forgot and a few words on it. It reads the time from the clock that
// records the snapshots (not the tick's: the snapshot this run recorded is
// newer than the tick).
type ForgetFunc func(ctx context.Context) (forgotten int, detail string, err error)

// Forget is the step that applies the retention policy at the first run
// (the policy may be new), then after a run that recorded a snapshot or
// after a run whose forget failed.
func Forget(fn ForgetFunc) Step {
	due := owed(true)
	return Step{Name: "forget", Run: func(ctx context.Context, t *Tick) (Outcome, error) {
		if t.Recorded > 0 {
			due = true
		}
		if !due {
			return Outcome{Skipped: true, Detail: "no new snapshot"}, nil
		}
		n, detail, err := fn(ctx)
		if err != nil {
			return Outcome{}, err
		}
		due = false
		t.Forgotten += n
		return Outcome{Detail: detail}, nil
	}}
}

// PruneFunc removes what no snapshot needs any more.
type PruneFunc func(ctx context.Context) (detail string, err error)

// Prune is the step that prunes once snapshots were forgotten, at most
// once per interval (a day): forgotten snapshots wait for the next prune
// that is due.
func Prune(interval time.Duration, fn PruneFunc) Step {
	var due owed
	var last time.Time
	return Step{Name: "prune", Run: func(ctx context.Context, t *Tick) (Outcome, error) {
		if t.Forgotten > 0 {
			due = true
		}
		if !due {
			return Outcome{Skipped: true, Detail: "nothing forgotten"}, nil
		}
		if !last.IsZero() && t.Time.Sub(last) < interval {
			return Outcome{Skipped: true, Detail: fmt.Sprintf("pruned at %s; the next prune after %s", last.Format(time.DateTime),
				last.Add(interval).Format(time.DateTime))}, nil
		}
		detail, err := fn(ctx)
		if err != nil {
			return Outcome{}, err
		}
		due, last = false, t.Time
		return Outcome{Detail: detail}, nil
	}}
}

// PushFunc copies the repository's snapshots to the remote.
type PushFunc func(ctx context.Context) (detail string, err error)

// Push is the step that pushes to remote at the first run (snapshots an
// earlier serve could not push), then after a run that recorded a snapshot
// or after a run whose push failed.
func Push(remote string, fn PushFunc) Step {
	due := owed(true)
	return Step{Name: "push " + remote, Run: func(ctx context.Context, t *Tick) (Outcome, error) {
		if t.Recorded > 0 {
			due = true
		}
		if !due {
			return Outcome{Skipped: true, Detail: "no new snapshot"}, nil
		}
		detail, err := fn(ctx)
		if err != nil {
			return Outcome{}, err
		}
		due = false
		return Outcome{Detail: detail}, nil
	}}
}
