package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// The plan of a restore: what the target should hold (wanted, read from
// the snapshot, before the lock), what it holds (scanTarget, under the
// lock, stored for the safety snapshot), the /UUID rule, then one PlanItem
// per resource and the checks of what stands in the way of a write.

// cubeSource describes the cube a cube restore takes from a snapshot.
type cubeSource struct {
	project string // the project that listed it in the snapshot
	model   string
	id      string // Kylin 5: the model's key stem (its uuid)
	tables  []string
}

// wanted computes what the target should hold: the snapshot's resources in
// scope, sorted by the path they get in the target (x.want); for a cube,
// the project file merged with the cube. It reads the target's current
// scope too.
func (x *restore) wanted(ctx context.Context) error {
	paths, err := x.desiredPaths(ctx)
	if err != nil {
		return err
	}
	if x.opt.Scope.Kind == scope.Cube && x.layout == scope.LayoutTyped && x.cube.project != "" && x.cube.project != x.opt.Project {
		return fmt.Errorf("%w: model %s is of project %s in snapshot %s; on Kylin 5's per-type layout (KYLIN-5945) a model's resources name their project inside their content (field \"project\"), which a restore does not rewrite: restore it into %s",
			ErrConflict, x.opt.Scope.Name, x.cube.project, x.snap.Info.ID.Short(), x.cube.project)
	}
	if err := x.lookupWanted(ctx, paths); err != nil {
		return err
	}
	owner, err := x.currentScope(ctx)
	if err != nil {
		return err
	}
	if x.opt.Scope.Kind != scope.Cube || x.exact {
		return nil
	}
	if x.layout != scope.Layout4 {
		// Kylin 5 allows the same model in several projects: no owner
		// rule, but a warning for another model of the alias there.
		return x.aliasTaken(ctx)
	}
	if owner != "" && owner != x.opt.Project {
		return fmt.Errorf("%w: cube %s already belongs to project %s in %s; restore it into %s, or remove it from %s first (Kylin allows a cube in one project only)",
			ErrConflict, x.opt.Scope.Name, owner, x.opt.Target, owner, owner)
	}
	if x.layout == scope.Layout4 {
		return x.mergeProject(ctx)
	}
	return nil
}

// aliasTaken warns when the target project already has another model (one
// with another key) of the restored model's alias: Kylin 5 would then see
// two models of one name in the project.
func (x *restore) aliasTaken(ctx context.Context) error {
	ids, err := scope.ModelIDs(ctx, x.target, x.opt.Project, x.cube.model)
	if err != nil {
		return fmt.Errorf("read target: %w", err)
	}
	var others []string
	for _, id := range ids {
		if id != x.cube.id {
			others = append(others, scope.ModelFile(x.layout, x.opt.Project, id))
		}
	}
	if len(others) > 0 {
		x.res.Warnings = append(x.res.Warnings, fmt.Sprintf("project %s of %s already has a model named %s (%s); the restore adds model %s of the same name beside it: rename or delete one of them in Kylin",
			x.opt.Project, x.opt.Target, x.cube.model, strings.Join(others, ", "), x.cube.id))
	}
	return nil
}

// mismatch is the error of a snapshot of another scope than the restore's.
func (x *restore) mismatch(hint string) error {
	in := x.snap.Info
	return fmt.Errorf("%w: snapshot %s holds %s; %s", ErrScopeMismatch, in.ID.Short(), in.Scope, hint)
}

