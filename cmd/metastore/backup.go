package main

import (
	"strings"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/scope"
	"github.com/urfave/cli/v2"
)

func backupFlags(cube bool) []cli.Flag {
	f := []cli.Flag{
		&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "a title for the snapshot"},
		&cli.StringSliceFlag{Name: "tag", Usage: "name the snapshot (repeatable)"},
		&cli.BoolFlag{Name: "skip-if-unchanged", Usage: "record nothing if the content equals the scope's latest snapshot"},
	}
	if cube {
		f = append(f, &cli.BoolFlag{Name: "with-segments", Usage: "also record the dictionaries, table snapshots and statistics the cube's segments reference"})
	}
	return f
}

// backupCommands are backup, backup-project, backup-cube and backup-model.
func backupCommands(e *env) []*cli.Command {
	return []*cli.Command{{
		Name:      "backup",
		Usage:     "back up the whole metastore (system scope)",
		ArgsUsage: " ",
		Flags:     backupFlags(false),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("backup takes no arguments (got %q); use backup-project or backup-cube for a scope", c.Args().First())
			}
			return e.runBackup(c, scope.SystemScope(), "")
		},
	},
		e.backupScope("backup-project", "back up one project and everything that belongs to it", "PROJECT", scope.ProjectScope),
		e.backupScope("backup-cube", "back up one cube: its descriptor, model, project, tables and table_exd (on Kylin 5: a model, as backup-model)", "CUBE", scope.CubeScope),
		e.backupScope("backup-model", "back up one Kylin 5 model (alias, PROJECT.alias or uuid): its model_desc, index_plan, dataflow, project file, tables and table_exd, and with --with-segments its segments' details (Kylin 5's name of backup-cube)", "MODEL", scope.CubeScope),
	}
}

// backupScope is the command that backs up the project or cube scope mk
// makes of its first argument, into the repository of its second, if any.
func (e *env) backupScope(name, usage, arg string, mk func(string) scope.Scope) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: arg + " [REPO]",
		Flags:     backupFlags(arg == "CUBE" || arg == "MODEL"),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("usage: metastore %s %s [REPO]", name, arg)
			}
			s, err := namedScope(mk, c.Args().Get(0))
			if err != nil {
				return err
			}
			return e.runBackup(c, s, c.Args().Get(1))
		},
	}
}

// namedScope builds a project or cube scope and checks the name.
func namedScope(mk func(string) scope.Scope, name string) (scope.Scope, error) {
	return api.NamedScope(mk, name)
}

func (e *env) runBackup(c *cli.Context, s scope.Scope, repoArg string) error {
	b, err := e.api().Backup(c.Context, api.BackupRequest{
		Scope:           s,
		Repo:            repoArg,
		WithSegments:    c.Bool("with-segments"),
		Message:         c.String("message"),
		Tags:            c.StringSlice("tag"),
		SkipIfUnchanged: c.Bool("skip-if-unchanged"),
		Model:           c.Command.Name == "backup-model",
	}, e.progress())
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(b.JSON())
	}
	res, created, desc := b.Result, b.Created, b.Source
	for _, w := range b.Warnings() {
		e.warn("%s", w)
	}
	if !res.Recorded {
		e.printf("Nothing changed in %s since snapshot %s (%s): no snapshot recorded.\n",
			s, res.Snapshot.ID.Short(), res.Snapshot.Time.Format(time.RFC3339))
		e.printf("  repository  %s\n", res.Repository)
		return nil
	}
	if created {
		e.printf("Created snapshot repository %s\n", res.Repository)
	}
	e.printf("Backup of %s saved to %s\n", s, res.Repository)
	e.printf("  snapshot    %s\n", res.Snapshot.ID.Short())
	e.printf("  scope       %s\n", s)
	e.printf("  source      %s\n", desc)
	e.printf("  resources   %d (%s)\n", res.Resources, api.HumanBytes(res.Bytes))
	e.printf("  new         %s, %s (%s packed)\n", plural(res.NewObjects, "object", "objects"), api.HumanBytes(res.NewBytes), api.HumanBytes(res.PackBytes))
	if res.Unread > 0 {
		e.printf("  unchanged   %d resources not re-read (change cache)\n", res.Unread)
	}
	if len(res.Snapshot.Tags) > 0 {
		e.printf("  tags        %s\n", joinOr(res.Snapshot.Tags, ""))
	}
	restore := api.RestoreCommand(s, res.Snapshot.ID.Short(), "")
	if c.Command.Name == "backup-model" {
		// Answer in the spelling asked in.
		restore = strings.Replace(restore, "restore-cube", "restore-model", 1)
	}
	e.printf("Restore it with: %s\n", restore)
	return nil
}
