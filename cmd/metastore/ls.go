package main

import (
	"bufio"
	"fmt"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
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
			// Each entry as it comes: a listing of a million resources is
			// never held.
			out := bufio.NewWriter(e.stdout)
			arr := newJSONArray(out)
			n := 0
			in, err := e.api().LsEach(c.Context, c.Args().First(), prefix, func(en metastore.Entry) error {
				n++
				if e.json {
					return arr.add(api.Entry(en))
				}
				_, err := fmt.Fprintf(out, "%10d  %s  %s\n", en.Size, msTime(en.Timestamp), en.Path)
				return err
			})
			if err != nil {
				// What was listed before the failure stays listed, whole
				// lines (or array elements) only; the exit code says.
				out.Flush()
				return err
			}
			if e.json {
				if err := arr.close(); err != nil {
					return err
				}
			} else if n == 0 {
				e.warn("no resource under %s in snapshot %s", prefix, in.ID.Short())
			}
			return out.Flush()
		},
	}
}
