package main

import (
	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/urfave/cli/v2"
)

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the resources of a snapshot with their sizes and timestamps",
		ArgsUsage: "REF [PREFIX]",
		Description: "PREFIX is a resource or a folder: ls latest /cube lists /cube/*, not /cube_desc/*.\n" +
			"Columns: size in bytes, Kylin's resource timestamp, path.",
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("usage: metastore ls REF [PREFIX]")
			}
			prefix := c.Args().Get(1)
			in, entries, err := e.api().Ls(c.Context, c.Args().First(), prefix)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(api.Entries(entries))
			}
			if len(entries) == 0 {
				e.warn("no resource under %s in snapshot %s", prefix, in.ID.Short())
				return nil
			}
			for _, en := range entries {
				e.printf("%10d  %s  %s\n", en.Size, msTime(en.Timestamp), en.Path)
			}
			return nil
		},
	}
}
