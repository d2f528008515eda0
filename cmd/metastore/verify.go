package main

import (
	"fmt"

	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

type problemJSON struct {
	Ref      string `json:"ref,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Path     string `json:"path,omitempty"`
	Object   string `json:"object,omitempty"`
	Message  string `json:"message"`
}

type verifyJSON struct {
	OK        bool          `json:"ok"`
	ReadData  bool          `json:"read_data"`
	Snapshots int           `json:"snapshots"`
	Trees     int           `json:"trees"`
	Blobs     int           `json:"blobs"`
	Problems  []problemJSON `json:"problems"`
}

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check that snapshots are complete and intact (all of them by default); never modifies anything",
		ArgsUsage: "[REF...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read-data", Usage: "re-read every resource and check its hash (slower)"},
		},
		Action: func(c *cli.Context) error {
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			res, err := repo.Verify(c.Context, snapshot.VerifyOptions{
				Refs: c.Args().Slice(), ReadData: c.Bool("read-data"), Progress: e.progress(),
			})
			if err != nil {
				return err
			}
			if e.json {
				j := verifyJSON{OK: len(res.Problems) == 0, ReadData: c.Bool("read-data"), Snapshots: res.Snapshots,
					Trees: res.Trees, Blobs: res.Blobs, Problems: []problemJSON{}}
				for _, p := range res.Problems {
					pj := problemJSON{Ref: p.Ref, Path: p.Path, Object: p.Object, Message: p.Message}
					if !p.Snapshot.IsZero() {
						pj.Snapshot = p.Snapshot.String()
					}
					j.Problems = append(j.Problems, pj)
				}
				if err := e.printJSON(j); err != nil {
					return err
				}
				if len(res.Problems) > 0 {
					return exitStatus(exitRepo)
				}
				return nil
			}
			for _, p := range res.Problems {
				e.printf("%s\n", p)
			}
			what := "structure"
			if c.Bool("read-data") {
				what = "structure and content"
			}
			e.printf("Checked the %s of %s, %d trees and %d resource contents: ", what,
				plural(res.Snapshots, "snapshot", "snapshots"), res.Trees, res.Blobs)
			if len(res.Problems) == 0 {
				e.printf("no problems.\n")
				return nil
			}
			e.printf("%s.\n", plural(len(res.Problems), "problem", "problems"))
			return fmt.Errorf("%w: verify found %s", snapshot.ErrCorrupt, plural(len(res.Problems), "problem", "problems"))
		},
	}
}
