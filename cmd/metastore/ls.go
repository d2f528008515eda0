package main

import (
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/urfave/cli/v2"
)

// entryJSON is one resource in ls --json.
type entryJSON struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Timestamp int64  `json:"timestamp"`
	ID        string `json:"id"`
}

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
			if prefix != "" {
				if err := metastore.CheckPrefix("/" + strings.TrimPrefix(prefix, "/")); err != nil {
					return usagef("%v", err)
				}
			}
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			snap, err := repo.Open(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			entries, err := snap.Entries(c.Context, prefix)
			if err != nil {
				return err
			}
			if e.json {
				out := make([]entryJSON, 0, len(entries))
				for _, en := range entries {
					out = append(out, entryJSON{Path: en.Path, Size: en.Size, Timestamp: en.Timestamp, ID: en.Change})
				}
				return e.printJSON(out)
			}
			if len(entries) == 0 {
				e.warn("no resource under %s in snapshot %s", prefix, snap.Info.ID.Short())
				return nil
			}
			for _, en := range entries {
				e.printf("%10d  %s  %s\n", en.Size, msTime(en.Timestamp), en.Path)
			}
			return nil
		},
	}
}
