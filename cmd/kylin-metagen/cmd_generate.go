package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// newGenerateCommand builds "kylin-metagen generate".
func newGenerateCommand(stdout, stderr io.Writer) *command {
	var opts generateOptions
	var asJSON bool
	fs := newFlagSet("generate", "generate --out DIR --resources N [--projects P] [--seed S] [--json]",
		"Writes a deterministic synthetic Kylin metastore of exactly N resources into DIR,\n"+
			"which must be empty or absent. File mtimes are the resource timestamps.\n", stderr)
	fs.StringVar(&opts.Out, "out", "", "directory to write (must be empty or absent)")
	fs.IntVar(&opts.Resources, "resources", 0, "number of resources to write (at least 200)")
	fs.IntVar(&opts.Projects, "projects", 0, "number of projects (0: one per ~4,000 resources)")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed: the same seed and counts give identical output")
	fs.IntVar(&opts.Workers, "workers", 0, "files written in parallel (0: twice the CPUs; does not change the output)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return &command{flags: fs, run: func(ctx context.Context) error {
		if opts.Out == "" {
			return &usageError{"--out is required"}
		}
		if opts.Resources == 0 {
			return &usageError{"--resources is required"}
		}
		start := time.Now()
		st, err := generate(ctx, opts)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(stdout, st)
		}
		return printStats(stdout, st, time.Since(start))
	}}
}

// printStats renders Stats as text.
func printStats(w io.Writer, st Stats, took time.Duration) error {
	fmt.Fprintf(w, "generated %d resources, %s, in %s (seed %d, %d projects) in %s\n\n",
		st.Resources, humanBytes(st.Bytes), st.Dir, st.Seed, st.Projects, took.Round(time.Millisecond))
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
