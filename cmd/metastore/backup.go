package main

import (
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
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

func backupCommand(e *env) *cli.Command {
	return &cli.Command{
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
	}
}

func backupProjectCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "backup-project",
		Usage:     "back up one project and everything that belongs to it",
		ArgsUsage: "PROJECT [REPO]",
		Flags:     backupFlags(false),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("usage: metastore backup-project PROJECT [REPO]")
			}
			s, err := namedScope(scope.ProjectScope, c.Args().Get(0))
			if err != nil {
				return err
			}
			return e.runBackup(c, s, c.Args().Get(1))
		},
	}
}

func backupCubeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "backup-cube",
		Usage:     "back up one cube: its descriptor, model, project, tables and table_exd",
		ArgsUsage: "CUBE [REPO]",
		Flags:     backupFlags(true),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("usage: metastore backup-cube CUBE [REPO]")
			}
			s, err := namedScope(scope.CubeScope, c.Args().Get(0))
			if err != nil {
				return err
			}
			return e.runBackup(c, s, c.Args().Get(1))
		},
	}
}

// namedScope builds a project or cube scope and checks the name.
func namedScope(mk func(string) scope.Scope, name string) (scope.Scope, error) {
	s := mk(name)
	if _, err := scope.Parse(s.String()); err != nil {
		return s, usageError{err.Error()}
	}
	return s, nil
}

// backupJSON is the --json form of a backup result.
type backupJSON struct {
	Snapshot   snapshotJSON `json:"snapshot"`
	Recorded   bool         `json:"recorded"`
	Repository string       `json:"repository"`
	Created    bool         `json:"repository_created"`
	Resources  int          `json:"resources"`
	Bytes      int64        `json:"bytes"`
	NewObjects int          `json:"new_objects"`
	NewBytes   int64        `json:"new_bytes"`
	PackBytes  int64        `json:"packed_bytes"`
	Unread     int          `json:"unread_unchanged"`
	Warnings   []string     `json:"warnings"`
	Seconds    float64      `json:"seconds"`
}

// checkMessage accepts a snapshot title: one line of text. A line break
// would forge lines in log (and look like trailers in the commit), other
// control characters would rewrite the terminal of whoever reads log.
func checkMessage(msg string) error {
	if !utf8.ValidString(msg) {
		return usagef("-m: the message is not valid UTF-8")
	}
	for i, r := range msg {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return usagef("-m: the message is one line of text: character %q at byte %d is a line break or control character", r, i)
		}
	}
	return nil
}

func (e *env) runBackup(c *cli.Context, s scope.Scope, repoArg string) error {
	start := time.Now()
	if err := checkMessage(c.String("message")); err != nil {
		return err
	}
	if err := e.checkSeparate(repoArg); err != nil {
		return err
	}
	src, desc, err := e.openMetastore(c.Context, false)
	if err != nil {
		return err
	}
	defer closeStore(src)
	repo, created, err := e.openOrCreateRepo(repoArg)
	if err != nil {
		return err
	}
	defer repo.Close()
	res, err := repo.Backup(c.Context, src, snapshot.BackupOptions{
		Scope:           s,
		WithSegments:    c.Bool("with-segments"),
		Message:         c.String("message"),
		Tags:            c.StringSlice("tag"),
		SkipIfUnchanged: c.Bool("skip-if-unchanged"),
		Source:          desc,
		Progress:        e.progress(),
	})
	if err != nil {
		if created {
			// Nothing was recorded: leave no empty repository behind.
			if _, rerr := repo.RemoveIfUnused(); rerr != nil {
				e.warn("could not remove the repository this backup created at %s: %v", repo.Path(), rerr)
			}
		}
		return err
	}
	var warns []string
	for _, w := range res.Warnings {
		warns = append(warns, w.Path+": "+w.Message)
	}
	if e.json {
		return e.printJSON(backupJSON{
			Snapshot: toSnapshotJSON(res.Snapshot), Recorded: res.Recorded, Repository: res.Repository, Created: created,
			Resources: res.Resources, Bytes: res.Bytes, NewObjects: res.NewObjects, NewBytes: res.NewBytes,
			PackBytes: res.PackBytes, Unread: res.Unread, Warnings: nonNil(warns), Seconds: time.Since(start).Seconds(),
		})
	}
	for _, w := range warns {
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
	e.printf("  resources   %d (%s)\n", res.Resources, humanBytes(res.Bytes))
	e.printf("  new         %s, %s (%s packed)\n", plural(res.NewObjects, "object", "objects"), humanBytes(res.NewBytes), humanBytes(res.PackBytes))
	if res.Unread > 0 {
		e.printf("  unchanged   %d resources not re-read (change cache)\n", res.Unread)
	}
	if len(res.Snapshot.Tags) > 0 {
		e.printf("  tags        %s\n", joinOr(res.Snapshot.Tags, ""))
	}
	e.printf("Restore it with: metastore restore%s %s\n", restoreVerb(s), res.Snapshot.ID.Short())
	return nil
}

func restoreVerb(s scope.Scope) string {
	switch s.Kind {
	case scope.Project:
		return "-project " + s.Name
	case scope.Cube:
		return "-cube PROJECT"
	}
	return ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
