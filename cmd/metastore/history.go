package main

import (
	"strconv"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

func historyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "every snapshot in which a resource (or every resource of a project) was added, changed or deleted",
		Description: "Newest first: snapshot time and id, scope, who took it, what happened, the resource's own\n" +
			"timestamp and the modifier fields Kylin keeps inside it (owner, last_modified, KE's modifiers).\n" +
			"A system snapshot always tells whether the resource exists; a project or cube snapshot only\n" +
			"speaks for the resources it holds. Safety snapshots are part of history and marked.",
		ArgsUsage: "PATH | --project P",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "patch", Aliases: []string{"p"}, Usage: "show the field-level diff against the previous version"},
			&cli.StringFlag{Name: "project", Usage: "the history of every resource of this project"},
		}, ignoreFlags()...),
		Action: func(c *cli.Context) error {
			project := c.String("project")
			if (project == "") == (c.NArg() == 0) || c.NArg() > 1 {
				return usagef("usage: metastore history PATH, or metastore history --project P")
			}
			h, err := e.api().History(c.Context, api.HistoryRequest{
				Path: c.Args().First(), Project: project, Patch: c.Bool("patch"), Ignore: ignoreList(c),
			})
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(h.JSON())
			}
			entries := h.Entries
			var last snapshot.ID
			for _, en := range entries {
				in := en.Snapshot
				if project == "" || in.ID != last {
					mark := ""
					switch in.Kind {
					case snapshot.KindSafety:
						mark = "  [safety]"
					case snapshot.KindImport:
						mark = "  [imported]"
					}
					e.printf("%s  %s  %-24s  %s%s\n", in.Time.Local().Format("2006-01-02 15:04:05"), in.ID.Short(), in.Scope, in.Author, mark)
					last = in.ID
				}
				e.printChange(en.Change, "    ")
				if ts := resourceTime(en.Change); ts != 0 {
					e.printf("        resource timestamp %s\n", msTime(ts))
				}
				for _, m := range en.Modifiers {
					v := m.Value
					if scope.IsTimeField(m.Field) {
						if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
							v += " (" + msTime(ms) + ")"
						}
					}
					e.printf("        %s: %s\n", m.Field, v)
				}
			}
			return nil
		},
	}
}

// resourceTime is the resource's own timestamp in the version an entry is
// about (the old one for a deletion).
func resourceTime(c snapshot.Change) int64 {
	if c.Action == snapshot.DiffDeleted {
		return c.OldTimestamp
	}
	return c.NewTimestamp
}
