package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
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
	data  []byte     // content to write instead of a blob (merged project file)
	first bool       // a delete that frees the path of a write: done before the writes
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
	prog := opt.Progress
	if prog == nil {
		prog = noProgress{}
	}
	if opt.Target == "" {
		opt.Target = metastore.Describe(target)
	}
	res := &RestoreResult{Snapshot: snap.Info, Scope: opt.Scope, Project: opt.Project, Counts: map[Action]int{}}

	// Undoing a cube restore: its safety snapshot is put back path by
	// path (project file included), and what that restore added is removed.
	exact := snap.Info.Kind == KindSafety && snap.Info.Scope.Kind == scope.Cube && opt.Scope.Kind == scope.Cube
	layout := scope.Layout4
	var err error
	if opt.Scope.Kind == scope.Cube {
		if layout, err = scope.DetectLayout(ctx, snap); err != nil {
			return nil, err
		}
	}
	want, cube, err := r.desired(ctx, snap, opt, res, exact, layout)
	if err != nil {
		return nil, err
	}
	current, owner, err := r.currentScope(ctx, target, opt, layout, exact, snap)
	if err != nil {
		return nil, err
	}
	if opt.Scope.Kind == scope.Cube && !exact {
		if owner != "" && owner != opt.Project {
			return nil, fmt.Errorf("%w: cube %s already belongs to project %s in %s; restore it into %s, or remove it from %s first (Kylin allows a cube in one project only)",
				ErrConflict, opt.Scope.Name, owner, opt.Target, owner, owner)
		}
		if layout == scope.Layout4 {
			// Add the cube, its model and tables to the target project, as
			// Kylin's CubeMetaIngester does, keeping the rest of the file.
			pf := scope.ProjectFile(layout, opt.Project)
			cur, err := target.Read(ctx, pf)
			if err != nil {
				return nil, fmt.Errorf("read target %s: %w", pf, err)
			}
			merged, changed, err := scope.MergeProject(cur.Data, scope.ProjectAdditions{
				Realization: opt.Scope.Name, RealizationType: "CUBE", Model: cube.model, Tables: cube.tables,
			})
			if err != nil {
				return nil, fmt.Errorf("merge cube %s into %s: %w", opt.Scope.Name, pf, err)
			}
			w := wanted{data: merged, ts: cur.Timestamp, size: int64(len(merged)), note: "unchanged: already lists the cube, its model and tables"}
			if changed {
				w.ts = r.opt.Now().UnixMilli()
				w.note = "merged: adds cube " + opt.Scope.Name + ", its model and tables"
			}
			want[pf] = w
		}
	}

	// Resolve the target's in-scope state to object ids (and, unless this is
	// a dry run, store it for the safety snapshot) while holding the lock.
	var (
		pw     *objects.PackWriter
		write  tree.WriteFunc = hashOnly
		unlock                = func() {}
	)
	if !opt.DryRun {
		if unlock, err = r.lock(ctx); err != nil {
			return nil, err
		}
		defer unlock()
		if pw, err = r.newPack(); err != nil {
			return nil, err
		}
		defer pw.Abort()
		write = packObjectWriter(pw)
	}
	cachePath := r.cachePath(opt.Target)
	cl := r.loadCacheAsync(cachePath)
	defer cl.wait()
	// Scan what is in scope in the target now, and whatever else the restore
	// would overwrite (a resource the target's broken links hide from its
	// scope is still there).
	var paths []string
	inScope := map[string]bool{}
	if opt.Scope.Kind != scope.System {
		for _, p := range current {
			inScope[p] = true
		}
		paths = append(paths, current...)
		for p := range want {
			if !inScope[p] {
				if _, err := target.Read(ctx, p); err == nil {
					paths = append(paths, p)
				}
			}
		}
		sort.Strings(paths)
		paths = dedupe(paths)
	}
	items, _, err := r.scan(ctx, target, paths, write, cl, prog)
	if err != nil {
		return nil, fmt.Errorf("read target: %w", err)
	}
	cache := cl.wait()
	have := make(map[string]*scanned, len(items))
	for i := range items {
		have[items[i].path] = &items[i]
	}

	// The /UUID rule.
	targetUUID := ""
	if u, ok := have["/UUID"]; ok {
		targetUUID = u.uuid
		if targetUUID == "" {
			if rr, err := target.Read(ctx, "/UUID"); err == nil {
				targetUUID = uuidOf(rr.Data)
			}
		}
	}
	snapUUID := snap.Info.UUID
	if _, ok := have["/UUID"]; ok {
		delete(want, "/UUID")
		if snapUUID != "" && targetUUID != "" && snapUUID != targetUUID {
			switch {
			case snap.Info.Kind == KindImport:
				res.Warnings = append(res.Warnings, fmt.Sprintf("the snapshot's /UUID %s differs from the target's %s, as expected for a Kylin backup folder (Kylin writes a new /UUID into each); the target keeps its own", snapUUID, targetUUID))
			case opt.AllowForeign:
				res.Warnings = append(res.Warnings, fmt.Sprintf("restoring a snapshot of metastore %s into metastore %s (--allow-foreign); the target keeps its /UUID", snapUUID, targetUUID))
			default:
				return nil, fmt.Errorf("%w: snapshot %s was taken from metastore %s, the target is metastore %s; pass --allow-foreign to move metadata between environments", ErrForeign, snap.Info.ID.Short(), snapUUID, targetUUID)
			}
		}
	}

	// The plan.
	for p, w := range want {
		it := PlanItem{Path: p, NewSize: w.size, NewTimestamp: w.ts, from: w.id, data: w.data, Note: w.note}
		if old, ok := have[p]; ok {
			it.OldSize, it.OldTimestamp = old.size, old.ts
			if w.data == nil && old.id == w.id && old.ts == w.ts {
				it.Action = Unchanged
			} else if w.data != nil && old.id == objects.HashObject(objects.KindBlob, w.data) {
				it.Action = Unchanged
				it.NewTimestamp = old.ts
			} else {
				it.Action = Changed
			}
		} else {
			it.Action = Added
		}
		res.Plan = append(res.Plan, it)
	}
	if opt.AfterTruncate {
		var protected map[string]string
		if !exact {
			if protected, err = r.protected(ctx, target, opt); err != nil {
				return nil, err
			}
		}
		added := map[string]bool{}
		for _, p := range snap.Info.RestoreAdded {
			added[p] = true
		}
		for _, it := range items {
			if _, ok := want[it.path]; ok || it.path == "/UUID" {
				continue
			}
			if opt.Scope.Kind != scope.System && !inScope[it.path] {
				continue
			}
			if exact && !added[it.path] {
				continue
			}
			pi := PlanItem{Path: it.path, Action: Deleted, OldSize: it.size, OldTimestamp: it.ts}
			if why, ok := protected[it.path]; ok {
				pi.Action, pi.Note = Kept, why
			} else if opt.Scope.Kind == scope.Cube && !exact && scope.SharedByNature(it.path) {
				pi.Action, pi.Note = Kept, "models, tables and projects are never deleted by a cube restore"
			}
			res.Plan = append(res.Plan, pi)
		}
	}
	sort.Slice(res.Plan, func(i, j int) bool { return res.Plan[i].Path < res.Plan[j].Path })
	restored := func(p string) bool { return opt.Scope.Kind == scope.System || inScope[p] }
	if err := r.inTheWay(ctx, target, res, have, items, restored, opt); err != nil {
		return nil, err
	}
	changes := 0
	for _, it := range res.Plan {
		res.Counts[it.Action]++
		if it.Action == Added || it.Action == Changed || it.Action == Deleted {
			changes++
		}
	}
	if opt.DryRun || changes == 0 {
		res.Warnings = append(res.Warnings, targetNotices(ctx, target, opt.DryRun)...)
		return res, nil
	}

	// The safety snapshot, then the writes.
	safetyOpt := BackupOptions{
		Scope: opt.Scope, Source: opt.Target, kind: KindSafety, restoreOf: snap.Info.ID,
		Message: fmt.Sprintf("before restoring %s of snapshot %s", opt.Scope, snap.Info.ID.Short()),
	}
	if opt.Scope.Kind == scope.Cube {
		// So that restoring this safety snapshot can remove what this
		// restore adds.
		for _, it := range res.Plan {
			if it.Action == Added {
				safetyOpt.restoreAdded = append(safetyOpt.restoreAdded, it.Path)
			}
		}
	}
	rec, err := r.record(pw, items, safetyOpt)
	if err != nil {
		return nil, err
	}
	if _, err := r.publish(pw, rec, nil); err != nil {
		return nil, fmt.Errorf("record safety snapshot: %w", err)
	}
	r.updateCache(cachePath, cache, items, opt.Scope.Kind == scope.System, rec.commit)
	safety, err := r.info(rec.commit, nil)
	if err != nil {
		return nil, err
	}
	res.Safety = &safety
	if err := r.apply(ctx, snap, target, res.Plan, prog); err != nil {
		return res, &ApplyError{Target: opt.Target, Scope: opt.Scope, Project: opt.Project, Safety: safety, Err: err}
	}
	res.Applied = true
	res.Warnings = append(res.Warnings, targetNotices(ctx, target, false)...)
	return res, nil
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