// desiredPaths returns the snapshot's resources in the restored scope; none
// when it takes every resource of the snapshot (it sets x.all).
func (x *restore) desiredPaths(ctx context.Context) ([]string, error) {
	in, opt := x.snap.Info, x.opt
	switch {
	case opt.Scope.Kind == scope.System && in.Scope.Kind != scope.System:
		return nil, x.mismatch(fmt.Sprintf("restore it with restore-%s", in.Scope.Kind))
	case opt.Scope.Kind == scope.System, in.Scope == opt.Scope && opt.Scope.Kind == scope.Project:
		x.all = true
		return nil, nil
	case opt.Scope.Kind == scope.Project && in.Scope.Kind != scope.System:
		return nil, x.mismatch("a project restore needs a snapshot of that project or of the whole system")
	case opt.Scope.Kind == scope.Project:
		return x.resolve(ctx, scope.ErrUnknownProject)
	case opt.Project == "":
		return nil, errors.New("restore-cube needs the target project")
	case x.exact:
		return x.undoPaths(ctx)
	case in.Scope.Kind == scope.Cube && in.Scope != opt.Scope && !x.sameModel(ctx):
		return nil, x.mismatch(fmt.Sprintf("restore it with --cube %s, or take %s from a system or project snapshot", in.Scope.Name, opt.Scope.Name))
	case in.Scope.Kind == scope.Cube:
		// Which project the cube came from (to rename --PROJECT tables),
		// its model and tables (to merge into the project).
		sr, err := scope.Resolve(ctx, x.snap, opt.Scope, scope.Options{})
		if err != nil {
			return nil, err
		}
		x.cube = cubeSource{project: sr.Project, model: sr.Model, id: sr.ModelID, tables: sr.Tables}
		x.all = true
		return nil, nil
	}
	return x.resolve(ctx, scope.ErrUnknownCube)
}

// sameModel reports whether the cube scope of a Kylin 5 snapshot and the
// restore's name one model (see sameModel).
func (x *restore) sameModel(ctx context.Context) bool {
	return x.layout != scope.Layout4 && sameModel(ctx, x.snap, x.snap.Info.Scope, x.opt.Scope)
}

// sameModel reports whether cube scopes a and b name one model of a Kylin 5
// metastore src: a model recorded by alias and asked for by uuid,
// "PROJECT.alias" or "PROJECT.uuid", or the reverse. On Kylin 2.x-4.x a
// cube has one name, so two scopes are one only if equal.
func sameModel(ctx context.Context, src metastore.Source, a, b scope.Scope) bool {
	if l, err := scope.DetectLayout(ctx, src); err != nil || l == scope.Layout4 {
		return false
	}
	var found [2]*scope.Result
	for i, s := range []scope.Scope{a, b} {
		sr, err := scope.Resolve(ctx, src, s, scope.Options{NoSuggestions: true})
		if err != nil || s.Kind != scope.Cube || sr.ModelID == "" {
			return false
		}
		found[i] = sr
	}
	return found[0].Project == found[1].Project && found[0].ModelID == found[1].ModelID
}

// withSegments reports whether a Kylin 5 model restore brings the model's
// segment details: those of a model snapshot taken with them, or of a
// system or project snapshot (which always holds them). A Kylin 2.x-4.x
// cube restore never takes dictionaries, snapshots or statistics out of a
// larger snapshot.
func (x *restore) withSegments() bool {
	in := x.snap.Info
	return x.opt.Scope.Kind == scope.Cube && x.layout != scope.Layout4 && (in.WithSegments || in.Scope.Kind != scope.Cube)
}

// allPaths lists every resource of the snapshot.
func (x *restore) allPaths(ctx context.Context) ([]string, error) {
	var paths []string
	err := x.snap.List(ctx, "/", func(p string) error { paths = append(paths, p); return nil })
	return paths, err
}

// resolve takes the restored scope out of a larger snapshot; unknown is the
// error of a scope it lacks, which names the snapshot (as "latest" does
// when no snapshot holds it).
func (x *restore) resolve(ctx context.Context, unknown error) ([]string, error) {
	// A Kylin 5 model taken out of a system or project snapshot, which
	// holds its segments' details, comes with them.
	sr, err := scope.Resolve(ctx, x.snap, x.opt.Scope, scope.Options{WithSegments: x.withSegments()})
	if errors.Is(err, unknown) {
		return nil, fmt.Errorf("snapshot %s: %w", x.snap.Info.ID.Short(), err)
	}
	if err != nil {
		return nil, err
	}
	x.cube = cubeSource{project: sr.Project, model: sr.Model, id: sr.ModelID, tables: sr.Tables}
	x.res.Warnings = append(x.res.Warnings, warnings(sr.Warnings)...)
	return sr.Paths, nil
}

