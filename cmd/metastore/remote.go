package main

import (
	"context"
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
			return noSuchCommand(c.Command.VisibleCommands(), "remote subcommand", c.Args().First(), "metastore remote --help")
		},
		Subcommands: []*cli.Command{remoteAddCommand(e), remoteListCommand(e), remoteRemoveCommand(e), remoteSetDefaultCommand(e)},
	}
}

// withRepo runs fn on the repository, closing it after.
func (e *env) withRepo(fn func(repo *snapshot.Repository) error) error {
	repo, err := e.openRepo("")
	if err != nil {
		return err
	}
	defer repo.Close()
	return fn(repo)
}

func remoteAddCommand(e *env) *cli.Command {
	return &cli.Command{
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
			return e.withRepo(func(repo *snapshot.Repository) error {
				rm, err := repo.AddRemote(c.Context, c.Args().Get(0), c.Args().Get(1), c.Bool("default"))
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(toRemoteJSON(rm))
				}
				def := ""
				if rm.Default {
					def = " (the default)"
				}
				e.printf("Added remote %s: %s%s\n", rm.Name, rm.URL, def)
				return nil
			})
		},
	}
}

func remoteListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the remotes",
		ArgsUsage: " ",
		Action: func(c *cli.Context) error {
			return e.withRepo(func(repo *snapshot.Repository) error {
				rs, err := repo.Remotes()
				if err != nil {
					return err
				}
				if e.json {
					out := []remoteJSON{}
					for _, rm := range rs {
						out = append(out, toRemoteJSON(rm))
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
			})
		},
	}
}

func remoteRemoveCommand(e *env) *cli.Command {
	return remoteNameCommand(e, &cli.Command{
		Name:    "remove",
		Aliases: []string{"rm"},
		Usage:   "remove a remote (the snapshots pulled from it stay)",
	}, "removed", (*snapshot.Repository).RemoveRemote,
		"Removed remote %[1]s (the snapshots pulled from it stay under refs/remotes/%[1]s/: metastore log --instance all)\n")
}

func remoteSetDefaultCommand(e *env) *cli.Command {
	return remoteNameCommand(e, &cli.Command{
		Name:  "set-default",
		Usage: "make a remote the default",
	}, "default", (*snapshot.Repository).SetDefaultRemote, "The default remote is now %s\n")
}

// remoteNameCommand completes cmd, a remote subcommand that takes a remote's
// NAME and does do with it: --json prints {key: NAME}, else done (a format
// of NAME).
func remoteNameCommand(e *env, cmd *cli.Command, key string, do func(*snapshot.Repository, context.Context, string) error, done string) *cli.Command {
	cmd.ArgsUsage = "NAME"
	cmd.Action = func(c *cli.Context) error {
		if c.NArg() != 1 {
			return usagef("usage: metastore remote %s NAME", cmd.Name)
		}
		name := c.Args().First()
		return e.withRepo(func(repo *snapshot.Repository) error {
			if err := do(repo, c.Context, name); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{key: name})
			}
			e.printf(done, name)
			return nil
		})
	}
	return cmd
}

func toRemoteJSON(rm snapshot.Remote) remoteJSON {
	return remoteJSON{Name: rm.Name, URL: rm.URL, Default: rm.Default}
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
