package main

import (
	"fmt"
	"runtime/debug"

	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// verifyMemoryLimit is verify's soft heap limit, below the CLI's 200 MiB
// (main.go): its live heap peaks at about 95 MB at a million resources with
// ten snapshots (two 20-25 MB trees of a flat folder and the delta base of
// one), but with GOGC at 200 its heap grew to the 200 MiB limit, and with
// the mapped pack indexes (50 MB resident there) RSS to 260 MB. At 150 MiB
// RSS is 219 MB for 3% more CPU (BENCHMARKS.md, "Verify at a million").
const verifyMemoryLimit = 150 << 20

// lowerMemoryLimit lowers the soft heap limit to limit unless GOMEMLIMIT
// sets it or it is lower already, and returns what restores it.
func (e *env) lowerMemoryLimit(limit int64) (restore func()) {
	prev := debug.SetMemoryLimit(-1)
	if e.getenv("GOMEMLIMIT") != "" || prev <= limit {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}

type problemJSON struct {
	Ref      string `json:"ref,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Path     string `json:"path,omitempty"`
	Object   string `json:"object,omitempty"`
	Message  string `json:"message"`
}

type verifyJSON struct {
	Remote    string        `json:"remote,omitempty"`
	URL       string        `json:"url,omitempty"`
	Refs      int           `json:"refs,omitempty"`
	Instances int           `json:"instances,omitempty"`
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
			&cli.StringFlag{Name: "remote", Usage: "check instead that every snapshot this remote (a name or URL) names is complete there"},
		},
		Action: func(c *cli.Context) error {
			defer e.lowerMemoryLimit(verifyMemoryLimit)()
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			var res *snapshot.VerifyResult
			var remote *snapshot.RemoteVerifyResult
			if c.IsSet("remote") {
				if c.NArg() > 0 {
					return usagef("verify --remote checks every snapshot the remote names: it takes no REF")
				}
				opt, err := e.remoteOptions()
				if err != nil {
					return err
				}
				remote, err = repo.VerifyRemote(c.Context, snapshot.VerifyRemoteOptions{RemoteOptions: opt, Remote: c.String("remote"), ReadData: c.Bool("read-data")})
				if err != nil {
					return err
				}
				res = &remote.VerifyResult
			} else {
				res, err = repo.Verify(c.Context, snapshot.VerifyOptions{
					Refs: c.Args().Slice(), ReadData: c.Bool("read-data"), Progress: e.progress(),
				})
				if err != nil {
					return err
				}
			}
			if e.json {
				return e.printVerifyJSON(res, remote, c.Bool("read-data"))
			}
			for _, p := range res.Problems {
				e.printf("%s\n", p)
			}
			what := "structure"
			if c.Bool("read-data") {
				what = "structure and content"
			}
			if remote != nil {
				e.printf("Checked the %s of %s of %s on %s (%s), %d trees and %d resource contents: ", what,
					plural(res.Snapshots, "snapshot", "snapshots"), plural(remote.Instances, "instance", "instances"),
					remoteName(remote.Remote, remote.URL), plural(remote.Refs, "reference", "references"), res.Trees, res.Blobs)
			} else {
				e.printf("Checked the %s of %s, %d trees and %d resource contents: ", what,
					plural(res.Snapshots, "snapshot", "snapshots"), res.Trees, res.Blobs)
			}
			if len(res.Problems) == 0 {
				e.printf("no problems.\n")
				return nil
			}
			e.printf("%s.\n", plural(len(res.Problems), "problem", "problems"))
			return fmt.Errorf("%w: verify found %s", snapshot.ErrCorrupt, plural(len(res.Problems), "problem", "problems"))
		},
	}
}

// printVerifyJSON prints what verify found (remote: of a remote, if not
// nil) with --json; problems end with the exit code of a corrupt
// repository.
func (e *env) printVerifyJSON(res *snapshot.VerifyResult, remote *snapshot.RemoteVerifyResult, readData bool) error {
	j := verifyJSON{OK: len(res.Problems) == 0, ReadData: readData, Snapshots: res.Snapshots,
		Trees: res.Trees, Blobs: res.Blobs, Problems: []problemJSON{}}
	if remote != nil {
		j.Remote, j.URL, j.Refs, j.Instances = remote.Remote, remote.URL, remote.Refs, remote.Instances
	}
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
