package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// ReloadReminder is what Kylin admins must do after changing the metastore
// behind a running Kylin.
const ReloadReminder = "Kylin caches metadata: reload it with\n" +
	"  curl -X PUT -u ADMIN:*** http://<kylin-host>:7070/kylin/api/cache/announce/all/all/update\n" +
	"or restart Kylin.\n"

// RestoreRequest asks to restore (or, DryRun, to plan restoring) one scope
// from a snapshot.
type RestoreRequest struct {
	// Kind is what to restore: the system, project Name, or a cube into
	// project Project (the cube named by Cube, or by the snapshot when it is
	// a cube snapshot).
	Kind    scope.Kind
	Name    string // the project, for a project restore
	Project string // the target project, for a cube restore
	Cube    string // the cube, for a cube restore from a project or system snapshot
	// Ref names the snapshot (or, with Env.Folders, a Kylin backup folder).
	Ref           string
	AfterTruncate bool
	DryRun        bool
	AllowForeign  bool
	CreateSchema  string
}

// Restore is a restore done or planned.
type Restore struct {
	Result   *snapshot.RestoreResult
	Imported bool   // Ref was a Kylin backup folder, recorded first (or, in a dry run, read)
	Target   string // the metastore, password masked
	DryRun   bool
	// Undo is the command that undoes an applied restore (UndoCommand).
	Undo string
}

// RestoreFailed is a restore that failed while writing the target, after
// it saved the target's previous state as a safety snapshot: the message
// says how to undo it, and its document (Error) gives the snapshot and the
// command their own fields.
type RestoreFailed struct {
	Err    error
	Safety snapshot.Info
	Undo   string
}

func (f *RestoreFailed) Error() string { return f.Err.Error() + "; undo with: " + f.Undo }

func (f *RestoreFailed) Unwrap() error { return f.Err }

// Restore restores (or plans) req. A metastore folder or Kylin backup
// folder that overlaps the repository is refused before anything is
// opened; a restore that fails after saving its safety snapshot returns a
// *RestoreFailed. p receives progress; nil for none.
func (e *Env) Restore(ctx context.Context, req RestoreRequest, p snapshot.Progress) (*Restore, error) {
	s, err := restoreScope(req)
	if err != nil {
		return nil, err
	}
	folderRef := e.isBackupFolder(req.Ref)
	var folders []string
	if folderRef {
		folders = append(folders, req.Ref)
	}
	if err := e.checkSeparate("", folders...); err != nil {
		return nil, err
	}
	repo, done, err := e.restoreRepo(folderRef, req.DryRun)
	if err != nil {
		return nil, err
	}
	defer done()
	snap, err := e.restoreSnapshot(ctx, repo, req, s, folderRef, p)
	if err != nil {
		return nil, err
	}
	if s.Kind == scope.Cube {
		name := req.Cube
		if name == "" {
			if snap.Info.Scope.Kind != scope.Cube {
				return nil, Usagef("snapshot %s holds %s, not a cube: name the cube to take from it with --cube", snap.Info.ID.Short(), snap.Info.Scope)
			}
			name = snap.Info.Scope.Name
		}
		s = scope.CubeScope(name)
	}
	target, desc, err := e.restoreTarget(ctx, req)
	if err != nil {
		return nil, err
	}
	defer closeStore(target)
	res, err := repo.Restore(ctx, snap, target, snapshot.RestoreOptions{
		Scope: s, Project: req.Project, AfterTruncate: req.AfterTruncate, DryRun: req.DryRun,
		AllowForeign: req.AllowForeign, Target: desc, Progress: p,
	})
	var ae *snapshot.ApplyError
	if errors.As(err, &ae) {
		return nil, &RestoreFailed{Err: err, Safety: ae.Safety, Undo: e.undoCommand(repo, ae.Scope, ae.Project, ae.Safety.ID)}
	}
	if err != nil {
		return nil, err
	}
	r := &Restore{Result: res, Imported: folderRef, Target: desc, DryRun: req.DryRun}
	if res.Safety != nil {
		r.Undo = e.undoCommand(repo, res.Scope, res.Project, res.Safety.ID)
	}
	return r, nil
}

// restoreScope is the scope req restores; a cube's name is known once its
// snapshot is.
func restoreScope(req RestoreRequest) (scope.Scope, error) {
	switch req.Kind {
	case scope.Project:
		return NamedScope(scope.ProjectScope, req.Name)
	case scope.Cube:
		if _, err := scope.Parse("project/" + req.Project); err != nil {
			return scope.Scope{}, UsageError{err.Error()}
		}
		return scope.Scope{Kind: scope.Cube}, nil
	}
	return scope.SystemScope(), nil
}

// restoreRepo opens the repository of a restore: a throw-away one to plan
// from a Kylin backup folder (a dry run records nothing, not even the
// import), the repository (created if need be) to import a folder into,
// and otherwise only an existing one (a mistyped --repo is an error, not
// an empty repository).
func (e *Env) restoreRepo(folderRef, dry bool) (repo *snapshot.Repository, done func(), err error) {
	switch {
	case folderRef && dry:
		tmp, terr := os.MkdirTemp("", "metastore-dry-run-")
		if terr != nil {
			return nil, nil, terr
		}
		if repo, err = snapshot.Create(filepath.Join(tmp, "snapshots.git"), e.RepoOptions()); err != nil {
			os.RemoveAll(tmp)
			return nil, nil, err
		}
		return repo, func() { repo.Close(); os.RemoveAll(tmp) }, nil
	case folderRef:
		repo, _, err = e.OpenRepo("", true)
	default:
		repo, err = e.openRepo()
	}
	if err != nil {
		return nil, nil, err
	}
	return repo, func() { repo.Close() }, nil
}