// inTheWay finds the target's resources that stand in the way of a write of
// the plan: a file where the snapshot has a folder (the target's /a when
// /a/b is written) or resources inside a folder where the snapshot has a
// file (the target's /a/b when /a is written), as when a resource became a
// folder, or the reverse, since the snapshot. A folder metastore cannot hold
// both, and no snapshot can record both. The plan's deletes of such
// resources are marked to run before its writes; a resource in the way that
// the plan does not delete refuses a restore into a folder with ErrConflict,
// before anything is written, and is a warning for other targets. have and
// items are the target's resources the restore scanned (items in path
// order), restored tells those in the restored scope; outside the system
// scope a folder target is also asked about the rest.
func (r *Repository) inTheWay(ctx context.Context, target metastore.Store, res *RestoreResult, have map[string]*scanned, items []scanned, restored func(string) bool, opt RestoreOptions) error {
	_, local := target.(localFolder)
	probe := local && opt.Scope.Kind != scope.System
	planned := make(map[string]int, len(res.Plan))
	for i, it := range res.Plan {
		planned[it.Path] = i
	}
	block := func(w, b string) error {
		i, ok := planned[b]
		if ok && res.Plan[i].Action == Deleted {
			res.Plan[i].first = true
			return nil
		}
		shape := "a file where the snapshot has a folder"
		if strings.HasPrefix(b, w+"/") {
			shape = "inside a folder where the snapshot has a file"
		}
		if !local {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: the target keeps %s (%s); a key that is both a resource and a folder cannot be backed up", w, b, shape))
			return nil
		}
		why := "it is outside the restored scope; remove it first"
		switch {
		case ok && res.Plan[i].Action == Kept:
			why = "kept: " + res.Plan[i].Note
		case !opt.AfterTruncate && restored(b):
			why = "restore with --after-truncate to delete it, or remove it first"
		}
		return fmt.Errorf("%w: cannot write %s: the target has %s (%s), which this restore would not delete (%s)", ErrConflict, w, b, shape, why)
	}
	exists := map[string]bool{}
	fileAt := func(p string) (bool, error) {
		if _, ok := have[p]; ok {
			return true, nil
		}
		if !probe {
			return false, nil
		}
		if e, ok := exists[p]; ok {
			return e, nil
		}
		var e bool
		var err error
		if ex, ok := target.(metastore.Exister); ok {
			e, err = ex.Exists(ctx, p)
		} else if _, err = target.Read(ctx, p); err == nil {
			e = true
		} else if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return false, fmt.Errorf("read target: %w", err)
		}
		exists[p] = e
		return e, nil
	}
	for _, it := range res.Plan {
		if it.Action != Added && it.Action != Changed {
			continue
		}
		for i := 1; i < len(it.Path); i++ {
			if it.Path[i] != '/' {
				continue
			}
			found, err := fileAt(it.Path[:i])
			if err != nil {
				return err
			}
			if found {
				if err := block(it.Path, it.Path[:i]); err != nil {
					return err
				}
			}
		}
		below := it.Path + "/"
		k := sort.Search(len(items), func(k int) bool { return items[k].path >= below })
		for ; k < len(items) && strings.HasPrefix(items[k].path, below); k++ {
			if err := block(it.Path, items[k].path); err != nil {
				return err
			}
		}
		if probe && it.Action == Added {
			err := target.List(ctx, below, func(p string) error {
				if _, ok := have[p]; ok {
					return nil
				}
				return block(it.Path, p)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// wanted is a resource the restore should leave in the target.
type wanted struct {
	id   objects.ID
	ts   int64
	size int64
	data []byte // set for a merged project file
	note string
}

// cubeSource describes the cube a cube restore takes from a snapshot.
type cubeSource struct {
	project string // the project that listed it in the snapshot
	model   string
	tables  []string
}

// desired computes the resources of snap in the requested scope, keyed by
// the path they get in the target, and for a cube where it comes from.
func (r *Repository) desired(ctx context.Context, snap *Snapshot, opt RestoreOptions, res *RestoreResult, exact bool, layout scope.Layout) (map[string]wanted, cubeSource, error) {
	var cube cubeSource
	in := snap.Info
	mismatch := func(hint string) error {
		return fmt.Errorf("%w: snapshot %s holds %s; %s", ErrScopeMismatch, in.ID.Short(), in.Scope, hint)
	}
	var paths []string
	all := func() error {
		return snap.List(ctx, "/", func(p string) error { paths = append(paths, p); return nil })
	}
	switch opt.Scope.Kind {
	case scope.System:
		if in.Scope.Kind != scope.System {
			return nil, cube, mismatch(fmt.Sprintf("restore it with restore-%s", in.Scope.Kind))
		}
		if err := all(); err != nil {
			return nil, cube, err
		}
	case scope.Project:
		switch {
		case in.Scope == opt.Scope:
			if err := all(); err != nil {
				return nil, cube, err
			}
		case in.Scope.Kind == scope.System:
			sr, err := scope.Resolve(ctx, snap, opt.Scope, scope.Options{})
			if errors.Is(err, scope.ErrUnknownProject) {
				// As "latest" says when no snapshot holds the project.
				return nil, cube, fmt.Errorf("snapshot %s: %w", in.ID.Short(), err)
			}
			if err != nil {
				return nil, cube, err
			}
			paths = sr.Paths
			res.Warnings = append(res.Warnings, warnings(sr.Warnings)...)
		default:
			return nil, cube, mismatch("a project restore needs a snapshot of that project or of the whole system")
		}
	case scope.Cube:
		if opt.Project == "" {
			return nil, cube, errors.New("restore-cube needs the target project")
		}
		if exact {
			if in.Scope != opt.Scope {
				return nil, cube, mismatch("it is the safety snapshot of another cube")
			}
			// It undoes a restore of the cube into one project, whose file
			// it holds: put back into another project, it would overwrite
			// that project's file and restore nothing into this one.
			if ok, err := snap.Exists(ctx, scope.ProjectFile(layout, opt.Project)); err != nil {
				return nil, cube, err
			} else if !ok {
				names, _ := scope.Projects(ctx, snap)
				if len(names) == 1 {
					return nil, cube, mismatch(fmt.Sprintf("it is the safety snapshot of a restore of the cube into project %s, not %s: undo that restore with restore-cube %s %s --after-truncate",
						names[0], opt.Project, names[0], in.ID.Short()))
				}
				return nil, cube, mismatch(fmt.Sprintf("it is the safety snapshot of a restore of the cube into another project than %s", opt.Project))
			}
			if err := all(); err != nil {
				return nil, cube, err
			}
			break
		}
		if in.Scope.Kind == scope.Cube && in.Scope != opt.Scope {
			return nil, cube, mismatch(fmt.Sprintf("restore it with --cube %s, or take %s from a system or project snapshot", in.Scope.Name, opt.Scope.Name))
		}
		if in.Scope == opt.Scope {
			if err := all(); err != nil {
				return nil, cube, err
			}
			// Which project the cube came from (to rename --PROJECT
			// tables), its model and tables (to merge into the project).
			sr, err := scope.Resolve(ctx, snap, opt.Scope, scope.Options{})
			if err != nil {
				return nil, cube, err
			}
			cube = cubeSource{project: sr.Project, model: sr.Model, tables: sr.Tables}
		} else {
			sr, err := scope.Resolve(ctx, snap, opt.Scope, scope.Options{})
			if errors.Is(err, scope.ErrUnknownCube) {
				// As "latest" says when no snapshot holds the cube.
				return nil, cube, fmt.Errorf("snapshot %s: %w", in.ID.Short(), err)
			}
			if err != nil {
				return nil, cube, err
			}
			paths = sr.Paths
			cube = cubeSource{project: sr.Project, model: sr.Model, tables: sr.Tables}
			res.Warnings = append(res.Warnings, warnings(sr.Warnings)...)
		}
	}
	want := make(map[string]wanted, len(paths))
	for _, p := range paths {
		if opt.Scope.Kind == scope.Cube && !exact && scope.IsProjectFile(p) {
			continue // merged below, never replaced
		}
		id, ts, err := snap.lookup(p)
		if err != nil {
			return nil, cube, err
		}
		size, err := r.objs.Size(id)
		if err != nil {
			return nil, cube, fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, in.ID.Short(), p, err)
		}
		dst := p
		if opt.Scope.Kind == scope.Cube && !exact && cube.project != "" && cube.project != opt.Project {
			dst = scope.Retarget(layout, p, cube.project, opt.Project)
		}
		want[dst] = wanted{id: id, ts: ts, size: size}
	}
	return want, cube, nil
}

func warnings(ws []scope.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path+": "+w.Message)
	}
	return out
}

// currentScope lists the target's resources in the requested scope (nil for
// the whole system: the scan lists them itself) and, for a cube, the project
// that lists it in the target now.
func (r *Repository) currentScope(ctx context.Context, target metastore.Store, opt RestoreOptions, layout scope.Layout, exact bool, snap *Snapshot) ([]string, string, error) {
	if opt.Scope.Kind == scope.System {
		return nil, "", nil
	}
	paths := []string{}
	owner := ""
	sr, err := scope.Resolve(ctx, target, opt.Scope, scope.Options{NoSuggestions: true})
	switch {
	case errors.Is(err, scope.ErrUnknownProject), errors.Is(err, scope.ErrUnknownCube):
		// Not in the target yet: only its /UUID matters.
	case err != nil:
		return nil, "", fmt.Errorf("read target: %w", err)
	default:
		paths, owner = sr.Paths, sr.Project
	}
	if exact {
		// Everything the safety snapshot holds, and what the restore it
		// protects against added.
		if err := snap.List(ctx, "/", func(p string) error { paths = append(paths, p); return nil }); err != nil {
			return nil, "", err
		}
		paths = append(paths, snap.Info.RestoreAdded...)
	} else if opt.Scope.Kind == scope.Cube {
		// The cube lands in opt.Project, whose project file is merged.
		pf := scope.ProjectFile(layout, opt.Project)
		if _, err := target.Read(ctx, pf); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", fmt.Errorf("%w: project %q does not exist in %s; create it in Kylin or restore-project it first", scope.ErrUnknownProject, opt.Project, opt.Target)
			}
			return nil, "", err
		}
		paths = append(paths, pf)
	}
	if _, err := target.Read(ctx, "/UUID"); err == nil {
		paths = append(paths, "/UUID")
	}
	sort.Strings(paths)
	return dedupe(paths), owner, nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// protected returns the target's resources that a truncating restore must
