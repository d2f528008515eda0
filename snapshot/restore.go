package snapshot

import (
	"context"
	"fmt"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// Action is what a restore does, or would do, to one resource.
type Action string

// The actions of a restore plan.
const (
	Added     Action = "added"     // the target lacks it: written
	Changed   Action = "changed"   // bytes or timestamp differ: overwritten
	Deleted   Action = "deleted"   // in scope in the target, absent from the snapshot (AfterTruncate)
	Unchanged Action = "unchanged" // identical bytes and timestamp
	Kept      Action = "kept"      // would be deleted, but is kept (Note says why)
)

// PlanItem is one resource of a restore plan.
type PlanItem struct {
	Path   string
	Action Action
	// OldSize and OldTimestamp describe the target's resource (zero when
	// added); NewSize and NewTimestamp the snapshot's (zero when deleted).
	OldSize, NewSize           int64
	OldTimestamp, NewTimestamp int64
	// Note explains kept resources and merged project files.
	Note string

	from  objects.ID // blob to write
	first bool       // a delete that frees the path of a write: done before the writes
	data  *[]byte    // content to write instead of a blob (merged project file)
}

// RestoreOptions say what a restore does.
type RestoreOptions struct {
	// Scope is what to restore: the whole system, project P, or cube C.
	Scope scope.Scope
	// Project is, for a cube scope, the target project that receives the
	// cube (restore-cube PROJECT).
	Project string
	// AfterTruncate also deletes in-scope resources of the target that the
	// snapshot does not have, for an exact point-in-time rollback. Without
	// it nothing is deleted.
	AfterTruncate bool
	// DryRun computes the plan and writes nothing, neither to the target nor
	// to the repository.
	DryRun bool
	// AllowForeign restores a snapshot taken from a metastore with another
	// /UUID.
	AllowForeign bool
	// Target describes the target metastore (password masked);
	// metastore.Describe(target) if empty.
	Target string
	// Progress receives progress; nil for none.
	Progress Progress
}

// RestoreResult is what a restore did (or, in a dry run, would do).
type RestoreResult struct {
	// Snapshot is the snapshot restored.
	Snapshot Info
	// Scope is the restored scope, Project the target project of a cube.
	Scope   scope.Scope
	Project string
	// Plan lists every in-scope resource, sorted by path.
	Plan []PlanItem
	// Counts counts the plan's actions.
	Counts map[Action]int
	// Safety is the snapshot of the target's in-scope state taken before
	// writing, to undo the restore; nil when nothing was written.
	Safety *Info
	// Applied is true when the target was written.
	Applied bool
	// Warnings are things the user should know (a foreign UUID accepted,
	// unreadable resources met by the scope rules).
	Warnings []string
}

// Restore writes the resources of snap that opt.Scope holds into target. It
// first records the target's current in-scope state as a safety snapshot,
// never overwrites the target's /UUID, and refuses a snapshot of another
// metastore (another /UUID) unless AllowForeign is set or the snapshot was
// imported from a Kylin backup folder (whose /UUID Kylin makes up).
//
// It refuses, before writing anything (and in a dry run too): a folder
// target that overlaps the repository (ErrInsideRepository); a resource in
// the way of a write that the plan does not delete, a file where the
// snapshot has a folder or the reverse (ErrConflict); the safety snapshot of
// a cube restore into another project than opt.Project (ErrScopeMismatch).
// A project or cube the snapshot lacks is unknown (scope.ErrUnknownProject,
// scope.ErrUnknownCube). When writing the target fails after the safety
// snapshot was recorded, the error is an *ApplyError naming it, and the
// result is returned too.
func (r *Repository) Restore(ctx context.Context, snap *Snapshot, target metastore.Store, opt RestoreOptions) (*RestoreResult, error) {
	if err := r.checkSeparate(target); err != nil {
		return nil, err
	}
	x, err := r.newRestore(ctx, snap, target, opt)
	if err != nil {
		return nil, err
	}
	// What the target should hold, read before the lock; then, under it,
	// what it holds and the plan.
	if err := x.wanted(ctx); err != nil {
		return nil, err
	}
	done, err := x.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := x.plan(ctx); err != nil {
		return nil, err
	}
	res := x.res
	if x.opt.DryRun || res.Counts[Added]+res.Counts[Changed]+res.Counts[Deleted] == 0 {
		res.Warnings = append(res.Warnings, targetNotices(ctx, target, x.opt.DryRun)...)
		return res, nil
	}
	// The safety snapshot, then the writes.
	safety, err := x.recordSafety()
	if err != nil {
		return nil, err
	}
	res.Safety = &safety
	if err := r.apply(ctx, snap, target, res.Plan, x.prog); err != nil {
		return res, &ApplyError{Target: x.opt.Target, Scope: x.opt.Scope, Project: x.opt.Project, Safety: safety, Err: err}
	}
	res.Applied = true
	res.Warnings = append(res.Warnings, targetNotices(ctx, target, false)...)
	return res, nil
}

// restore is one restore under way: what the target should hold (wanted),
// the target's resources it read (plan), the pack that holds them for the
// safety snapshot, and the result.
type restore struct {
	r      *Repository
	snap   *Snapshot
	target metastore.Store
	opt    RestoreOptions
	prog   Progress
	res    *RestoreResult
	// exact is set when undoing a cube restore: its safety snapshot is put
	// back path by path (project file included), and what that restore
	// added is removed.
	exact  bool
	layout scope.Layout

	all     bool       // the scope is the whole snapshot (desiredPaths)
	want    []PlanItem // what the target should hold, by the path it gets there, sorted (lookupWanted)
	cube    cubeSource
	current []string        // the target's resources in scope (nil: the whole system)
	inScope map[string]bool // current, as a set
	items   []scanned       // the target's resources the restore read, in path order (see held)
	uuid    string          // decoded content of the target's /UUID, if read

	pw     *objects.PackWriter // holds items for the safety snapshot; nil in a dry run
	caches *fileCaches
}

func (r *Repository) newRestore(ctx context.Context, snap *Snapshot, target metastore.Store, opt RestoreOptions) (*restore, error) {
	if opt.Target == "" {
		opt.Target = metastore.Describe(target)
	}
	x := &restore{
		r: r, snap: snap, target: target, opt: opt, prog: progressOrNone(opt.Progress),
		res:    &RestoreResult{Snapshot: snap.Info, Scope: opt.Scope, Project: opt.Project, Counts: map[Action]int{}},
		exact:  snap.Info.Kind == KindSafety && snap.Info.Scope.Kind == scope.Cube && opt.Scope.Kind == scope.Cube,
		layout: scope.Layout4,
	}
	if opt.Scope.Kind == scope.Cube {
		var err error
		if x.layout, err = scope.DetectLayout(ctx, snap); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// begin takes the lock and starts the pack of the safety snapshot (not in a
// dry run), and starts reading the target's change cache; done ends them.
func (x *restore) begin(ctx context.Context) (done func(), err error) {
	unlock := func() {}
	if !x.opt.DryRun {
		if unlock, err = x.r.lock(ctx); err != nil {
			return nil, err
		}
		if x.pw, err = x.r.newPack(); err != nil {
			unlock()
			return nil, err
		}
	}
	x.caches = x.r.openCaches(x.opt.Target, x.opt.Scope.Kind == scope.System, false)
	return func() {
		x.caches.close()
		if x.pw != nil {
			x.pw.Abort()
		}
		unlock()
	}, nil
}

// ApplyError is the error of a Restore that failed while writing the target,
// after it recorded the target's previous state as the safety snapshot
// Safety: the target may hold part of the restore. Restoring Safety at the
// same scope (for a cube, into the same project) with AfterTruncate puts the
// target back as it was.
type ApplyError struct {
	// Target describes the target metastore.
	Target string
	// Scope and Project are those of the failed restore.
	Scope   scope.Scope
	Project string
	// Safety is the safety snapshot of the target's previous state.
	Safety Info
	// Err is what failed.
	Err error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("restore into %s: %v (its previous state is safety snapshot %s)", e.Target, e.Err, e.Safety.ID.Short())
}

func (e *ApplyError) Unwrap() error { return e.Err }
