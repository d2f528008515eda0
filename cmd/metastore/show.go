package main

import (
	"bytes"
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// summaryJSON is the --json form of show REF.
type summaryJSON struct {
	Snapshot snapshotJSON         `json:"snapshot"`
	Parent   *snapshotJSON        `json:"parent"`
	Types    []snapshot.TypeCount `json:"types"`
}

// resourceJSON is the --json form of show REF:PATH: the content as a
// string when it is UTF-8 text without NUL bytes, in base64 otherwise.
type resourceJSON struct {
	Snapshot      string  `json:"snapshot"`
	Path          string  `json:"path"`
	Size          int     `json:"size"`
	Timestamp     int64   `json:"timestamp"`
	ID            string  `json:"id"`
	Content       *string `json:"content,omitempty"`
	ContentBase64 *string `json:"content_base64,omitempty"`
}

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
				if err := metastore.CheckPath(path); err != nil {
					return usagef("%v", err)
				}
			}
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			snap, err := repo.Open(c.Context, ref)
			if err != nil {
				return err
			}
			if isPath {
				res, err := snap.Resource(c.Context, path)
				if err != nil {
					return err
				}
				if e.json {
					j := resourceJSON{Snapshot: snap.Info.ID.String(), Path: res.Path, Size: len(res.Data),
						Timestamp: res.Timestamp, ID: snapshot.BlobID(res.Data).String()}
					if utf8.Valid(res.Data) && !bytes.ContainsRune(res.Data, 0) {
						text := string(res.Data)
						j.Content = &text
					} else {
						b64 := base64.StdEncoding.EncodeToString(res.Data)
						j.ContentBase64 = &b64
					}
					return e.printJSON(j)
				}
				_, err = e.stdout.Write(res.Data)
				return err
			}
			sum, err := repo.Summarize(c.Context, snap)
			if err != nil {
				return err
			}
			sum.Info.Source = locate.Mask(sum.Info.Source)
			if e.json {
				j := summaryJSON{Snapshot: toSnapshotJSON(sum.Info), Types: sum.Types}
				if sum.Parent != nil {
					p := toSnapshotJSON(*sum.Parent)
					j.Parent = &p
				}
				if j.Types == nil {
					j.Types = []snapshot.TypeCount{}
				}
				return e.printJSON(j)
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
	line("resources", plural(in.Resources, "resource", "resources")+" ("+humanBytes(in.Bytes)+")")
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