// not delete because other projects (or, for a cube, other cubes) of the
// target use them, with the reason.
func (r *Repository) protected(ctx context.Context, target metastore.Store, opt RestoreOptions) (map[string]string, error) {
	out := map[string]string{}
	switch opt.Scope.Kind {
	case scope.System:
		return out, nil
	case scope.Project:
		projects, err := scope.Projects(ctx, target)
		if err != nil {
			return nil, err
		}
		for _, p := range projects {
			if p == opt.Scope.Name {
				continue
			}
			sr, err := scope.Resolve(ctx, target, scope.ProjectScope(p), scope.Options{})
			if err == nil {
				for _, w := range sr.Warnings {
					if scope.IsProjectFile(w.Path) {
						err = errors.New(w.Path + ": " + w.Message)
					}
				}
			}
			if err != nil {
				return nil, fmt.Errorf("%w: cannot tell what project %s of the target uses (%v), so nothing can be deleted safely; fix it, or restore without --after-truncate", ErrConflict, p, err)
			}
			for _, path := range sr.Paths {
				if _, ok := out[path]; !ok {
					out[path] = "also used by project " + p
				}
			}
		}
	case scope.Cube:
		cubes, err := scope.Cubes(ctx, target)
		if err != nil {
			return nil, err
		}
		for _, c := range cubes {
			if c == opt.Scope.Name {
				continue
			}
			sr, err := scope.Resolve(ctx, target, scope.CubeScope(c), scope.Options{WithSegments: true})
			if err != nil {
				return nil, fmt.Errorf("%w: cannot tell what cube %s of the target uses (%v), so nothing can be deleted safely; fix it, or restore without --after-truncate", ErrConflict, c, err)
			}
			for _, path := range sr.Paths {
				if _, ok := out[path]; !ok {
					out[path] = "also used by cube " + c
				}
			}
		}
		for _, l := range []scope.Layout{scope.Layout4, scope.Layout5} {
			out[scope.ProjectFile(l, opt.Project)] = "project files are merged, never deleted"
		}
	}
	return out, nil
}

