package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// newChurnCommand builds "kylin-metagen churn".
func newChurnCommand(stdout, stderr io.Writer) *command {
	var opts churnOptions
	var asJSON bool
	fs := newFlagSet("churn", "churn --dir DIR --fraction F [--seed S] [--json]",
		"Applies one round of realistic changes to the metastore in DIR, touching about F\n"+
			"of its resources: ~60% modified, ~30% added, ~10% deleted. Untouched files are\n"+
			"not rewritten; changed files get later timestamps.\n", stderr)
	fs.StringVar(&opts.Dir, "dir", "", "metastore folder to change in place")
	fs.Float64Var(&opts.Fraction, "fraction", 0, "share of resources to touch, in (0, 1] (0.01 = 1%)")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed: the same seed and folder content give the same changes")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return &command{flags: fs, run: func(ctx context.Context) error {
		st, err := churn(ctx, opts)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(stdout, st)
		}
		_, err = fmt.Fprintf(stdout, "churn %s: touched %d of %d resources (%.2f%%, target %d): %d added, %d modified, %d deleted; %d resources now, changes dated from %s\n",
			st.Dir, st.Touched, st.Before, 100*float64(st.Touched)/float64(st.Before), st.Target,
			st.Added, st.Modified, st.Deleted, st.After, time.UnixMilli(st.Timestamp).UTC().Format(time.RFC3339))
		return err
	}}
}
