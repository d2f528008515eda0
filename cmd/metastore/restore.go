package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// reloadReminder is what Kylin admins must do after changing the metastore
// behind a running Kylin.
const reloadReminder = "Kylin caches metadata: reload it with\n" +
	"  curl -X PUT -u ADMIN:*** http://<kylin-host>:7070/kylin/api/cache/announce/all/all/update\n" +
	"or restart Kylin.\n"

func restoreFlags(cube bool) []cli.Flag {
	f := []cli.Flag{
		&cli.BoolFlag{Name: "after-truncate", Usage: "also delete in-scope resources the snapshot does not have (exact point-in-time rollback)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and write nothing"},
		&cli.BoolFlag{Name: "allow-foreign", Usage: "restore a snapshot taken from a metastore with another /UUID"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list every resource written or deleted"},
		&cli.StringFlag{Name: "create-schema", Usage: "restoring into a database without metastore tables: create them in Kylin 4 (\"4\": 2.5-4.x) or Kylin 5 (\"5\") layout"},
	}
	if cube {
		f = append(f, &cli.StringFlag{Name: "cube", Usage: "the cube to take from REF when REF is not a cube snapshot"})
	}
	return f
}

func restoreCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore the whole metastore from a snapshot or a Kylin backup folder",
		ArgsUsage: "REF",
		Flags:     restoreFlags(false),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("usage: metastore restore REF (a snapshot id or prefix, a tag, latest, or a Kylin backup folder)")
			}
			return e.runRestore(c, scope.SystemScope(), "", c.Args().First())
		},
	}
}

func restoreProjectCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restore-project",
		Usage:     "restore one project from a project or system snapshot",
		ArgsUsage: "PROJECT REF",
		Flags:     restoreFlags(false),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("usage: metastore restore-project PROJECT REF")
			}
			s, err := namedScope(scope.ProjectScope, c.Args().Get(0))
			if err != nil {
				return err
			}
			return e.runRestore(c, s, "", c.Args().Get(1))
		},
	}
}

func restoreCubeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restore-cube",
		Usage:     "restore one cube into PROJECT, merging it into the project's file",
		ArgsUsage: "PROJECT REF",
		Flags:     restoreFlags(true),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("usage: metastore restore-cube PROJECT REF [--cube NAME]")
			}
			project := c.Args().Get(0)
			if _, err := scope.Parse("project/" + project); err != nil {
				return usageError{err.Error()}
			}
			return e.runRestore(c, scope.Scope{Kind: scope.Cube}, project, c.Args().Get(1))
		},
	}
}

// isBackupFolder reports whether ref names a folder on disk (a Kylin backup
// folder) rather than a snapshot.
func isBackupFolder(ref string) bool {
	if !strings.ContainsRune(ref, os.PathSeparator) && !strings.HasPrefix(ref, "meta_") {
		return false
	}
	st, err := os.Stat(ref)
	return err == nil && st.IsDir()
}

type planItemJSON struct {
	Path         string `json:"path"`
	Action       string `json:"action"`
	OldSize      int64  `json:"old_size"`
	NewSize      int64  `json:"new_size"`
	OldTimestamp int64  `json:"old_timestamp,omitempty"`
	NewTimestamp int64  `json:"new_timestamp,omitempty"`
	Note         string `json:"note,omitempty"`
}

type restoreJSON struct {
	Snapshot snapshotJSON      `json:"snapshot"`
	Imported bool              `json:"imported"`
	Scope    string            `json:"scope"`
	Project  string            `json:"project,omitempty"`
	Target   string            `json:"target"`
	DryRun   bool              `json:"dry_run"`
	Applied  bool              `json:"applied"`
	Safety   *snapshotJSON     `json:"safety_snapshot"`
	Counts   map[string]int    `json:"counts"`
	Plan     []planItemJSON    `json:"plan"`
	Warnings []string          `json:"warnings"`
	Undo     string            `json:"undo,omitempty"`
	Reminder string            `json:"reminder,omitempty"`
	Extra    map[string]string `json:"-"`
}

