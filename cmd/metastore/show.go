package main

import (
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "describe a snapshot (show REF), or print one resource of it exactly (show REF:PATH)",
		Description: "show REF prints the snapshot's scope, time, author, message, source, metastore UUID, parent\n" +
			"and resource counts per type. show REF:PATH writes the resource's bytes to stdout unchanged.",
		ArgsUsage: "REF | REF:PATH",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("usage: metastore show REF or metastore show REF:PATH")
			}
			ref, path, isPath := snapshot.SplitRefPath(c.Args().First())
			if isPath {
				in, res, err := e.api().ShowResource(c.Context, ref, path)
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(api.Resource(in.ID, res))
				}
				_, err = e.stdout.Write(res.Data)
				return err
			}
			sum, err := e.api().Show(c.Context, ref)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(api.Summary(sum))
			}
			e.printSummary(sum)
			return nil
		},
	}
}

func (e *env) printSummary(sum *snapshot.Summary) {
	in := sum.Info
	line := func(k, v string) {
		if v != "" {
			e.printf("%-11s %s\n", k, v)
		}
	}
	line("snapshot", in.ID.String())
	line("time", in.Time.Local().Format("2006-01-02 15:04:05.000 MST"))
	if !in.Recorded.Equal(in.Time) {
		line("recorded", in.Recorded.Local().Format(time.DateTime+" MST"))
	}
	line("scope", in.Scope.String())
	kind := string(in.Kind)
	switch in.Kind {
	case snapshot.KindSafety:
		if in.RestoreOf != "" {
			kind += " (taken before restoring " + shortRef(in.RestoreOf) + ")"
		}
	case snapshot.KindImport:
		kind += " (Kylin backup folder " + in.ImportPath + folderTimeNote(in, "; ") + ")"
	}
	line("kind", kind)
	line("author", in.Author)
	line("message", in.Message)
	line("source", in.Source)
	line("uuid", in.UUID)
	line("resources", plural(in.Resources, "resource", "resources")+" ("+api.HumanBytes(in.Bytes)+")")
	if in.WithSegments {
		line("segments", "with the segments' dictionaries, snapshots and statistics")
	}
	if p := sum.Parent; p != nil {
		line("parent", p.ID.Short()+" ("+p.Time.Local().Format(time.DateTime)+", "+p.Message+")")
	} else {
		line("parent", "none (first snapshot of "+in.Scope.String()+")")
	}
	line("tags", joinOr(in.Tags, ""))
	if len(sum.Types) > 0 {
		e.printf("types\n")
		for _, t := range sum.Types {
			e.printf("  %-20s %6d\n", t.Type, t.Resources)
		}
	}
}
