package main

import (
	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/urfave/cli/v2"
)

func pruneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove what no snapshot, tag or remote-tracking reference keeps, and repack the repository with deltas (ends forget's undo)",
		Description: "Prune deletes forget's undo points (refs/forgotten/), then writes every object the remaining\n" +
			"references reach into one new pack, similar objects stored as deltas of each other, and deletes\n" +
			"the old packs. It holds the repository lock (backups wait) and is safe to interrupt at any point.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be removed; change nothing"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("prune takes no argument")
			}
			req := api.PruneRequest{DryRun: c.Bool("dry-run")}
			p, err := e.api().Prune(c.Context, req, e.progress())
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(p.JSON())
			}
			res := p.Result
			for _, u := range res.UndoDropped {
				if res.DryRun {
					e.printf("would drop forget's undo point %s\n", u)
				} else {
					e.printf("dropped forget's undo point %s\n", u)
				}
			}
			if res.DryRun {
				e.printf("Would remove %s of %d (%d kept, reached from %s); the repository takes %s now.\n",
					plural(res.ObjectsRemoved, "object", "objects"), res.ObjectsBefore, res.ObjectsAfter,
					plural(res.Kept, "reference", "references"), api.HumanBytes(res.BytesBefore))
				return nil
			}
			e.printf("Removed %s of %d; kept %d (%d stored as deltas), reached from %s.\n",
				plural(res.ObjectsRemoved, "object", "objects"), res.ObjectsBefore, res.ObjectsAfter, res.Deltas,
				plural(res.Kept, "reference", "references"))
			e.printf("Repository: %s in %s -> %s in %s.\n", api.HumanBytes(res.BytesBefore), plural(res.PacksBefore, "pack", "packs"),
				api.HumanBytes(res.BytesAfter), plural(res.PacksAfter, "pack", "packs"))
			return nil
		},
	}
}