func (e *env) runRestore(c *cli.Context, s scope.Scope, project, ref string) error {
	ctx := c.Context
	dry := c.Bool("dry-run")
	folderRef := isBackupFolder(ref)
	var folders []string
	if folderRef {
		folders = append(folders, ref)
	}
	if err := e.checkSeparate("", folders...); err != nil {
		return err
	}
	var repo *snapshot.Repository
	var err error
	switch {
	case folderRef && dry:
		// Plan from a throw-away repository: a dry run records nothing,
		// not even the import.
		tmp, terr := os.MkdirTemp("", "metastore-dry-run-")
		if terr != nil {
			return terr
		}
		defer os.RemoveAll(tmp)
		repo, err = snapshot.Create(filepath.Join(tmp, "snapshots.git"), e.repoOptions())
	case folderRef:
		repo, _, err = e.openOrCreateRepo("")
	default:
		// A restore never creates a repository: a mistyped --repo is an
		// error, not an empty repository.
		repo, err = e.openRepo("")
	}
	if err != nil {
		return err
	}
	defer repo.Close()

	imported := false
	var snap *snapshot.Snapshot
	if folderRef {
		snap, err = e.importFolder(ctx, repo, ref, dry)
		if err != nil {
			return err
		}
		imported = true
	} else {
		want := s
		if s.Kind == scope.Cube {
			if name := c.String("cube"); name != "" {
				want = scope.CubeScope(name)
			} else if ref == snapshot.Latest {
				return usagef("restore-cube %s latest: name the cube with --cube", project)
			}
		}
		in, err := repo.Resolve(ctx, ref, want)
		if err != nil {
			return err
		}
		snap = repo.OpenInfo(in)
	}
	if s.Kind == scope.Cube {
		name := c.String("cube")
		if name == "" {
			if snap.Info.Scope.Kind != scope.Cube {
				return usagef("snapshot %s holds %s, not a cube: name the cube to take from it with --cube", snap.Info.ID.Short(), snap.Info.Scope)
			}
			name = snap.Info.Scope.Name
		}
		s = scope.CubeScope(name)
	}

	// A restore may create a fresh metastore; a dry run writes nothing.
	target, desc, err := e.openMetastore(ctx, !dry, c.String("create-schema"))
	if dry && errors.Is(err, fs.ErrNotExist) {
		// Planning a restore into a metastore that does not exist yet:
		// everything would be added.
		raw, _ := e.metadataURLValue()
		target, desc, err = memory.New(), locate.Mask(raw)+" (does not exist yet)", nil
	}
	if err != nil {
		return err
	}
	defer closeStore(target)
	res, err := repo.Restore(ctx, snap, target, snapshot.RestoreOptions{
		Scope: s, Project: project, AfterTruncate: c.Bool("after-truncate"), DryRun: dry,
		AllowForeign: c.Bool("allow-foreign"), Target: desc, Progress: e.progress(),
	})
	var ae *snapshot.ApplyError
	if errors.As(err, &ae) {
		return &restoreFailed{err: err, safety: ae.Safety, undo: e.undoCommand(repo, ae.Scope, ae.Project, ae.Safety.ID)}
	}
	if err != nil {
		return err
	}
	return e.printRestore(repo, res, imported, desc, dry, c.Bool("verbose"))
}

func (e *env) importFolder(ctx context.Context, repo *snapshot.Repository, dir string, dry bool) (*snapshot.Snapshot, error) {
	src, err := folder.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("Kylin backup folder %s: %w", dir, err)
	}
	res, err := repo.Import(ctx, src, snapshot.ImportOptions{Path: dir, Progress: e.progress()})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	switch {
	case e.json:
	case dry:
		// The plan comes from a throw-away repository: nothing is recorded.
		fmt.Fprintf(e.stderr, "Read Kylin backup folder %s (%d resources); a dry run does not record it\n", abs, res.Resources)
	case !res.Recorded:
		fmt.Fprintf(e.stderr, "Already recorded Kylin backup folder %s as snapshot %s (%d resources)\n", abs, res.Snapshot.ID.Short(), res.Resources)
	default:
		fmt.Fprintf(e.stderr, "Recorded Kylin backup folder %s as snapshot %s (%d resources)\n", abs, res.Snapshot.ID.Short(), res.Resources)
	}
	return repo.OpenInfo(res.Snapshot), nil
}

