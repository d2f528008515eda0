package main

import (
	"os"
	"path/filepath"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

type pulledJSON struct {
	Instance  string          `json:"instance"`
	Refs      int             `json:"refs"`
	Snapshots int             `json:"new_snapshots"`
	Updated   []refChangeJSON `json:"updated"`
}

type pullJSON struct {
	Remote      string       `json:"remote"`
	URL         string       `json:"url"`
	Created     bool         `json:"created_repository,omitempty"`
	AddedRemote bool         `json:"added_remote,omitempty"`
	Adopted     string       `json:"adopted_instance,omitempty"`
	Instances   []pulledJSON `json:"instances"`
	Objects     int          `json:"objects"`
	Bytes       int64        `json:"bytes"`
}

func pullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "copy the snapshots of every instance on a remote into this repository (creating it if missing)",
		ArgsUsage: "[REMOTE]",
		Description: "The snapshots arrive under refs/remotes/<remote>/<instance>/: 'log --instance all' lists them,\n" +
			"'restore ID' or 'restore TAG' restores them (--allow-foreign for another metastore's). Pulled into a\n" +
			"repository that has no snapshots, a remote with one instance (or --instance) becomes this\n" +
			"repository's own, as with git clone: 'metastore --repo new.git pull URL' then 'restore latest'.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "instance", Usage: "pull only this instance (its UUID, or a unique prefix of 4 or more characters)"},
		},
		Action: func(c *cli.Context) (err error) {
			if c.NArg() > 1 {
				return usagef("usage: metastore pull [--instance UUID] [REMOTE]")
			}
			opt, err := e.remoteOptions()
			if err != nil {
				return err
			}
			path, err := e.repoPath("")
			if err != nil {
				return err
			}
			_, statErr := os.Stat(path)
			existed := statErr == nil
			repo, created, err := snapshot.OpenOrCreate(path, e.repoOptions())
			if err != nil {
				return err
			}
			defer func() {
				repo.Close()
				if err != nil && created {
					// Leave nothing behind for a pull that brought nothing.
					if existed {
						entries, _ := os.ReadDir(path)
						for _, en := range entries {
							os.RemoveAll(filepath.Join(path, en.Name()))
						}
					} else {
						os.RemoveAll(path)
					}
				}
			}()
			if created {
				// The first pull of a URL into a new repository makes it remote
				// "origin"; a remote name cannot be resolved in an empty config.
				if arg := c.Args().First(); arg == "" {
					return usagef("a new repository has no remotes: give the URL to pull from")
				}
			}
			res, err := repo.Pull(c.Context, snapshot.PullOptions{RemoteOptions: opt, Remote: c.Args().First(), Instance: c.String("instance")})
			if err != nil {
				return err
			}
			if e.json {
				j := pullJSON{Remote: res.Remote, URL: res.URL, Created: created, AddedRemote: res.AddedRemote, Adopted: res.Adopted,
					Instances: []pulledJSON{}, Objects: res.Objects, Bytes: res.Bytes}
				for _, in := range res.Instances {
					j.Instances = append(j.Instances, pulledJSON{Instance: in.Name, Refs: in.Refs, Snapshots: in.Snapshots, Updated: toChangesJSON(in.Updated)})
				}
				return e.printJSON(j)
			}
			if created {
				e.printf("Created repository %s\n", repo.Path())
			}
			if len(res.Instances) == 0 {
				e.printf("The remote %s holds no snapshots yet.\n", res.URL)
				return nil
			}
			snaps := 0
			for _, in := range res.Instances {
				snaps += in.Snapshots
			}
			e.printf("Pulled %s from %s: %s; %s, %s received.\n", plural(len(res.Instances), "instance", "instances"), res.URL,
				plural(snaps, "new snapshot", "new snapshots"), plural(res.Objects, "object", "objects"), api.HumanBytes(res.Bytes))
			for _, in := range res.Instances {
				e.printf("  %s  %s, %s\n", in.Name, plural(in.Refs, "reference", "references"), plural(in.Snapshots, "new snapshot", "new snapshots"))
			}
			if res.AddedRemote {
				e.printf("Added remote %s (the default): %s\n", res.Remote, res.URL)
			}
			if res.Adopted != "" {
				e.printf("Instance %s is this repository's own now (its branches and tags were copied): metastore log; metastore restore latest\n", res.Adopted)
			} else {
				e.printf("List them with: metastore log --instance all\n")
			}
			return nil
		},
	}
}
