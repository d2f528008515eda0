package main

import (
	"fmt"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// snapshotJSON is the --json form of a snapshot description.
type snapshotJSON = api.SnapshotJSON

func toSnapshotJSON(in snapshot.Info) snapshotJSON { return api.Snapshot(in) }

func logCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "list snapshots, newest first",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scope", Usage: "only snapshots of this scope: system, project/P or cube/C"},
			&cli.IntFlag{Name: "n", Usage: "at most this many snapshots (0: all)"},
			&cli.BoolFlag{Name: "no-safety", Usage: "leave out the safety snapshots taken before restores"},
			&cli.StringFlag{Name: "instance", Usage: "the snapshots of this instance (a metastore UUID or a unique prefix), this repository's or pulled from a remote; \"all\" for every instance (default: this repository's own)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("log takes no arguments; use --scope to filter")
			}
			instance := c.String("instance")
			list, err := e.api().Log(c.Context, api.LogRequest{Scope: c.String("scope"), N: c.Int("n"), NoSafety: c.Bool("no-safety"), Instance: instance})
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(api.Snapshots(list))
			}
			if len(list) == 0 {
				e.printf("No snapshots yet.\n")
			}
			for _, in := range list {
				mark := ""
				switch in.Kind {
				case snapshot.KindSafety:
					mark = " [safety]"
				case snapshot.KindImport:
					mark = " [imported: " + in.ImportPath + folderTimeNote(in, ", ") + "]"
				}
				tags := ""
				if len(in.Tags) > 0 {
					tags = " (tag: " + joinOr(in.Tags, "") + ")"
				}
				inst := ""
				if instance != "" {
					inst = fmt.Sprintf("%-8.8s  ", in.Instance)
				}
				e.printf("%s  %s%s  %-28s  %-16s  %6d resources  %s%s%s\n",
					in.ID.Short(), inst, in.Time.Local().Format("2006-01-02 15:04:05"), in.Scope, in.Author,
					in.Resources, in.Message, tags, mark)
			}
			if instance == "" {
				return e.printInstanceNote(c)
			}
			return nil
		},
	}
}

// folderTimeNote describes the time in an imported folder's name, after
// sep, or returns "" when there is none.
func folderTimeNote(in snapshot.Info, sep string) string {
	t, err := time.Parse("2006-01-02T15:04:05", in.FolderTime)
	if err != nil {
		return ""
	}
	return sep + "folder time " + t.Format(time.DateTime) + " (folder name, zone unknown)"
}

func shortRef(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func tagCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "name a snapshot (tag REF NAME), or remove a name (tag -d NAME)",
		ArgsUsage: "REF NAME | -d NAME",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "delete", Aliases: []string{"d"}, Usage: "remove the tag"},
		},
		Action: func(c *cli.Context) error {
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			if c.Bool("delete") {
				if c.NArg() != 1 {
					return usagef("usage: metastore tag -d NAME")
				}
				if err := repo.DeleteTag(c.Context, c.Args().First()); err != nil {
					return err
				}
				if e.json {
					return e.printJSON(map[string]any{"deleted": c.Args().First()})
				}
				e.printf("Deleted tag %s\n", c.Args().First())
				return nil
			}
			if c.NArg() != 2 {
				return usagef("usage: metastore tag REF NAME")
			}
			in, err := repo.Tag(c.Context, c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(toSnapshotJSON(in))
			}
			e.printf("Tagged snapshot %s (%s, %s) as %s\n", in.ID.Short(), in.Scope, in.Time.Local().Format("2006-01-02 15:04:05"), c.Args().Get(1))
			return nil
		},
	}
}

// printInstanceNote ends the default log, on stderr (stdout stays one line
// per snapshot for scripts): which instance these snapshots belong to, and
// whether others were pulled.
func (e *env) printInstanceNote(c *cli.Context) error {
	insts, err := e.api().Instances(c.Context)
	if err != nil {
		return err
	}
	own, others, pulled := "", 0, 0
	for _, in := range insts {
		if in.Own {
			own = in.Name
			continue
		}
		if in.Name == "" {
			continue
		}
		others++
		pulled += in.Snapshots
	}
	if own != "" {
		fmt.Fprintf(e.stderr, "Instance %s (this repository's own snapshots).\n", own)
	}
	if others > 0 {
		fmt.Fprintf(e.stderr, "%s of %s pulled from remotes: metastore log --instance all\n", plural(pulled, "snapshot", "snapshots"), plural(others, "other instance", "other instances"))
	}
	return nil
}
