package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// reloadReminder is what Kylin admins must do after changing the metastore
// behind a running Kylin.
const reloadReminder = api.ReloadReminder

// restoreFlags are the flags of a restore command; noun is "cube" or
// "model" for restore-cube and restore-model, whose --cube and --model
// are one flag under two names.
func restoreFlags(noun string) []cli.Flag {
	f := []cli.Flag{
		&cli.BoolFlag{Name: "after-truncate", Usage: "also delete in-scope resources the snapshot does not have (exact point-in-time rollback)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and write nothing"},
		&cli.BoolFlag{Name: "allow-foreign", Usage: "restore a snapshot taken from a metastore with another /UUID"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list every resource written or deleted"},
		&cli.StringFlag{Name: "create-schema", Usage: "restoring into a database without metastore tables: create them in Kylin 4 (\"4\": 2.5-4.x) or Kylin 5 (\"5\") layout"},
		&cli.BoolFlag{Name: "force", Usage: "restore into a Kylin 5.0 beta database that is already in a maintenance mode someone else took, inside it (it stays on)"},
	}
	switch noun {
	case "cube":
		f = append(f, &cli.StringFlag{Name: "cube", Aliases: []string{"model"}, Usage: "the cube (or Kylin 5 model) to take from REF when REF is not a cube snapshot"})
	case "model":
		f = append(f, &cli.StringFlag{Name: "model", Aliases: []string{"cube"}, Usage: "the model to take from REF when REF is not a model snapshot: its alias, PROJECT.alias or uuid"})
	}
	return f
}

// restoreCommands are restore, restore-project, restore-cube and
// restore-model.
func restoreCommands(e *env) []*cli.Command {
	return []*cli.Command{
		e.restoreScope("restore", "restore the whole metastore from a snapshot or a Kylin backup folder", "REF",
			"usage: metastore restore REF (a snapshot id or prefix, a tag, latest, or a Kylin backup folder)",
			func(c *cli.Context) api.RestoreRequest {
				return api.RestoreRequest{Kind: scope.System, Ref: c.Args().First()}
			}),
		e.restoreScope("restore-project", "restore one project from a project or system snapshot", "PROJECT REF",
			"usage: metastore restore-project PROJECT REF",
			func(c *cli.Context) api.RestoreRequest {
				return api.RestoreRequest{Kind: scope.Project, Name: c.Args().Get(0), Ref: c.Args().Get(1)}
			}),
		e.restoreScope("restore-cube", "restore one cube into PROJECT, merging it into the project's file (on Kylin 5: a model, as restore-model)", "PROJECT REF",
			"usage: metastore restore-cube PROJECT REF [--cube NAME]",
			func(c *cli.Context) api.RestoreRequest {
				return api.RestoreRequest{Kind: scope.Cube, Project: c.Args().Get(0), Cube: c.String("cube"), Ref: c.Args().Get(1)}
			}),
		e.restoreScope("restore-model", "restore one Kylin 5 model into PROJECT, which may be another project than its own (Kylin 5's name of restore-cube)", "PROJECT REF",
			"usage: metastore restore-model PROJECT REF [--model NAME]",
			func(c *cli.Context) api.RestoreRequest {
				return api.RestoreRequest{Kind: scope.Cube, Project: c.Args().Get(0), Cube: c.String("model"), Ref: c.Args().Get(1), Model: true}
			}),
	}
}

// restoreScope is a restore command: args names its arguments, wrong is
// the usage error for another number of them, req makes the request.
func (e *env) restoreScope(name, usage, args, wrong string, req func(*cli.Context) api.RestoreRequest) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: args,
		Flags:     restoreFlags(strings.TrimPrefix(name, "restore-")),
		Action: func(c *cli.Context) error {
			if c.NArg() != len(strings.Fields(args)) {
				return usagef("%s", wrong)
			}
			return e.runRestore(c, req(c))
		},
	}
}