// undoPaths returns the resources of the safety snapshot of a cube
// restore. It undoes a restore of the cube into one project, whose file it
// holds: put back into another project, it would overwrite that project's
// file and restore nothing into this one.
func (x *restore) undoPaths(ctx context.Context) ([]string, error) {
	in, opt := x.snap.Info, x.opt
	if in.Scope != opt.Scope {
		return nil, x.mismatch("it is the safety snapshot of another cube")
	}
	ok, err := x.snap.Exists(ctx, scope.ProjectFile(x.layout, opt.Project))
	if err != nil {
		return nil, err
	}
	if !ok {
		names, _ := scope.Projects(ctx, x.snap)
		if len(names) == 1 {
			return nil, x.mismatch(fmt.Sprintf("it is the safety snapshot of a restore of the cube into project %s, not %s: undo that restore with restore-cube %s %s --after-truncate",
				names[0], opt.Project, names[0], in.ID.Short()))
		}
		return nil, x.mismatch(fmt.Sprintf("it is the safety snapshot of a restore of the cube into another project than %s", opt.Project))
	}
	x.all = true
	return nil, nil
}

// lookupWanted finds the blob, timestamp and size of each desired resource
// (each of paths, or with x.all each of the snapshot, in one walk of it),
// and the path it gets in the target: x.want, sorted by that path (of two
// resources that get one path, the one found last).
func (x *restore) lookupWanted(ctx context.Context, paths []string) error {
	cube := x.opt.Scope.Kind == scope.Cube && !x.exact
	// The whole snapshot's count is in its commit: the plan's size when
	// the commit is sound (no growth by doubling, which held one and a
	// half plans at a time), bounded, and not kept when wrong (below).
	n := len(paths)
	if x.all {
		n = min(max(x.snap.Info.Resources, 0), 1<<20)
	}
	x.want = make([]PlanItem, 0, n)
	found := func(p string, id objects.ID, ts int64) error {
		size, err := x.r.objs.Size(id)
		if err != nil {
			return fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, x.snap.Info.ID.Short(), p, err)
		}
		dst := p
		if cube && x.cube.project != "" && x.cube.project != x.opt.Project {
			dst = scope.Retarget(x.layout, p, x.cube.project, x.opt.Project)
		}
		x.want = append(x.want, PlanItem{Path: dst, NewSize: size, NewTimestamp: ts, from: id})
		return nil
	}
	if x.all {
		root := ""
		err := x.snap.tree.Walk(ctx, "/", true, func(e tree.Entry) error {
			// The folders of a root folder the walk left are not read
			// again: not kept (at a million resources, some 100 MB).
			if r, _, _ := strings.Cut(e.Key[1:], "/"); r != root {
				x.snap.tree.Forget()
				root = r
			}
			if cube && scope.IsProjectFile(e.Key) {
				return nil // merged, never replaced
			}
			return found(e.Key, e.ID, e.Timestamp)
		})
		if err != nil {
			return err
		}
	}
	var one []string
	for _, g := range groupByFolder(paths) {
		if len(g) >= walkFolderFrom {
			if err := x.walkWanted(ctx, g, cube, found); err != nil {
				return err
			}
			continue
		}
		one = append(one, g...)
	}
	for _, p := range one {
		if cube && scope.IsProjectFile(p) {
			continue // merged, never replaced
		}
		id, ts, err := x.snap.lookup(p)
		if err != nil {
			return err
		}
		if err := found(p, id, ts); err != nil {
			return err
		}
	}
	if cap(x.want) > 2*len(x.want)+1024 {
		// A damaged count: its room is not held through the restore.
		x.want = slices.Clone(x.want)
	}
	x.want = sortWanted(x.want, cube)
	// The restore has no more lookups to make in the snapshot: the folders
	// they kept (at a million resources, 77 MB) need not stay through the
	// writes.
	x.snap.tree.Forget()
	return nil
}

