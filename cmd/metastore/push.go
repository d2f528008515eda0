package main

import (
	"strings"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

type pushJSON struct {
	Remote   string          `json:"remote,omitempty"`
	URL      string          `json:"url"`
	Instance string          `json:"instance"`
	Updated  []refChangeJSON `json:"updated"`
	UpToDate int             `json:"up_to_date"`
	Objects  int             `json:"objects"`
	Bytes    int64           `json:"bytes"`
}

func pushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "copy this repository's snapshots to a remote, under this instance's name (only what the remote lacks; never forced)",
		ArgsUsage: "[REMOTE]",
		Description: "REMOTE is a name from 'metastore remote list' or a URL: a path, file://, ssh://, user@host:path,\n" +
			"http(s)://, or s3://BUCKET/PREFIX; the default remote when left out. The snapshots go under\n" +
			"refs/metastore/<instance>/ on the remote, the instance being this metastore's UUID.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "instance", Usage: "push under this name instead of the metastore's UUID"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usagef("usage: metastore push [--instance NAME] [REMOTE]")
			}
			opt, err := e.remoteOptions()
			if err != nil {
				return err
			}
			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			res, err := repo.Push(c.Context, snapshot.PushOptions{RemoteOptions: opt, Remote: c.Args().First(), Instance: c.String("instance")})
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(pushJSON{Remote: res.Remote, URL: res.URL, Instance: res.Instance, Updated: toChangesJSON(res.Updated),
					UpToDate: res.UpToDate, Objects: res.Objects, Bytes: res.Bytes})
			}
			where := remoteName(res.Remote, res.URL)
			if len(res.Updated) == 0 && res.UpToDate == 0 {
				e.printf("Nothing to push: the repository has no snapshots yet.\n")
				return nil
			}
			if len(res.Updated) == 0 {
				e.printf("Instance %s on %s is up to date (%s).\n", res.Instance, where, plural(res.UpToDate, "reference", "references"))
				return nil
			}
			e.printf("Pushed instance %s to %s: %s updated, %d up to date; %s, %s sent.\n", res.Instance, where,
				plural(len(res.Updated), "reference", "references"), res.UpToDate, plural(res.Objects, "object", "objects"), api.HumanBytes(res.Bytes))
			for _, u := range res.Updated {
				e.printf("%s\n", describeChange(u, strings.TrimPrefix(strings.TrimPrefix(u.Ref, "refs/heads/"), "refs/")))
			}
			return nil
		},
	}
}