func (e *env) runRestore(c *cli.Context, req api.RestoreRequest) error {
	req.AfterTruncate, req.DryRun, req.AllowForeign = c.Bool("after-truncate"), c.Bool("dry-run"), c.Bool("allow-foreign")
	req.CreateSchema, req.Force = c.String("create-schema"), c.Bool("force")
	r, err := e.api().Restore(c.Context, req, e.progress())
	if err != nil {
		return err
	}
	if e.json {
		return r.WriteJSON(e.stdout)
	}
	return e.printRestore(r, c.Bool("verbose"))
}

func (e *env) printRestore(r *api.Restore, verbose bool) error {
	res, target, dry := r.Result, r.Target, r.DryRun
	changes := res.Counts[snapshot.Added] + res.Counts[snapshot.Changed] + res.Counts[snapshot.Deleted]
	for _, w := range res.Warnings {
		e.warn("%s", w)
	}
	what := res.Scope.String()
	if res.Project != "" {
		what += " into project " + res.Project
	}
	if dry {
		from := fmt.Sprintf("snapshot %s (%s)", res.Snapshot.ID.Short(), res.Snapshot.Time.Local().Format("2006-01-02 15:04:05"))
		if r.Imported {
			from = "Kylin backup folder " + res.Snapshot.ImportPath // not recorded: it has no snapshot id
		}
		e.printf("Dry run: restoring %s from %s into %s would do:\n", what, from, target)
		if l := r.Live; l != nil && l.EpochTable != "" {
			held := "no Kylin node holds its epochs"
			if len(l.HeldBy) > 0 {
				held = "held by " + strings.Join(l.HeldBy, ", ")
			}
			e.printf("  (Kylin epoch table %s, %s: the restore %s Kylin's maintenance mode)\n", l.EpochTable, held, map[bool]string{true: "would take", false: "would meet"}[l.Maintenance == "would take"])
		}
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
		e.printf("The previous state was saved as safety snapshot %s; undo with: %s\n", res.Safety.ID.Short(), r.UndoCommand())
	}
	if l := r.Live; l != nil && l.AuditLog != "" {
		e.printf("Running Kylin 5 nodes replay the restore from audit log %s within seconds; no reload or restart is needed.\n", l.AuditLog)
		return nil
	}
	e.printf("%s", reloadReminder)
	return nil
}

func sizeNote(it snapshot.PlanItem) string {
	var s string
	switch it.Action {
	case snapshot.Added:
		s = fmt.Sprintf(" (%s)", api.HumanBytes(it.NewSize))
	case snapshot.Changed:
		s = fmt.Sprintf(" (%s -> %s)", api.HumanBytes(it.OldSize), api.HumanBytes(it.NewSize))
	case snapshot.Deleted:
		s = fmt.Sprintf(" (%s)", api.HumanBytes(it.OldSize))
	}
	if it.Note != "" {
		s += " [" + it.Note + "]"
	}
	return s
}

// undoCommand is the command line that puts back the state a restore of s
// (for a cube, into project) saved as safety snapshot id: the same verb,
// with --after-truncate, so that what the restore added goes too
// (api.UndoCommand), with the global flags of commandLine.
func (e *env) undoCommand(repo *snapshot.Repository, s scope.Scope, project string, id snapshot.ID) string {
	return e.commandLine(repo, api.UndoCommand(s, project, id.Short()))
}

// commandLine completes cmd ("metastore VERB ARGS", as package api writes
// it) with the repository and metastore this command used when they were
// given on the command line (rather than by the environment, which the user
// still has): a metadata URL with its password masked, a folder as an
// absolute path, the repository as repo's path.
func (e *env) commandLine(repo *snapshot.Repository, cmd string) string {
	args := []string{"metastore"}
	if e.metadataURL != "" && e.metadataURL != e.getenv("METASTORE_METADATA_URL") {
		v := locate.Mask(e.metadataURL)
		if u, err := locate.ParseURL(e.metadataURL); err == nil && u.Scheme == "" {
			if abs, err := filepath.Abs(u.Path); err == nil {
				v = abs
			}
		}
		args = append(args, "--metadata-url", api.Quote(v))
	}
	if e.repo != "" && e.repo != e.getenv("METASTORE_REPO") && repo != nil {
		args = append(args, "--repo", api.Quote(repo.Path()))
	}
	return strings.Join(args, " ") + strings.TrimPrefix(cmd, "metastore")
}