// sortWanted sorts the wanted resources by path and keeps, of those that
// get one path, the last. Only a cube restore, which renames its project's
// tables, can give two resources one path; only it needs a stable sort.
func sortWanted(want []PlanItem, cube bool) []PlanItem {
	if cube {
		slices.SortStableFunc(want, byPath)
	} else {
		slices.SortFunc(want, byPath)
	}
	out := want[:0]
	for i, it := range want {
		if i+1 < len(want) && want[i+1].Path == it.Path {
			continue
		}
		out = append(out, it)
	}
	clear(want[len(out):])
	return out
}

func byPath(a, b PlanItem) int { return strings.Compare(a.Path, b.Path) }

// findPath returns the index of the item of plan, sorted by path, with
// path p, or where it would be.
func findPath(plan []PlanItem, p string) (int, bool) {
	return slices.BinarySearchFunc(plan, p, func(it PlanItem, p string) int { return strings.Compare(it.Path, p) })
}

// setWant sets the wanted resource it.Path to it.
func (x *restore) setWant(it PlanItem) {
	if i, ok := findPath(x.want, it.Path); ok {
		x.want[i] = it
	} else {
		x.want = slices.Insert(x.want, i, it)
	}
}

// held returns the target's record of p, if the restore read it.
func (x *restore) held(p string) (*scanned, bool) {
	i, ok := slices.BinarySearchFunc(x.items, p, func(it scanned, p string) int { return strings.Compare(it.path, p) })
	if !ok {
		return nil, false
	}
	return &x.items[i], true
}

// walkFolderFrom is how many desired resources of one folder make
// lookupWanted walk the folder rather than look each one up: a lookup keeps
// the folder's tree for the next, a walk of a big folder keeps nothing
// (a project's jobs, in the /execute of a large metastore; see
// TestRestoreKeepsNoBigFolder).
const walkFolderFrom = 64

// groupByFolder splits paths by the folder that holds them, in the order
// of their first path.
func groupByFolder(paths []string) [][]string {
	at := map[string]int{}
	var groups [][]string
	for _, p := range paths {
		dir := p[:strings.LastIndexByte(p, '/')+1]
		i, ok := at[dir]
		if !ok {
			i = len(groups)
			at[dir] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	return groups
}

// walkWanted finds the desired resources paths, all in one folder, with
// one walk of it, and passes each to found. A path the walk does not meet
// is looked up, for the error that gives.
func (x *restore) walkWanted(ctx context.Context, paths []string, cube bool, found func(string, objects.ID, int64) error) error {
	left := make(map[string]bool, len(paths))
	for _, p := range paths {
		if !cube || !scope.IsProjectFile(p) {
			left[p] = true
		}
	}
	dir := paths[0][:strings.LastIndexByte(paths[0], '/')+1]
	err := x.snap.tree.Walk(ctx, dir, true, func(e tree.Entry) error {
		if !left[e.Key] {
			return nil
		}
		delete(left, e.Key)
		return found(e.Key, e.ID, e.Timestamp)
	})
	if err != nil {
		return err
	}
	for p := range left {
		if _, _, err := x.snap.lookup(p); err != nil {
			return err
		}
		return fmt.Errorf("%w: snapshot %s: %s not met walking %s", ErrCorrupt, x.snap.Info.ID.Short(), p, dir)
	}
	return nil
}

// mergeProject adds the cube, its model and tables to the target project,
// as Kylin's CubeMetaIngester does, keeping the rest of the file (Kylin 4).
func (x *restore) mergeProject(ctx context.Context) error {
	pf := scope.ProjectFile(x.layout, x.opt.Project)
	cur, err := x.target.Read(ctx, pf)
	if err != nil {
		return fmt.Errorf("read target %s: %w", pf, err)
	}
	name := x.opt.Scope.Name
	merged, changed, err := scope.MergeProject(cur.Data, scope.ProjectAdditions{
		Realization: name, RealizationType: "CUBE", Model: x.cube.model, Tables: x.cube.tables,
	})
	if err != nil {
		return fmt.Errorf("merge cube %s into %s: %w", name, pf, err)
	}
	w := PlanItem{Path: pf, data: &merged, NewTimestamp: cur.Timestamp, NewSize: int64(len(merged)), Note: "unchanged: already lists the cube, its model and tables"}
	if changed {
		w.NewTimestamp = x.r.opt.Now().UnixMilli()
		w.Note = "merged: adds cube " + name + ", its model and tables"
	}
	x.setWant(w)
	return nil
}

func warnings(ws []scope.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path+": "+w.Message)
	}
	return out
}

