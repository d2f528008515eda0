package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/console"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// defaultListen is the console's address: loopback only.
const defaultListen = "127.0.0.1:7071"

// minTokenLen is the shortest token --token-file may hold.
const minTokenLen = 16

func serveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the web console: backups at system, project and cube level, snapshots, diff, history, restore plans",
		Description: "Serves the console on --listen (loopback by default), Kyligence Enterprise's backup REST paths\n" +
			"(POST /kylin/api/metastore/backup[?cube=NAME], POST /kylin/api/projects/{project}/backup) and a JSON\n" +
			"API under /api/v1 that answers what the command line prints with --json. Listening on another\n" +
			"address needs --token-file. Restoring from the console needs --allow-restore; without it the\n" +
			"console shows restore plans and the commands that carry them out.\n\n" +
			"The global flags, given before serve, apply to every request as to every command: --metadata-url,\n" +
			"--repo, --hdfs-root and --db-timeout (database metastores: how long to wait to connect and log in;\n" +
			"a server silent 8 times as long during a request fails it).\n\n" +
			"--schedule SPEC takes backups by itself (the system, and each --schedule-scope), none when nothing\n" +
			"changed; after each, the --keep-* policy is applied as forget applies it (prune at most once a day)\n" +
			"and --push REMOTE pushes. A failed run is logged on stderr and tried again at the next tick; a tick\n" +
			"that comes while a run is still going is skipped. The System page and GET /api/v1/schedule show it.",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Value: defaultListen, Usage: "the address to serve on (host:port)"},
			&cli.StringFlag{Name: "token-file", Usage: "a file holding the token clients must send (as a bearer token, or once in the page); required to listen beyond loopback", EnvVars: []string{"METASTORE_TOKEN_FILE"}},
			&cli.BoolFlag{Name: "allow-restore", Usage: "let the console restore (behind a confirmation that repeats the plan)"},
			&cli.StringSliceFlag{Name: "allow-host", Usage: "a host name the console may be reached by (besides IP addresses and localhost: the Host header is checked against DNS rebinding)"},
		}, scheduleFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("serve takes no arguments (got %q)", c.Args().First())
			}
			sched, err := scheduleOptionsOf(c)
			if err != nil {
				return err
			}
			return e.serve(c.Context, serveOptions{
				listen: c.String("listen"), tokenFile: c.String("token-file"),
				allowRestore: c.Bool("allow-restore"), hosts: c.StringSlice("allow-host"), schedule: sched,
			}, nil)
		},
	}
}

type serveOptions struct {
	listen       string
	tokenFile    string
	allowRestore bool
	hosts        []string
	schedule     scheduleOptions // no scheduled backups without a spec
}

