package main

import (
	"fmt"
	"io"
	"time"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/urfave/cli/v2"
)

// churnCommand builds "kylin-metagen churn".
func churnCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "churn",
		Usage:     "modify, add and delete about F of the resources of a metastore, as a busy deployment would",
		UsageText: "kylin-metagen churn --dir DIR|URL --fraction F [--seed S] [--json]",
		Description: "Applies one round of realistic changes to the metastore in DIR (or the database metastore\n" +
			"a Kylin metadata URL names, in one transaction), touching about F of its resources: ~60%\n" +
			"modified, ~30% added, ~10% deleted (a job-heavy metastore: 40%, 30%, 30%). Untouched\n" +
			"resources are not rewritten; changed ones get later timestamps.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "metastore to change in place: a folder, or a Kylin metadata URL"},
			&cli.Float64Flag{Name: "fraction", Usage: "share of resources to touch, in (0, 1] (0.01 = 1%)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed: the same seed and metastore content give the same changes"},
			&cli.DurationFlag{Name: "db-timeout", Usage: "database metastores: how long to wait to connect and log in"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if c.String("dir") == "" {
				return usagef("--dir is required")
			}
			opts := metagen.ChurnOptions{Fraction: c.Float64("fraction"), Seed: c.Uint64("seed")}
			if err := metagen.CheckChurn(opts); err != nil {
				return err
			}
			dir, err := openDir(c.Context, c.String("dir"), c.Duration("db-timeout"))
			if err != nil {
				return err
			}
			defer dir.close()
			st, err := metagen.Churn(c.Context, dir.store, opts)
			if err != nil {
				return err
			}
			st.Dir = dir.name
			if c.Bool("json") {
				return writeJSON(stdout, st)
			}
			_, err = fmt.Fprintf(stdout, "churn %s: touched %d of %d resources (%.2f%%, target %d): %d added, %d modified, %d deleted; %d resources now, changes dated from %s\n",
				st.Dir, st.Touched, st.Before, 100*float64(st.Touched)/float64(st.Before), st.Target,
				st.Added, st.Modified, st.Deleted, st.After, time.UnixMilli(st.Timestamp).UTC().Format(time.RFC3339))
			return err
		},
	}
}