// currentScope lists the target's resources in the requested scope (none
// for the whole system: the scan lists them itself) and returns, for a
// cube, the project that lists it in the target now.
func (x *restore) currentScope(ctx context.Context) (owner string, err error) {
	opt := x.opt
	if opt.Scope.Kind == scope.System {
		return "", nil
	}
	paths := []string{}
	current := opt.Scope
	if opt.Scope.Kind == scope.Cube && x.layout != scope.Layout4 && x.cube.id != "" && !x.exact {
		// The model as the target project holds it: by its key, never
		// another project's copy or another model of the alias.
		current = scope.CubeScope(opt.Project + "." + x.cube.id)
	}
	// A Kylin 5 model restored with its segments replaces the target's
	// segment details too.
	sr, err := scope.Resolve(ctx, x.target, current, scope.Options{NoSuggestions: true, WithSegments: x.withSegments()})
	switch {
	case errors.Is(err, scope.ErrUnknownProject), errors.Is(err, scope.ErrUnknownCube):
		// Not in the target yet: only its /UUID matters.
	case err != nil:
		return "", fmt.Errorf("read target: %w", err)
	default:
		paths, owner = sr.Paths, sr.Project
	}
	if x.exact {
		// Everything the safety snapshot holds, and what the restore it
		// protects against added.
		all, err := x.allPaths(ctx)
		if err != nil {
			return "", err
		}
		paths = append(append(paths, all...), x.snap.Info.RestoreAdded...)
	} else if opt.Scope.Kind == scope.Cube {
		// The cube lands in opt.Project, whose project file is merged.
		pf := scope.ProjectFile(x.layout, opt.Project)
		if _, err := x.target.Read(ctx, pf); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%w: project %q does not exist in %s; create it in Kylin or restore-project it first", scope.ErrUnknownProject, opt.Project, opt.Target)
			}
			return "", err
		}
		paths = append(paths, pf)
	}
	if _, err := x.target.Read(ctx, "/UUID"); err == nil {
		paths = append(paths, "/UUID")
	}
	sort.Strings(paths)
	x.current = dedupe(paths)
	return owner, nil
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

// plan reads the target's resources the restore concerns (stored for the
// safety snapshot, unless in a dry run), applies the /UUID rule and makes
// the plan: one item per resource, sorted by path, with the deletes that
// free the path of a write marked (see inTheWay).
func (x *restore) plan(ctx context.Context) error {
	if err := x.scanTarget(ctx); err != nil {
		return err
	}
	if err := x.uuidRule(ctx); err != nil {
		return err
	}
	x.planWrites()
	if x.opt.AfterTruncate {
		if err := x.planDeletes(ctx); err != nil {
			return err
		}
	}
	if err := x.inTheWay(ctx); err != nil {
		return err
	}
	for _, it := range x.res.Plan {
		x.res.Counts[it.Action]++
	}
	// The plan and the target's records (for the safety snapshot) are all
	// that the restore needs from here.
	x.inScope = nil
	return nil
}