// restoreSnapshot finds the snapshot req restores: req.Ref resolved for
// the scope (the cube named by --cube), or the Kylin backup folder it
// names, imported first.
func (e *Env) restoreSnapshot(ctx context.Context, repo *snapshot.Repository, req RestoreRequest, s scope.Scope, folderRef bool, p snapshot.Progress) (*snapshot.Snapshot, error) {
	if folderRef {
		return e.importFolder(ctx, repo, req.Ref, req.DryRun, p)
	}
	want := s
	if s.Kind == scope.Cube {
		if req.Cube != "" {
			want = scope.CubeScope(req.Cube)
		} else if req.Ref == snapshot.Latest {
			return nil, Usagef("restore-cube %s latest: name the cube with --cube", req.Project)
		}
	}
	in, err := repo.Resolve(ctx, req.Ref, want)
	if err != nil {
		return nil, err
	}
	return repo.OpenInfo(in), nil
}

// restoreTarget opens the metastore to restore into. A restore may create a
// fresh metastore; a dry run writes nothing, and plans a restore into a
// metastore that does not exist yet as one into an empty one.
func (e *Env) restoreTarget(ctx context.Context, req RestoreRequest) (metastore.Store, string, error) {
	target, desc, err := e.OpenMetastore(ctx, !req.DryRun, req.CreateSchema)
	if req.DryRun && errors.Is(err, fs.ErrNotExist) {
		return memory.New(), e.MaskedURL() + " (does not exist yet)", nil
	}
	return target, desc, err
}

// undoCommand is the command line that puts back the state a restore of s
// (for a cube, into project) saved as safety snapshot id, with the global
// flags that reach the same metastore and repository (Env.Command).
func (e *Env) undoCommand(repo *snapshot.Repository, s scope.Scope, project string, id snapshot.ID) string {
	return e.command(repo, UndoCommand(s, project, id.Short()))
}

func (e *Env) importFolder(ctx context.Context, repo *snapshot.Repository, dir string, dry bool, p snapshot.Progress) (*snapshot.Snapshot, error) {
	src, err := folder.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("Kylin backup folder %s: %w", dir, err)
	}
	res, err := repo.Import(ctx, src, snapshot.ImportOptions{Path: dir, Progress: p})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	switch {
	case dry:
		// The plan comes from a throw-away repository: nothing is recorded.
		e.notice("Read Kylin backup folder %s (%d resources); a dry run does not record it\n", abs, res.Resources)
	case !res.Recorded:
		e.notice("Already recorded Kylin backup folder %s as snapshot %s (%d resources)\n", abs, res.Snapshot.ID.Short(), res.Resources)
	default:
		e.notice("Recorded Kylin backup folder %s as snapshot %s (%d resources)\n", abs, res.Snapshot.ID.Short(), res.Resources)
	}
	return repo.OpenInfo(res.Snapshot), nil
}

// JSON is the restore's document.
func (r *Restore) JSON() RestoreJSON {
	res := r.Result
	j := RestoreJSON{
		Snapshot: Snapshot(res.Snapshot), Imported: r.Imported, Scope: res.Scope.String(), Project: res.Project,
		Target: r.Target, DryRun: r.DryRun, Applied: res.Applied, Counts: map[string]int{}, Plan: []PlanItemJSON{},
		Warnings: NonNil(res.Warnings), Undo: r.Undo,
	}
	for _, a := range []snapshot.Action{snapshot.Added, snapshot.Changed, snapshot.Deleted, snapshot.Unchanged, snapshot.Kept} {
		j.Counts[string(a)] = res.Counts[a]
	}
	if res.Safety != nil {
		sj := Snapshot(*res.Safety)
		j.Safety = &sj
	}
	for _, it := range res.Plan {
		j.Plan = append(j.Plan, PlanItemJSON{Path: it.Path, Action: string(it.Action), OldSize: it.OldSize, NewSize: it.NewSize,
			OldTimestamp: it.OldTimestamp, NewTimestamp: it.NewTimestamp, Note: it.Note})
	}
	if res.Applied {
		j.Reminder = ReloadReminder
	}
	return j
}

// UndoCommand is the command that undoes an applied restore: restoring its
// safety snapshot exactly, with the global flags of Env.Command. "" when
// nothing was written.
func (r *Restore) UndoCommand() string { return r.Undo }

// UndoCommand is the command that restores safety snapshot id of a restore
// of scope s (into project, for a cube) exactly: the same verb, with
// --after-truncate, so that what the restore added goes too.
func UndoCommand(s scope.Scope, project, id string) string {
	undo := "restore"
	switch s.Kind {
	case scope.Project:
		undo = "restore-project " + Quote(s.Name)
	case scope.Cube:
		undo = "restore-cube " + Quote(project)
	}
	return "metastore " + undo + " " + id + " --after-truncate"
}
