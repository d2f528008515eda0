package main

import (
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/urfave/cli/v2"
)

type undoJSON struct {
	Stamp    string         `json:"stamp"`
	Restored []restoredJSON `json:"restored"`
	// Rebased are the snapshots recorded since the forget, written again
	// on top of their branch as it was before it.
	Rebased []restoredJSON `json:"rebased"`
}

// restoredJSON is a reference forget --undo put back: from the value the
// forget gave it to the one it had before.
type restoredJSON struct {
	Ref  string `json:"ref"`
	From string `json:"from"`
	To   string `json:"to"`
}

func forgetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "forget",
		Usage:     "forget the snapshots a retention policy does not keep (forget --undo puts them back, until the next prune)",
		ArgsUsage: " | --undo [STAMP]",
		Description: "The policy is applied to each group of snapshots on its own: the backups of the system, of each\n" +
			"project and of each cube, the safety snapshots of each scope, the imported Kylin backup folders.\n" +
			"Rules combine with OR, as restic's: --keep-daily 7 keeps the newest snapshot of each of the 7\n" +
			"newest days that have one. A tagged snapshot is never forgotten. Forgetting only removes\n" +
			"references: prune frees the space.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep-last", Usage: "keep the N newest snapshots"},
			&cli.IntFlag{Name: "keep-hourly", Usage: "keep the newest snapshot of each of the N newest hours that have one"},
			&cli.IntFlag{Name: "keep-daily", Usage: "keep the newest snapshot of each of the N newest days that have one"},
			&cli.IntFlag{Name: "keep-weekly", Usage: "keep the newest snapshot of each of the N newest ISO weeks that have one"},
			&cli.IntFlag{Name: "keep-monthly", Usage: "keep the newest snapshot of each of the N newest months that have one"},
			&cli.IntFlag{Name: "keep-yearly", Usage: "keep the newest snapshot of each of the N newest years that have one"},
			&cli.StringFlag{Name: "keep-within", Usage: "keep the snapshots recorded within `DURATION` (7d, 2w, 36h) of the group's newest"},
			&cli.StringSliceFlag{Name: "keep-tag", Usage: "keep the snapshots with this tag (every tagged snapshot is kept anyway)"},
			&cli.StringFlag{Name: "scope", Usage: "only the groups of this scope: system, project/P or cube/C"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be kept and forgotten, change nothing"},
			&cli.BoolFlag{Name: "undo", Usage: "put back the branches and tags of the last forget (or of forget STAMP)"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("undo") {
				return undoForget(c, e)
			}
			if c.NArg() > 0 {
				return usagef("forget takes no arguments (forget --undo [STAMP] undoes one)")
			}
			req := keepRequest(c)
			req.Scope, req.DryRun = c.String("scope"), c.Bool("dry-run")
			f, err := e.api().Forget(c.Context, req)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(f.JSON())
			}
			printForget(e, f)
			return nil
		},
	}
}

// keepNames are the flags of a retention policy's rules, as forget and
// serve (scheduleKeepFlags) name them: the six counts first.
func keepNames() []string {
	return []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly", "keep-within", "keep-tag"}
}

// keepRequest reads the rules of keepNames into a forget request.
func keepRequest(c *cli.Context) api.ForgetRequest {
	return api.ForgetRequest{KeepLast: c.Int("keep-last"), KeepHourly: c.Int("keep-hourly"), KeepDaily: c.Int("keep-daily"),
		KeepWeekly: c.Int("keep-weekly"), KeepMonthly: c.Int("keep-monthly"), KeepYearly: c.Int("keep-yearly"),
		KeepWithin: c.String("keep-within"), KeepTags: c.StringSlice("keep-tag")}
}

// printForget renders a forget: per group, each snapshot kept or forgotten
// and why, then the totals and how to undo.
func printForget(e *env, f *api.Forget) {
	r := f.Result
	e.printf("Policy: %s\n", r.Policy)
	for _, g := range r.Groups {
		e.printf("\n%s (%s snapshots of %s)\n", g.Branch, g.Kind, g.Scope)
		for _, v := range g.Snapshots {
			in := v.Snapshot
			verdict, why := "forget", ""
			if v.Keep {
				verdict, why = "keep", strings.Join(v.Reasons, ", ")
			}
			switch {
			case v.NewID.IsZero():
			case r.DryRun:
				why += "  (would become " + v.NewID.Short() + ")"
			default:
				why += "  (now " + v.NewID.Short() + ")"
			}
			line := fmt.Sprintf("  %-6s  %s  %s  %s", verdict, in.ID.Short(), in.Recorded.Local().Format("2006-01-02 15:04:05"), why)
			e.printf("%s\n", strings.TrimRight(line, " "))
		}
	}
	if len(r.Groups) == 0 {
		e.printf("No snapshots yet.\n")
	}
	e.printf("\n")
	switch {
	case r.DryRun:
		e.printf("Would keep %s and forget %s (dry run: nothing changed).\n", plural(r.Kept, "snapshot", "snapshots"), plural(r.Forgotten, "snapshot", "snapshots"))
		return
	case r.Forgotten == 0:
		e.printf("Kept all %s: nothing to forget.\n", plural(r.Kept, "snapshot", "snapshots"))
		return
	}
	e.printf("Kept %s, forgot %s.\n", plural(r.Kept, "snapshot", "snapshots"), plural(r.Forgotten, "snapshot", "snapshots"))
	if r.Rewritten > 0 {
		e.printf("%s above a forgotten one got a new id; the old id still names it.\n", plural(r.Rewritten, "kept snapshot", "kept snapshots"))
	}
	e.printf("Undo (until the next prune): %s\n", f.Undo)
}

// undoForget is forget --undo [STAMP].
func undoForget(c *cli.Context, e *env) error {
	for _, name := range append(keepNames(), "scope", "dry-run") {
		if c.IsSet(name) {
			return usagef("forget --undo takes no policy (--%s)", name)
		}
	}
	if c.NArg() > 1 {
		return usagef("usage: metastore forget --undo [STAMP]")
	}
	u, err := e.api().UndoForget(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if e.json {
		j := undoJSON{Stamp: u.Stamp, Restored: []restoredJSON{}, Rebased: []restoredJSON{}}
		for _, ch := range u.Refs {
			j.Restored = append(j.Restored, restoredJSON{Ref: ch.Ref, From: ch.Old.String(), To: ch.New.String()})
		}
		for _, ch := range u.Rebased {
			j.Rebased = append(j.Rebased, restoredJSON{Ref: ch.Ref, From: ch.Old.String(), To: ch.New.String()})
		}
		return e.printJSON(j)
	}
	e.printf("Undid forget %s:\n", u.Stamp)
	for _, ch := range u.Refs {
		e.printf("  %s  %s -> %s\n", strings.TrimPrefix(ch.Ref, "refs/"), ch.Old.Short(), ch.New.Short())
	}
	for _, ch := range u.Rebased {
		e.printf("Snapshot %s, recorded on %s since the forget, is now %s (its old id still names it).\n",
			ch.Old.Short(), strings.TrimPrefix(ch.Ref, "refs/heads/"), ch.New.Short())
	}
	return nil
}