// scanTarget reads (or, in a dry run, hashes) what is in scope in the
// target now, and whatever else the restore would overwrite (a resource the
// target's broken links hide from its scope is still there).
func (x *restore) scanTarget(ctx context.Context) error {
	all := x.opt.Scope.Kind == scope.System
	var paths []string
	x.inScope = map[string]bool{}
	if !all {
		for _, p := range x.current {
			x.inScope[p] = true
		}
		paths = append(paths, x.current...)
		for _, w := range x.want {
			if p := w.Path; !x.inScope[p] {
				if _, err := x.target.Read(ctx, p); err == nil {
					paths = append(paths, p)
				}
			}
		}
		sort.Strings(paths)
		paths = dedupe(paths)
	}
	write := hashOnly
	if x.pw != nil {
		write = packObjectWriter(x.pw)
	}
	items, st, err := x.r.scan(ctx, x.target, paths, all, write, x.caches.load, x.prog)
	if err != nil {
		return fmt.Errorf("read target: %w", err)
	}
	x.items, x.uuid = items.flat(), st.uuid
	return nil
}

// uuidRule keeps the target's /UUID, and refuses a snapshot of another
// metastore (another /UUID) unless told, or unless it was imported from a
// Kylin backup folder (whose /UUID Kylin makes up).
func (x *restore) uuidRule(ctx context.Context) error {
	if _, ok := x.held("/UUID"); !ok {
		return nil
	}
	if i, ok := findPath(x.want, "/UUID"); ok {
		x.want = slices.Delete(x.want, i, i+1)
	}
	targetUUID := x.uuid
	if targetUUID == "" {
		if rr, err := x.target.Read(ctx, "/UUID"); err == nil {
			targetUUID = uuidOf(rr.Data)
		}
	}
	snapUUID := x.snap.Info.UUID
	if snapUUID == "" || targetUUID == "" || snapUUID == targetUUID {
		return nil
	}
	switch {
	case x.snap.Info.Kind == KindImport:
		x.res.Warnings = append(x.res.Warnings, fmt.Sprintf("the snapshot's /UUID %s differs from the target's %s, as expected for a Kylin backup folder (Kylin writes a new /UUID into each); the target keeps its own", snapUUID, targetUUID))
	case x.opt.AllowForeign:
		x.res.Warnings = append(x.res.Warnings, fmt.Sprintf("restoring a snapshot of metastore %s into metastore %s (--allow-foreign); the target keeps its /UUID", snapUUID, targetUUID))
	default:
		return fmt.Errorf("%w: snapshot %s was taken from metastore %s, the target is metastore %s; pass --allow-foreign to move metadata between environments", ErrForeign, x.snap.Info.ID.Short(), snapUUID, targetUUID)
	}
	return nil
}

// planWrites plans each wanted resource: added, changed or unchanged. The
// wanted resources become the plan, in path order, as the target's records
// are (one pass over both: at a million resources, maps of the wanted
// resources and of the target's records by path were some 300 MB).
func (x *restore) planWrites() {
	items, k := x.items, 0
	for i := range x.want {
		it := &x.want[i]
		for k < len(items) && items[k].path < it.Path {
			k++
		}
		ok := k < len(items) && items[k].path == it.Path
		switch {
		case !ok:
			it.Action = Added
		case it.data == nil && items[k].id == it.from && items[k].ts == it.NewTimestamp:
			it.Action = Unchanged
		case it.data != nil && items[k].id == objects.HashObject(objects.KindBlob, *it.data):
			it.Action = Unchanged
			it.NewTimestamp = items[k].ts
		default:
			it.Action = Changed
		}
		if ok {
			it.OldSize, it.OldTimestamp = items[k].size, items[k].ts
		}
	}
	x.res.Plan, x.want = x.want, nil
}

