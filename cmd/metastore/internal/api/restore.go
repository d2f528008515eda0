package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
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
	// Model says the request names a Kylin 5 model (restore-model, the
	// Kylin 5 name of restore-cube): its messages and Command say "model".
	Model bool
	// Force restores into a Kylin 5.0 beta database that is already in a
	// maintenance mode someone else took, inside it (and leaves it on).
	Force bool
}

// Restore is a restore done or planned.
type Restore struct {
	Result   *snapshot.RestoreResult
	Imported bool   // Ref was a Kylin backup folder, recorded first (or, in a dry run, read)
	Target   string // the metastore, password masked
	DryRun   bool
	// Undo is the command that undoes an applied restore (UndoCommand).
	Undo string
	// Live says what a running Kylin 5 cluster on a database target sees of
	// the restore; nil for other targets.
	Live *LiveJSON
}

// LiveJSON says what a running Kylin 5 cluster on the target database sees
// of a restore (live.go's rules; README "What a running Kylin sees").
type LiveJSON struct {
	// AuditLog is the audit log table the restore's rows went into (its
	// nodes replay them); "" when the database has none: nodes see the
	// restore only when they restart.
	AuditLog string `json:"audit_log"`
	// Maintenance is "taken" (Kylin 5.0 beta was put in maintenance mode
	// for the restore and given back), "joined" (it was already, --force),
	// "would take" (a dry run), or "none" (no epoch table: Kylin 2.5-4.x,
	// or Kylin 5.0 GA and later, which have no maintenance mode).
	Maintenance string `json:"maintenance"`
	// EpochTable is the epoch table, if any.
	EpochTable string `json:"epoch_table,omitempty"`
	// HeldBy are the Kylin nodes that held epochs, live, before the
	// restore ("host:port" and the project or _global).
	HeldBy []string `json:"held_by,omitempty"`
	// StaleLease is true when a maintenance mode left by a metastore
	// process that died was taken over.
	StaleLease bool `json:"stale_lease_taken_over,omitempty"`
	// ReleaseError is set when the maintenance mode could not be given
	// back (the guardian retries; the message says what to run).
	ReleaseError string `json:"release_error,omitempty"`
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
	if folderRef && req.AfterTruncate && scope.BackupKindOf(filepath.ToSlash(filepath.Clean(req.Ref))) == scope.BackupModelExport {
		return nil, fmt.Errorf("%w: %s is a Kylin model export, which holds only its models: --after-truncate would delete everything else; restore it without", snapshot.ErrScopeMismatch, req.Ref)
	}
	repo, done, err := e.restoreRepo(folderRef, req.DryRun)
	if err != nil {
		return nil, err
	}
	defer done()
	snap, err := e.restoreSnapshot(ctx, repo, req, s, folderRef, p)
	if err != nil {
		return nil, req.words(err)
	}
	if req.AfterTruncate && snap.Info.Kind == snapshot.KindImport && scope.BackupKindOf(filepath.ToSlash(snap.Info.ImportPath)) == scope.BackupModelExport {
		return nil, fmt.Errorf("%w: snapshot %s is a Kylin model export (%s), which holds only its models: --after-truncate would delete everything else; restore it without", snapshot.ErrScopeMismatch, snap.Info.ID.Short(), filepath.Base(snap.Info.ImportPath))
	}
	if s.Kind == scope.Cube {
		name := req.Cube
		if name == "" {
			if snap.Info.Scope.Kind != scope.Cube {
				noun := req.noun()
				return nil, Usagef("snapshot %s holds %s, not a %s: name the %s to take from it with --%s", snap.Info.ID.Short(), snap.Info.Scope, noun, noun, noun)
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
	live, release, err := e.enterLive(ctx, target, req)
	if err != nil {
		return nil, err
	}
	res, err := repo.Restore(ctx, snap, target, snapshot.RestoreOptions{
		Scope: s, Project: req.Project, AfterTruncate: req.AfterTruncate, DryRun: req.DryRun,
		AllowForeign: req.AllowForeign, Target: desc, Progress: p,
	})
	if rerr := release(); rerr != nil {
		e.warn("%v", rerr)
		live.ReleaseError = rerr.Error()
	}
	var ae *snapshot.ApplyError
	if errors.As(err, &ae) {
		return nil, &RestoreFailed{Err: err, Safety: ae.Safety, Undo: e.undoCommand(repo, ae.Scope, ae.Project, ae.Safety.ID)}
	}
	if err != nil {
		return nil, req.words(err)
	}
	r := &Restore{Result: res, Imported: folderRef, Target: desc, DryRun: req.DryRun, Live: live}
	if res.Safety != nil {
		r.Undo = e.undoCommand(repo, res.Scope, res.Project, res.Safety.ID)
	}
	return r, nil
}

// words rewords err for restore-model (see AsModel).
func (req RestoreRequest) words(err error) error {
	if req.Model {
		return AsModel(err)
	}
	return err
}

// AsModel rewords the error of an unknown cube, or of a cube no snapshot
// covers, as a model's, for the commands that name Kylin 5 models
// (backup-model, restore-model) whatever the layout: `model "x" not
// found`, `no snapshot covers model x`. The error still wraps what it
// wrapped (scope.ErrUnknownCube, snapshot.ErrNotFound).
func AsModel(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var nf *scope.NotFoundError
	if errors.As(err, &nf) && nf.Kind == scope.Cube {
		m := *nf
		m.Model = true
		msg = strings.Replace(msg, nf.Error(), m.Error(), 1)
		msg = strings.Replace(msg, "resolve cube/"+nf.Name+":", "resolve model "+nf.Name+":", 1)
	}
	if errors.Is(err, snapshot.ErrNotFound) {
		msg = strings.Replace(msg, "covers cube/", "covers model ", 1)
	}
	if msg == err.Error() {
		return err
	}
	return &reworded{msg: msg, err: err}
}

// reworded is an error with another message.
type reworded struct {
	msg string
	err error
}

func (r *reworded) Error() string { return r.msg }
func (r *reworded) Unwrap() error { return r.err }

// noun is "model" for restore-model, "cube" otherwise.
func (req RestoreRequest) noun() string {
	if req.Model {
		return "model"
	}
	return "cube"
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
			noun := req.noun()
			return nil, Usagef("restore-%s %s latest: name the %s with --%s", noun, req.Project, noun, noun)
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
	src, err := openBackup(dir)
	if err != nil {
		return nil, fmt.Errorf("Kylin backup %s: %w", dir, err)
	}
	defer src.Close()
	what := src.what()
	abs, _ := filepath.Abs(dir)
	res, err := repo.Import(ctx, src, snapshot.ImportOptions{Path: dir, Progress: p, Message: "import of " + what + " " + filepath.Base(abs)})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	for _, s := range src.Skipped() {
		e.notice("Left out of the import: %s\n", s)
	}
	switch {
	case dry:
		// The plan comes from a throw-away repository: nothing is recorded.
		e.notice("Read %s %s (%d resources); a dry run does not record it\n", what, abs, res.Resources)
	case !res.Recorded:
		e.notice("Already recorded %s %s as snapshot %s (%d resources)\n", what, abs, res.Snapshot.ID.Short(), res.Resources)
	default:
		e.notice("Recorded %s %s as snapshot %s (%d resources)\n", what, abs, res.Snapshot.ID.Short(), res.Resources)
	}
	return repo.OpenInfo(res.Snapshot), nil
}

// JSON is the restore's document.
func (r *Restore) JSON() RestoreJSON {
	j := r.Document()
	j.Plan = make([]PlanItemJSON, 0, len(r.Result.Plan))
	for _, it := range r.Result.Plan {
		j.Plan = append(j.Plan, PlanItem(it))
	}
	return j
}

// PlanItem describes one resource of a restore plan.
func PlanItem(it snapshot.PlanItem) PlanItemJSON {
	return PlanItemJSON{Path: it.Path, Action: string(it.Action), OldSize: it.OldSize, NewSize: it.NewSize,
		OldTimestamp: it.OldTimestamp, NewTimestamp: it.NewTimestamp, Note: it.Note}
}

// planMark is how the empty plan of a document shows in its indented
// encoding: a key of the top level, never inside a string (where its
// quotes would be escaped).
const planMark = "\n  \"plan\": [],\n"

// WriteJSON writes r.JSON() to w indented by two spaces, byte for byte as
// a json.Encoder with that indent would, but the plan's items one at a
// time: the encoder builds a whole document before writing it, and a plan
// of a million resources is a document of 192 MB.
func (r *Restore) WriteJSON(w io.Writer) error {
	head, err := json.MarshalIndent(r.Document(), "", "  ")
	if err != nil {
		return err
	}
	i := bytes.Index(head, []byte(planMark))
	if i < 0 {
		return errors.New("restore document without its plan")
	}
	bw := bufio.NewWriter(w)
	bw.Write(head[:i])
	bw.WriteString("\n  \"plan\": [")
	for k, it := range r.Result.Plan {
		item, err := json.MarshalIndent(PlanItem(it), "    ", "  ")
		if err != nil {
			return err
		}
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(item)
	}
	if len(r.Result.Plan) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n")
	bw.Write(head[i+len(planMark):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// Document is r.JSON() with an empty plan: what describes the restore
// without one item per resource (Result.Plan has them).
func (r *Restore) Document() RestoreJSON {
	res := r.Result
	j := RestoreJSON{
		Snapshot: Snapshot(res.Snapshot), Imported: r.Imported, Scope: res.Scope.String(), Project: res.Project,
		Target: r.Target, DryRun: r.DryRun, Applied: res.Applied, Counts: map[string]int{}, Plan: []PlanItemJSON{},
		Warnings: NonNil(res.Warnings), Undo: r.Undo, Live: r.Live,
	}
	for _, a := range []snapshot.Action{snapshot.Added, snapshot.Changed, snapshot.Deleted, snapshot.Unchanged, snapshot.Kept} {
		j.Counts[string(a)] = res.Counts[a]
	}
	if res.Safety != nil {
		sj := Snapshot(*res.Safety)
		j.Safety = &sj
	}
	if res.Applied && (r.Live == nil || r.Live.AuditLog == "") {
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