func (e *env) printRestore(repo *snapshot.Repository, res *snapshot.RestoreResult, imported bool, target string, dry, verbose bool) error {
	changes := res.Counts[snapshot.Added] + res.Counts[snapshot.Changed] + res.Counts[snapshot.Deleted]
	if e.json {
		j := restoreJSON{
			Snapshot: toSnapshotJSON(res.Snapshot), Imported: imported, Scope: res.Scope.String(), Project: res.Project,
			Target: target, DryRun: dry, Applied: res.Applied, Counts: map[string]int{}, Plan: []planItemJSON{},
			Warnings: nonNil(res.Warnings),
		}
		for _, a := range []snapshot.Action{snapshot.Added, snapshot.Changed, snapshot.Deleted, snapshot.Unchanged, snapshot.Kept} {
			j.Counts[string(a)] = res.Counts[a]
		}
		if res.Safety != nil {
			sj := toSnapshotJSON(*res.Safety)
			j.Safety = &sj
			j.Undo = e.undoCommand(repo, res.Scope, res.Project, res.Safety.ID)
		}
		for _, it := range res.Plan {
			j.Plan = append(j.Plan, planItemJSON{Path: it.Path, Action: string(it.Action), OldSize: it.OldSize, NewSize: it.NewSize,
				OldTimestamp: it.OldTimestamp, NewTimestamp: it.NewTimestamp, Note: it.Note})
		}
		if res.Applied {
			j.Reminder = reloadReminder
		}
		return e.printJSON(j)
	}
	for _, w := range res.Warnings {
		e.warn("%s", w)
	}
	what := res.Scope.String()
	if res.Project != "" {
		what += " into project " + res.Project
	}
	if dry {
		from := fmt.Sprintf("snapshot %s (%s)", res.Snapshot.ID.Short(), res.Snapshot.Time.Local().Format("2006-01-02 15:04:05"))
		if imported {
			from = "Kylin backup folder " + res.Snapshot.ImportPath // not recorded: it has no snapshot id
		}
		e.printf("Dry run: restoring %s from %s into %s would do:\n", what, from, target)
		for _, it := range res.Plan {
			e.printf("  %-9s %s%s\n", it.Action, it.Path, sizeNote(it))
		}
	} else if verbose {
		for _, it := range res.Plan {
			if it.Action != snapshot.Unchanged {
				e.printf("  %-9s %s%s\n", it.Action, it.Path, sizeNote(it))
			}
		}
	}
	e.printf("%d added, %d changed, %d deleted, %d unchanged", res.Counts[snapshot.Added], res.Counts[snapshot.Changed],
		res.Counts[snapshot.Deleted], res.Counts[snapshot.Unchanged])
	if k := res.Counts[snapshot.Kept]; k > 0 {
		e.printf(", %d kept (shared)", k)
	}
	e.printf("\n")
	if dry {
		e.printf("Nothing was written.\n")
		return nil
	}
	if changes == 0 {
		e.printf("%s already matches snapshot %s: nothing to write.\n", target, res.Snapshot.ID.Short())
		return nil
	}
	e.printf("Restored %s from snapshot %s (%s) into %s\n", what, res.Snapshot.ID.Short(),
		res.Snapshot.Time.Local().Format(time.RFC3339), target)
	if res.Safety != nil {
		e.printf("The previous state was saved as safety snapshot %s; undo with: %s\n",
			res.Safety.ID.Short(), e.undoCommand(repo, res.Scope, res.Project, res.Safety.ID))
	}
	e.printf("%s", reloadReminder)
	return nil
}

func sizeNote(it snapshot.PlanItem) string {
	var s string
	switch it.Action {
	case snapshot.Added:
		s = fmt.Sprintf(" (%s)", humanBytes(it.NewSize))
	case snapshot.Changed:
		s = fmt.Sprintf(" (%s -> %s)", humanBytes(it.OldSize), humanBytes(it.NewSize))
	case snapshot.Deleted:
		s = fmt.Sprintf(" (%s)", humanBytes(it.OldSize))
	}
	if it.Note != "" {
		s += " [" + it.Note + "]"
	}
	return s
}

// undoCommand is the command line that puts back the state a restore of s
// (for a cube, into project) saved as safety snapshot id: the same verb,
// with --after-truncate, so that what the restore added goes too. It names
// the repository and metastore the restore used when they were given on the
// command line (rather than by the environment, which the user still has),
// a metadata URL with its password masked.
func (e *env) undoCommand(repo *snapshot.Repository, s scope.Scope, project string, id snapshot.ID) string {
	args := []string{"metastore"}
	if e.metadataURL != "" && e.metadataURL != e.getenv("METASTORE_METADATA_URL") {
		v := locate.Mask(e.metadataURL)
		if u, err := locate.ParseURL(e.metadataURL); err == nil && u.Scheme == "" {
			if abs, err := filepath.Abs(u.Path); err == nil {
				v = abs
			}
		}
		args = append(args, "--metadata-url", shellQuote(v))
	}
	if e.repo != "" && e.repo != e.getenv("METASTORE_REPO") {
		args = append(args, "--repo", shellQuote(repo.Path()))
	}
	switch s.Kind {
	case scope.Project:
		args = append(args, "restore-project", shellQuote(s.Name))
	case scope.Cube:
		args = append(args, "restore-cube", shellQuote(project))
	default:
		args = append(args, "restore")
	}
	return strings.Join(append(args, id.Short(), "--after-truncate"), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// restoreFailed is a restore that failed while writing the target, after
// it saved the target's previous state as a safety snapshot: the message
// says how to undo it, and --json gives the snapshot and the command their
// own fields (errorJSON).
type restoreFailed struct {
	err    error
	safety snapshot.Info
	undo   string
}

func (f *restoreFailed) Error() string { return f.err.Error() + "; undo with: " + f.undo }

func (f *restoreFailed) Unwrap() error { return f.err }

// errorJSON is the --json form of a failed command: the message and the exit
// code, and for a restore that failed after saving a safety snapshot, that
// snapshot (as log --json prints it) and the command that undoes the
// restore.
func errorJSON(err error, code int) map[string]any {
	out := map[string]any{"error": err.Error(), "exit_code": code}
	var f *restoreFailed
	if errors.As(err, &f) {
		out["safety"] = toSnapshotJSON(f.safety)
		out["undo"] = f.undo
	}
	return out
}