// serve runs the console until ctx ends. ready, if not nil, receives the
// console's URL once it listens (tests).
func (e *env) serve(ctx context.Context, o serveOptions, ready func(url string)) error {
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usagef("--listen %q: %v (want host:port, e.g. %s)", o.listen, err, defaultListen)
	}
	token, err := readToken(o.tokenFile)
	if err != nil {
		return err
	}
	// Every request opens the metastore: a bad setting is refused now,
	// not on the first page.
	if err := e.checkDBTimeout(); err != nil {
		return err
	}
	if token == "" && !isLoopback(host) {
		return usagef("refusing to serve on %s without authentication: anyone who can reach it could back up and read the metadata; give --token-file FILE (a token of at least %d characters), or listen on loopback (%s)", o.listen, minTokenLen, defaultListen)
	}
	cfg, desc, err := e.consoleConfig(o, token)
	if err != nil {
		return err
	}
	var sched *schedule.Scheduler
	if o.schedule.spec != "" {
		if sched, err = e.newScheduler(o.schedule, cfg.Env, e.stderr, scrubber(cfg.Secrets)); err != nil {
			return err
		}
		cfg.Schedule = sched.Status
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg.Context = ctx
	con, err := console.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           con,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	url := "http://" + ln.Addr().String() + "/"
	if e.json {
		doc := map[string]any{"url": url, "repository": cfg.Repository, "metastore": desc, "allow_restore": o.allowRestore, "token": token != ""}
		if sched != nil {
			doc["schedule"] = sched.Status()
		}
		e.printJSON(doc)
	} else {
		fmt.Fprintf(e.stderr, "metastore console on %s\n  metastore   %s\n  repository  %s\n", url, desc, cfg.Repository)
		if o.allowRestore {
			fmt.Fprintf(e.stderr, "  restore     enabled from the console\n")
		}
		if sched != nil {
			st := sched.Status()
			fmt.Fprintf(e.stderr, "  schedule    %s (%s): %s\n", st.Schedule, st.Zone, strings.Join(st.Steps, ", "))
		}
	}
	if ready != nil {
		ready(url)
	}
	scheduled := make(chan struct{})
	if sched != nil {
		go func() { sched.Run(ctx); close(scheduled) }()
	} else {
		close(scheduled)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		cancel()
		<-scheduled
		return err
	case <-ctx.Done():
	}
	shut, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	err = srv.Shutdown(shut)
	cancel()
	con.Wait()
	<-scheduled // a scheduled run in progress sees ctx done
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// consoleConfig sets the console up on the global flags: the same
// metastore and repository as every command, and the command prefix that
// names them.
func (e *env) consoleConfig(o serveOptions, token string) (console.Config, string, error) {
	repo, err := e.repoPath("")
	if err != nil {
		return console.Config{}, "", err
	}
	if abs, err := filepath.Abs(repo); err == nil {
		repo = abs
	}
	raw, err := e.metadataURLValue()
	if err != nil {
		return console.Config{}, "", err
	}
	masked := locate.Mask(raw)
	cmd := "metastore --repo " + api.Quote(repo)
	if masked == raw {
		// Only a URL without a password goes into the commands shown.
		cmd += " --metadata-url " + api.Quote(raw)
	}
	if e.hdfsRoot != "" {
		cmd += " --hdfs-root " + api.Quote(e.hdfsRoot)
	}
	if e.dbTimeout > 0 {
		cmd += " --db-timeout " + e.dbTimeout.String()
	}
	ae := e.api()
	ae.Folders, ae.Notice = false, nil
	// The commands in answers (a restore's undo) carry the console's
	// global flags, as every command it shows.
	ae.Command = func(_ *snapshot.Repository, c string) string { return cmd + strings.TrimPrefix(c, "metastore") }
	ae.OpenRepo = func(explicit string, create bool) (*snapshot.Repository, bool, error) {
		if explicit != "" {
			return nil, false, usagef("the console backs up into its own repository only")
		}
		if create {
			return e.openOrCreateRepo("")
		}
		r, err := e.openRepo("")
		return r, false, err
	}
	return console.Config{
		Env: ae, Repository: repo, Command: cmd, AllowRestore: o.allowRestore, Token: token,
		Hosts: o.hosts, Secrets: secretsOf(raw, masked), Log: e.stderr,
	}, masked, nil
}

// scrubber replaces each of secrets (the metastore's password) by ***.
func scrubber(secrets []string) func(string) string {
	return func(msg string) string {
		for _, s := range secrets {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "***")
			}
		}
		return msg
	}
}

// readToken reads the token file; "" when none is given.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("--token-file: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", usagef("--token-file %s: the token must be one word of at least %d characters (e.g. openssl rand -hex 24 > %s)", path, minTokenLen, path)
	}
	return tok, nil
}

// isLoopback reports whether host (of --listen) reaches only this machine:
// a loopback address, or a name that resolves to loopback addresses only.
// An empty host (every interface) is not.
func isLoopback(host string) bool {
	if host == "" {
		return false
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.IsLoopback()
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// secretsOf returns the parts of raw that its masked form hides (the
// passwords): the console scrubs them from every answer, in case a message
// from a driver ever repeats one. Secrets shorter than 4 characters are
// left out (scrubbing them would garble every page); the masking of the
// descriptions themselves does not depend on this.
func secretsOf(raw, masked string) []string {
	const hole = "***"
	pieces := strings.Split(masked, hole)
	if len(pieces) < 2 || !strings.HasPrefix(raw, pieces[0]) || !strings.HasSuffix(raw, pieces[len(pieces)-1]) {
		return nil
	}
	var out []string
	pos := len(pieces[0])
	end := len(raw) - len(pieces[len(pieces)-1])
	for i, p := range pieces[1:] {
		var next int
		if i == len(pieces)-2 {
			next = end
		} else {
			j := strings.Index(raw[pos:], p)
			if j < 0 {
				return out
			}
			next = pos + j
		}
		if next < pos {
			return out
		}
		if s := raw[pos:next]; len(s) >= 4 {
			out = append(out, s)
			// A quoted value's password is what is between the quotes.
			if u := strings.Trim(s, `"'`); u != s && len(u) >= 4 {
				out = append(out, u)
			}
		}
		pos = next + len(p)
	}
	return out
}