// apply carries out a plan: the deletes that free the path of a write
// (see inTheWay), then the writes (project files last, so Kylin never sees
// a project naming a cube that is not there yet), then the other deletes.
// A transactional target gets everything in one transaction.
func (r *Repository) apply(ctx context.Context, snap *Snapshot, target metastore.Store, plan []PlanItem, prog Progress) (err error) {
	var early, writes, deletes []PlanItem
	for _, it := range plan {
		switch {
		case it.Action == Added, it.Action == Changed:
			writes = append(writes, it)
		case it.Action == Deleted && it.first:
			early = append(early, it)
		case it.Action == Deleted:
			deletes = append(deletes, it)
		}
	}
	sort.SliceStable(writes, func(i, j int) bool {
		return !scope.IsProjectFile(writes[i].Path) && scope.IsProjectFile(writes[j].Path)
	})
	var sink metastore.Sink = target
	var tx metastore.Tx
	if t, ok := target.(metastore.Transactional); ok {
		if tx, err = t.Begin(ctx); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tx.Rollback()
			}
		}()
		sink = tx
	}
	prog.Start("restoring", int64(len(early)+len(writes)+len(deletes)))
	defer prog.Done()
	remove := func(items []PlanItem) error {
		for _, it := range items {
			if err := sink.Delete(ctx, it.Path); err != nil {
				return fmt.Errorf("delete %s: %w", it.Path, err)
			}
			prog.Add(1)
		}
		return nil
	}
	if err := remove(early); err != nil {
		return err
	}
	content := func(it PlanItem) (metastore.Resource, error) {
		if it.data != nil {
			return metastore.Resource{Path: it.Path, Data: it.data, Timestamp: it.NewTimestamp}, nil
		}
		data, err := r.objs.ReadKind(it.from, objects.KindBlob)
		if err != nil {
			return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: content of %s: %v", ErrCorrupt, snap.Info.ID.Short(), it.Path, err)
		}
		// What a restore writes is exactly what was backed up, or nothing.
		if got := objects.HashObject(objects.KindBlob, data); got != it.from {
			return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: content of %s does not match its id %s", ErrCorrupt, snap.Info.ID.Short(), it.Path, it.from)
		}
		return metastore.Resource{Path: it.Path, Data: data, Timestamp: it.NewTimestamp}, nil
	}
	if tx != nil {
		// One connection, one transaction: write in order.
		for _, it := range writes {
			res, err := content(it)
			if err != nil {
				return err
			}
			if err := sink.Write(ctx, res); err != nil {
				return fmt.Errorf("write %s: %w", it.Path, err)
			}
			prog.Add(1)
		}
	} else if err := r.parallelWrites(ctx, sink, writes, content, prog); err != nil {
		return err
	}
	if err := remove(deletes); err != nil {
		return err
	}
	if tx != nil {
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	if s, ok := target.(metastore.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	return nil
}

// parallelWrites writes resources with several workers, keeping project
// files for the end.
func (r *Repository) parallelWrites(ctx context.Context, sink metastore.Sink, writes []PlanItem, content func(PlanItem) (metastore.Resource, error), prog Progress) error {
	split := len(writes)
	for i, it := range writes {
		if scope.IsProjectFile(it.Path) {
			split = i
			break
		}
	}
	run := func(batch []PlanItem) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var once sync.Once
		var firstErr error
		next := make(chan PlanItem)
		var wg sync.WaitGroup
		for w := 0; w < r.opt.Workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range next {
					res, err := content(it)
					if err == nil {
						err = sink.Write(ctx, res)
						if err != nil {
							err = fmt.Errorf("write %s: %w", it.Path, err)
						}
					}
					if err != nil {
						once.Do(func() { firstErr = err; cancel() })
						continue
					}
					prog.Add(1)
				}
			}()
		}
	feed:
		for _, it := range batch {
			select {
			case next <- it:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		return ctx.Err()
	}
	if err := run(writes[:split]); err != nil {
		return err
	}
	return run(writes[split:])
}