// planDeletes plans, for AfterTruncate, the deletes of the target's
// resources in scope that the snapshot lacks, except those other projects
// or cubes use (kept, with the reason).
func (x *restore) planDeletes(ctx context.Context) error {
	var protected map[string]string
	if !x.exact {
		var err error
		if protected, err = x.protected(ctx); err != nil {
			return err
		}
	}
	added := map[string]bool{}
	for _, p := range x.snap.Info.RestoreAdded {
		added[p] = true
	}
	writes, k := x.res.Plan, 0
	var deletes []PlanItem
	for _, it := range x.items {
		for k < len(writes) && writes[k].Path < it.path {
			k++
		}
		if k < len(writes) && writes[k].Path == it.path || it.path == "/UUID" {
			continue
		}
		if x.opt.Scope.Kind != scope.System && !x.inScope[it.path] || x.exact && !added[it.path] {
			continue
		}
		pi := PlanItem{Path: it.path, Action: Deleted, OldSize: it.size, OldTimestamp: it.ts}
		if why, ok := protected[it.path]; ok {
			pi.Action, pi.Note = Kept, why
		} else if x.opt.Scope.Kind == scope.Cube && !x.exact && scope.SharedByNature(it.path) {
			pi.Action, pi.Note = Kept, "models, tables and projects are never deleted by a cube restore"
		}
		deletes = append(deletes, pi)
	}
	if len(deletes) > 0 {
		x.res.Plan = append(x.res.Plan, deletes...)
		slices.SortFunc(x.res.Plan, byPath)
	}
	return nil
}

