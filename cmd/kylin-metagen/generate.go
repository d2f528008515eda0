package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/urfave/cli/v2"
)

// generateCommand builds "kylin-metagen generate".
func generateCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "write a deterministic metastore of exactly N resources into an empty folder or database",
		UsageText: "kylin-metagen generate --out DIR|URL --resources N [--projects P] [--seed S] [--shape default|jobs] [--create-schema 4|5] [--json]",
		Description: "Writes a deterministic synthetic Kylin metastore of exactly N resources into DIR, which\n" +
			"must be empty or absent (file mtimes are the resource timestamps), or into the database\n" +
			"metastore a Kylin metadata URL names, which must hold no resource (one transaction).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "folder to write (empty or absent), or a Kylin metadata URL (IDENTIFIER@jdbc,url=...,username=...,password=...)"},
			&cli.IntFlag{Name: "resources", Usage: fmt.Sprintf("number of resources to write (at least %d)", metagen.MinResources)},
			&cli.IntFlag{Name: "projects", Usage: "number of projects (0: one per ~4,000 resources)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed: the same seed, counts and shape give identical output"},
			&cli.StringFlag{Name: "shape", Value: string(metagen.ShapeDefault), Usage: "spread of the resources: default (jobs ~45%), or jobs (/execute and /execute_output ~30% each)"},
			&cli.StringFlag{Name: "create-schema", Usage: "database without metastore tables: create them in Kylin 4 (\"4\") or Kylin 5 (\"5\") layout"},
			&cli.DurationFlag{Name: "db-timeout", Usage: "database metastores: how long to wait to connect and log in"},
			&cli.IntFlag{Name: "workers", Usage: "resources written in parallel (0: twice the CPUs; does not change the output)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			if c.String("out") == "" {
				return usagef("--out is required")
			}
			if c.Int("resources") == 0 {
				return usagef("--resources is required")
			}
			shape, err := metagen.ParseShape(c.String("shape"))
			if err != nil {
				return err
			}
			opts := metagen.Options{Resources: c.Int("resources"), Projects: c.Int("projects"), Seed: c.Uint64("seed"), Shape: shape, Workers: c.Int("workers")}
			// Check the options before creating anything.
			if err := metagen.Check(opts); err != nil {
				return err
			}
			start := time.Now()
			out, err := openOut(c.Context, c.String("out"), c.String("create-schema"), c.Duration("db-timeout"))
			if err != nil {
				return err
			}
			defer out.close()
			st, err := metagen.Generate(c.Context, out.store, opts)
			if err != nil {
				return err
			}
			st.Dir = out.name
			if c.Bool("json") {
				return writeJSON(stdout, st)
			}
			return printStats(stdout, st, time.Since(start))
		},
	}
}

// printStats renders Stats as text.
func printStats(w io.Writer, st metagen.Stats, took time.Duration) error {
	shape := ""
	if st.Shape != metagen.ShapeDefault {
		shape = fmt.Sprintf(", %s shape", st.Shape)
	}
	fmt.Fprintf(w, "generated %d resources, %s, in %s (seed %d, %d projects%s) in %s\n\n",
		st.Resources, humanBytes(st.Bytes), st.Dir, st.Seed, st.Projects, shape, took.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tcount\tshare\tbytes\tlargest\t")
	for _, t := range st.Types {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%s\t\n", t.Type, t.Count, 100*float64(t.Count)/float64(st.Resources), humanBytes(t.Bytes), humanBytes(t.MaxBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tcount\tbytes\t")
	for _, b := range st.Sizes {
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", b.Label, b.Count, humanBytes(b.Bytes))
	}
	return tw.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
