package main

import (
	"fmt"
	"time"

	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

type remoteJSON struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Default bool   `json:"default"`
}

func remoteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "remote",
		Usage: "configure the remotes push and pull use (git URLs, paths, s3://BUCKET/PREFIX)",
		// Runs when no subcommand matched: a bare "metastore remote" or a
		// mistyped subcommand is a usage error, as for the commands.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				cli.HelpPrinter(e.stderr, cli.SubcommandHelpTemplate, c.Command)
				return usagef("no remote subcommand given; see the subcommands above, or metastore remote --help")
			}
			msg := fmt.Sprintf("no remote subcommand %q", c.Args().First())
			if cli.SuggestCommand != nil {
				if s := cli.SuggestCommand(c.Command.VisibleCommands(), c.Args().First()); s != "" {
					msg += ". " + s
				}
			}
			return usagef("%s (see metastore remote --help)", msg)
		},
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a remote (stored in the repository's git config; a URL with a password is refused)",
				ArgsUsage: "NAME URL",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "default", Usage: "make it the remote push and pull use when none is named"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("usage: metastore remote add [--default] NAME URL")
					}
					repo, err := e.openRepo("")
					if err != nil {
						return err
					}
					defer repo.Close()
					rm, err := repo.AddRemote(c.Context, c.Args().Get(0), c.Args().Get(1), c.Bool("default"))
					if err != nil {
						return err
					}
					if e.json {
						return e.printJSON(remoteJSON{Name: rm.Name, URL: rm.URL, Default: rm.Default})
					}
					def := ""
					if rm.Default {
						def = " (the default)"
					}
					e.printf("Added remote %s: %s%s\n", rm.Name, rm.URL, def)
					return nil
				},
			},
			{
				Name:      "list",
				Usage:     "list the remotes",
				ArgsUsage: " ",
				Action: func(c *cli.Context) error {
					repo, err := e.openRepo("")
					if err != nil {
						return err
					}
					defer repo.Close()
					rs, err := repo.Remotes()
					if err != nil {
						return err
					}
					if e.json {
						out := []remoteJSON{}
						for _, rm := range rs {
							out = append(out, remoteJSON{Name: rm.Name, URL: rm.URL, Default: rm.Default})
						}
						return e.printJSON(out)
					}
					if len(rs) == 0 {
						e.printf("No remotes; add one with: metastore remote add [--default] NAME URL\n")
						return nil
					}
					for _, rm := range rs {
						def := ""
						if rm.Default {
							def = "  (default)"
						}
						e.printf("%-12s %s%s\n", rm.Name, rm.URL, def)
					}
					return nil
				},
			},
			{
				Name:      "remove",
				Aliases:   []string{"rm"},
				Usage:     "remove a remote (the snapshots pulled from it stay)",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("usage: metastore remote remove NAME")
					}
					repo, err := e.openRepo("")
					if err != nil {
						return err
					}
					defer repo.Close()
					name := c.Args().First()
					if err := repo.RemoveRemote(c.Context, name); err != nil {
						return err
					}
					if e.json {
						return e.printJSON(map[string]string{"removed": name})
					}
					e.printf("Removed remote %s (the snapshots pulled from it stay under refs/remotes/%s/: metastore log --instance all)\n", name, name)
					return nil
				},
			},
			{
				Name:      "set-default",
				Usage:     "make a remote the default",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("usage: metastore remote set-default NAME")
					}
					repo, err := e.openRepo("")
					if err != nil {
						return err
					}
					defer repo.Close()
					if err := repo.SetDefaultRemote(c.Context, c.Args().First()); err != nil {
						return err
					}
					if e.json {
						return e.printJSON(map[string]string{"default": c.Args().First()})
					}
					e.printf("The default remote is now %s\n", c.Args().First())
					return nil
				},
			},
		},
	}
}

// remoteOptions are the settings of every remote operation: the
// environment for credentials, METASTORE_REMOTE_TIMEOUT, the progress bar.
func (e *env) remoteOptions() (snapshot.RemoteOptions, error) {
	opt := snapshot.RemoteOptions{Getenv: e.getenv}
	if v := e.getenv("METASTORE_REMOTE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return opt, usagef("METASTORE_REMOTE_TIMEOUT=%q: want a duration such as 30s or 2m", v)
		}
		opt.Timeout = d
	}
	if p := e.progress(); p != nil {
		opt.Progress = p
	}
	return opt, nil
}

type refChangeJSON struct {
	Ref       string `json:"ref"`
	RemoteRef string `json:"remote_ref"`
	Old       string `json:"old,omitempty"`
	New       string `json:"new"`
}

func toChangesJSON(cs []snapshot.RefChange) []refChangeJSON {
	out := []refChangeJSON{}
	for _, c := range cs {
		j := refChangeJSON{Ref: c.Ref, RemoteRef: c.Remote, New: c.New.String()}
		if !c.Old.IsZero() {
			j.Old = c.Old.String()
		}
		out = append(out, j)
	}
	return out
}

func describeChange(c snapshot.RefChange, name string) string {
	old := "(new)"
	if !c.Old.IsZero() {
		old = c.Old.Short()
	}
	return fmt.Sprintf("  %-28s %s -> %s", name, old, c.New.Short())
}

func remoteName(name, url string) string {
	if name == "" {
		return url
	}
	return name + " (" + url + ")"
}