// protected returns the target's resources that a truncating restore must
// not delete because other projects (or, for a cube, other cubes) of the
// target use them, with the reason.
func (x *restore) protected(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	list, named := scope.Projects, scope.ProjectScope
	switch x.opt.Scope.Kind {
	case scope.System:
		return out, nil
	case scope.Cube:
		list, named = scope.Cubes, scope.CubeScope
		if x.layout != scope.Layout4 {
			// Every model by PROJECT.UUID: two models of one alias are
			// two, and the restored one is told apart by its uuid.
			list = scope.ModelRefs
		}
		for _, l := range []scope.Layout{scope.Layout4, scope.Layout5, scope.LayoutTyped} {
			out[scope.ProjectFile(l, x.opt.Project)] = "project files are merged, never deleted"
		}
	}
	names, err := list(ctx, x.target)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n != x.opt.Scope.Name && (x.layout == scope.Layout4 || n != x.opt.Project+"."+x.cube.id) {
			if err := x.usedBy(ctx, out, named(n)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// usedBy notes in out the resources of another project or cube of the
// target. A project whose own file cannot be read, or a scope that cannot
// be resolved, leaves nothing safe to delete.
func (x *restore) usedBy(ctx context.Context, out map[string]string, other scope.Scope) error {
	sr, err := scope.Resolve(ctx, x.target, other, scope.Options{WithSegments: other.Kind == scope.Cube})
	if err == nil && other.Kind == scope.Project {
		for _, w := range sr.Warnings {
			if scope.IsProjectFile(w.Path) {
				err = errors.New(w.Path + ": " + w.Message)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: cannot tell what %s %s of the target uses (%v), so nothing can be deleted safely; fix it, or restore without --after-truncate", ErrConflict, other.Kind, other.Name, err)
	}
	for _, path := range sr.Paths {
		if _, ok := out[path]; !ok {
			out[path] = "also used by " + other.Kind.String() + " " + other.Name
		}
	}
	return nil
}

// inTheWay finds the target's resources that stand in the way of a write of
// the plan: a file where the snapshot has a folder (the target's /a when
// /a/b is written) or resources inside a folder where the snapshot has a
// file (the target's /a/b when /a is written), as when a resource became a
// folder, or the reverse, since the snapshot. A folder metastore cannot hold
// both, and no snapshot can record both. The plan's deletes of such
// resources are marked to run before its writes; a resource in the way that
// the plan does not delete refuses a restore into a folder with ErrConflict,
// before anything is written, and is a warning for other targets. Outside
// the system scope a folder target is also asked about the resources the
// restore did not read.
func (x *restore) inTheWay(ctx context.Context) error {
	_, local := x.target.(localFolder)
	o := &obstacles{x: x, local: local, probe: local && x.opt.Scope.Kind != scope.System, exists: map[string]bool{}}
	for _, it := range x.res.Plan {
		if it.Action == Added || it.Action == Changed {
			if err := o.check(ctx, it); err != nil {
				return err
			}
		}
	}
	return nil
}

// obstacles looks for what stands in the way of the writes of a plan.
type obstacles struct {
	x            *restore
	local, probe bool
	exists       map[string]bool // the target's resources the probe found, or not
}

// check looks for resources in the way of the write it: a file at a folder
// on its path, or anything inside it.
func (o *obstacles) check(ctx context.Context, it PlanItem) error {
	for i := 1; i < len(it.Path); i++ {
		if it.Path[i] != '/' {
			continue
		}
		found, err := o.fileAt(ctx, it.Path[:i])
		if err != nil {
			return err
		}
		if found {
			if err := o.block(it.Path, it.Path[:i]); err != nil {
				return err
			}
		}
	}
	items, below := o.x.items, it.Path+"/"
	k := sort.Search(len(items), func(k int) bool { return items[k].path >= below })
	for ; k < len(items) && strings.HasPrefix(items[k].path, below); k++ {
		if err := o.block(it.Path, items[k].path); err != nil {
			return err
		}
	}
	if !o.probe || it.Action != Added {
		return nil
	}
	return o.x.target.List(ctx, below, func(p string) error {
		if _, ok := o.x.held(p); ok {
			return nil
		}
		return o.block(it.Path, p)
	})
}

// block handles resource b in the way of the write of w: a delete the plan
// has runs first; anything else is an error (a folder target) or a warning.
func (o *obstacles) block(w, b string) error {
	res, opt := o.x.res, o.x.opt
	i, ok := findPath(res.Plan, b)
	if ok && res.Plan[i].Action == Deleted {
		res.Plan[i].first = true
		return nil
	}
	shape := "a file where the snapshot has a folder"
	if strings.HasPrefix(b, w+"/") {
		shape = "inside a folder where the snapshot has a file"
	}
	if !o.local {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: the target keeps %s (%s); a key that is both a resource and a folder cannot be backed up", w, b, shape))
		return nil
	}
	why := "it is outside the restored scope; remove it first"
	switch {
	case ok && res.Plan[i].Action == Kept:
		why = "kept: " + res.Plan[i].Note
	case !opt.AfterTruncate && (opt.Scope.Kind == scope.System || o.x.inScope[b]):
		why = "restore with --after-truncate to delete it, or remove it first"
	}
	return fmt.Errorf("%w: cannot write %s: the target has %s (%s), which this restore would not delete (%s)", ErrConflict, w, b, shape, why)
}

// fileAt reports whether the target has resource p: one the restore read,
// or, probing a folder target, one it has.
func (o *obstacles) fileAt(ctx context.Context, p string) (bool, error) {
	if _, ok := o.x.held(p); ok {
		return true, nil
	}
	if !o.probe {
		return false, nil
	}
	if e, ok := o.exists[p]; ok {
		return e, nil
	}
	var e bool
	var err error
	if ex, ok := o.x.target.(metastore.Exister); ok {
		e, err = ex.Exists(ctx, p)
	} else if _, err = o.x.target.Read(ctx, p); err == nil {
		e = true
	} else if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return false, fmt.Errorf("read target: %w", err)
	}
	o.exists[p] = e
	return e, nil
}
