package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/urfave/cli/v2"
)

// Exit codes, documented in the README.
const (
	exitOK       = api.ExitOK
	exitFailure  = api.ExitFailure  // the operation failed (I/O, database, ...)
	exitUsage    = api.ExitUsage    // the command line was wrong
	exitNotFound = api.ExitNotFound // unknown snapshot, tag, project, cube, resource or remote
	exitRefused  = api.ExitRefused  // refused to act: foreign metastore, scope mismatch, tag taken, empty source, metastore overlapping the repository, non-fast-forward push, remote name taken
	exitRepo     = api.ExitRepo     // the repository is missing, corrupt, foreign or too new
)

// env is the process environment, injected so tests run in-process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// flags set on the command line
	metadataURL string
	repo        string
	json        bool
	quiet       bool
	hdfsRoot    string
	dbTimeout   time.Duration
	// unknown is the usage error of "help NAME" for a command that does
	// not exist (urfave/cli reports it through a callback).
	unknown error
}

// usageError marks errors in the command line.
type usageError = api.UsageError

func usagef(format string, args ...any) error { return api.Usagef(format, args...) }

// unknownCommand is the usage error for a command name that does not
// exist, with urfave/cli's suggestion of the closest one.
func unknownCommand(c *cli.Context, name string) error {
	var visible []*cli.Command
	for _, cmd := range c.App.Commands {
		if !cmd.Hidden {
			visible = append(visible, cmd)
		}
	}
	return noSuchCommand(visible, "command", name, "metastore --help")
}

// noSuchCommand is the usage error for a (sub)command name that is none of
// visible, with urfave/cli's suggestion of the closest one and where to
// find help.
func noSuchCommand(visible []*cli.Command, what, name, help string) error {
	msg := fmt.Sprintf("no %s %q", what, name)
	if cli.SuggestCommand != nil {
		if s := cli.SuggestCommand(visible, name); s != "" {
			msg += ". " + s
		}
	}
	return usagef("%s (see %s)", msg, help)
}

// Main runs the command line args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv(guardianEnv) == "1" {
		// The guardian of a restore's maintenance mode (guardian.go).
		return jdbc.RunGuardian(os.Stdin, stderr)
	}
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	app := newApp(e)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		err = e.unknown
	}
	if err == nil {
		return exitOK
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st) // a result, not a failure: nothing to report
	}
	code := exitCode(err)
	if e.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(api.Error(err, code))
	}
	fmt.Fprintf(stderr, "metastore: %v\n", err)
	return code
}

func exitCode(err error) int { return api.ExitCode(err) }

func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:  "metastore",
		Usage: "back up and restore Apache Kylin metadata as git snapshots",
		Description: "Every backup is a git commit in one repository: identical resources are stored once,\n" +
			"any snapshot can be restored at system, project or cube scope, and plain git can read it.",
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		HideHelpCommand: true,
		Suggest:         true,
		Flags:           globalFlags(e),
		Before:          startProfile,
		After:           stopProfile,
		OnUsageError:    func(c *cli.Context, err error, _ bool) error { return usageError{Msg: err.Error()} },
		Action:          noCommand(e),
		// "metastore help backpu" lands here.
		CommandNotFound: func(c *cli.Context, name string) {
			e.unknown = unknownCommand(c, name)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // Main reports errors
		Commands: append(append(backupCommands(e), restoreCommands(e)...),
			logCommand(e),
			tagCommand(e),
			diffCommand(e),
			showCommand(e),
			lsCommand(e),
			historyCommand(e),
			verifyCommand(e),
			forgetCommand(e),
			pruneCommand(e),
			remoteCommand(e),
			pushCommand(e),
			pullCommand(e),
			serveCommand(e),
		),
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
	return app
}

// globalFlags are the flags given before the command.
func globalFlags(e *env) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "metadata-url", Usage: "the Kylin metastore: a folder path or a Kylin metadata URL (default: kylin.metadata.url from $KYLIN_CONF or $KYLIN_HOME/conf/kylin.properties)", EnvVars: []string{"METASTORE_METADATA_URL"}, Destination: &e.metadataURL},
		&cli.StringFlag{Name: "repo", Usage: "the snapshot repository (default: $KYLIN_HOME/meta_backups/snapshots.git)", EnvVars: []string{"METASTORE_REPO"}, Destination: &e.repo},
		&cli.BoolFlag{Name: "json", Usage: "print results as JSON on stdout", Destination: &e.json},
		&cli.StringFlag{Name: "hdfs-root", Usage: "JDBC metastores of Kylin 2.5-4.x: a local copy of kylin.env.hdfs-working-dir, to read the resources Kylin pushed out of the database (max-cell-size)", EnvVars: []string{"METASTORE_HDFS_ROOT"}, Destination: &e.hdfsRoot},
		&cli.DurationFlag{Name: "db-timeout", Usage: "database metastores: how long to wait to connect and log in (a server silent 8 times as long during the work fails the command); default: the JDBC URL's connectTimeout, else 15s", EnvVars: []string{"METASTORE_DB_TIMEOUT"}, Destination: &e.dbTimeout},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display", Destination: &e.quiet},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile (pprof) to this file", Hidden: true},
		&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile (pprof) to this file at exit", Hidden: true},
		&cli.StringFlag{Name: "trace", Usage: "write an execution trace (go tool trace) to this file", Hidden: true},
	}
}

// startProfile starts the CPU profile of --cpuprofile and the execution
// trace of --trace.
func startProfile(c *cli.Context) error {
	if p := c.String("cpuprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if p := c.String("trace"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return err
		}
		if c.App.Metadata == nil {
			c.App.Metadata = map[string]any{}
		}
		c.App.Metadata["trace"] = f
	}
	return nil
}

// stopProfile ends the CPU profile and the trace, and writes the heap
// profile of --memprofile.
func stopProfile(c *cli.Context) error {
	if c.String("cpuprofile") != "" {
		pprof.StopCPUProfile()
	}
	if f, ok := c.App.Metadata["trace"].(*os.File); ok {
		trace.Stop()
		f.Close()
	}
	if p := c.String("memprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// noCommand is the app's own action, which runs when no command matched: a
// bare "metastore" or a typo ("metastore backpu" in a cron line) is a usage
// error, never a silent success.
func noCommand(e *env) cli.ActionFunc {
	return func(c *cli.Context) error {
		switch {
		case c.NArg() == 0:
			cli.HelpPrinter(e.stderr, cli.AppHelpTemplate, c.App)
			return usagef("no command given; see the commands above, or metastore --help")
		case c.Args().First() == "help" && c.NArg() == 1:
			return cli.ShowAppHelp(c)
		case c.Args().First() == "help":
			return cli.ShowCommandHelp(c, c.Args().Get(1))
		}
		return unknownCommand(c, c.Args().First())
	}
}

// repoPath returns the repository path: an explicit one, --repo /
// METASTORE_REPO, or $KYLIN_HOME/meta_backups/snapshots.git.
func (e *env) repoPath(explicit string) (string, error) {
	switch {
	case explicit != "":
		return explicit, nil
	case e.repo != "":
		return e.repo, nil
	case e.getenv("KYLIN_HOME") != "":
		return filepath.Join(e.getenv("KYLIN_HOME"), "meta_backups", "snapshots.git"), nil
	}
	return "", usagef("no snapshot repository given: set --repo (or METASTORE_REPO), or KYLIN_HOME to use $KYLIN_HOME/meta_backups/snapshots.git")
}

func (e *env) repoOptions() snapshot.Options {
	user := e.getenv("METASTORE_USER")
	if user == "" {
		user = e.getenv("USER")
	}
	return snapshot.Options{
		User: user,
		Waiting: func(holder string) {
			fmt.Fprintf(e.stderr, "waiting for the repository lock (held by %s)...\n", holder)
		},
	}
}

// openRepo opens an existing repository.
func (e *env) openRepo(explicit string) (*snapshot.Repository, error) {
	p, err := e.repoPath(explicit)
	if err != nil {
		return nil, err
	}
	return snapshot.Open(p, e.repoOptions())
}

// openOrCreateRepo opens the repository, creating it on first backup.
func (e *env) openOrCreateRepo(explicit string) (*snapshot.Repository, bool, error) {
	p, err := e.repoPath(explicit)
	if err != nil {
		return nil, false, err
	}
	return snapshot.OpenOrCreate(p, e.repoOptions())
}

// metadataURL returns the metastore's URL and a masked description of it.
func (e *env) metadataURLValue() (string, error) {
	if e.metadataURL != "" {
		return e.metadataURL, nil
	}
	u, _, err := locate.MetadataURL(e.getenv)
	if err != nil {
		if errors.Is(err, locate.ErrNoMetadataURL) {
			return "", usageError{Msg: err.Error()}
		}
		return "", err
	}
	return u, nil
}

// openMetastore opens the metastore; create makes a missing folder (restore
// into a fresh metastore), createSchema the tables of an empty database.
func (e *env) openMetastore(ctx context.Context, create bool, createSchema ...string) (metastore.Store, string, error) {
	raw, err := e.metadataURLValue()
	if err != nil {
		return nil, "", err
	}
	if err := e.checkDBTimeout(); err != nil {
		return nil, "", err
	}
	opt := locate.Options{Create: create, HDFSRoot: e.hdfsRoot, Timeout: e.dbTimeout}
	if len(createSchema) > 0 {
		opt.CreateSchema = createSchema[0]
	}
	if props, _, err := locate.KylinProperties(e.getenv); err == nil {
		opt.CipherIV = props[locate.CipherIVKey]
	}
	st, err := locate.OpenWith(ctx, raw, opt)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, "", fmt.Errorf("metastore %s does not exist: check --metadata-url or kylin.metadata.url: %w", locate.Mask(raw), err)
		case errors.Is(err, folder.ErrNotDir):
			return nil, "", fmt.Errorf("metastore %s is a file, not a folder: %w", locate.Mask(raw), err)
		case errors.Is(err, jdbc.ErrConfig):
			return nil, "", usageError{Msg: err.Error()}
		}
		return nil, "", err
	}
	return st, describe(st, raw), nil
}

// checkDBTimeout refuses a --db-timeout that is not a positive duration (0
// is the default).
func (e *env) checkDBTimeout() error {
	if e.dbTimeout < 0 {
		return usagef("--db-timeout (METASTORE_DB_TIMEOUT) %s: want a positive duration such as 15s", e.dbTimeout)
	}
	return nil
}

// checkSeparate refuses a folder metastore, or any of folders, that
// overlaps the repository (snapshot.CheckSeparate), before anything is
// opened or created: a restore creates a missing target folder, a backup a
// missing repository. A repository or metastore that is not set is left for
// the command to report.
func (e *env) checkSeparate(repoArg string, folders ...string) error {
	repo, err := e.repoPath(repoArg)
	if err != nil {
		return nil
	}
	if raw, err := e.metadataURLValue(); err == nil {
		if u, err := locate.ParseURL(raw); err == nil && u.Scheme == "" {
			folders = append(folders, u.Path)
		}
	}
	for _, f := range folders {
		if err := snapshot.CheckSeparate(repo, f); err != nil {
			return err
		}
	}
	return nil
}

func describe(st metastore.Store, raw string) string {
	if d, ok := st.(metastore.Describer); ok {
		return d.Describe()
	}
	return locate.Mask(raw)
}

func closeStore(st metastore.Store) {
	if c, ok := st.(metastore.Closer); ok {
		c.Close()
	}
}

// api returns the requests' environment: the metastore and repository the
// global flags name.
func (e *env) api() *api.Env {
	a := &api.Env{
		OpenRepo: func(explicit string, create bool) (*snapshot.Repository, bool, error) {
			if create {
				return e.openOrCreateRepo(explicit)
			}
			repo, err := e.openRepo(explicit)
			return repo, false, err
		},
		OpenMetastore: func(ctx context.Context, create bool, createSchema string) (metastore.Store, string, error) {
			return e.openMetastore(ctx, create, createSchema)
		},
		MaskedURL: func() string {
			raw, _ := e.metadataURLValue()
			return locate.Mask(raw)
		},
		RepoOptions:   e.repoOptions,
		Folders:       true,
		Warn:          e.warn,
		CheckSeparate: e.checkSeparate,
		Command:       e.commandLine,
		Guardian:      guardianCommand,
	}
	if !e.json {
		a.Notice = func(format string, args ...any) { fmt.Fprintf(e.stderr, format, args...) }
	}
	return a
}

// printJSON writes v as indented JSON.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonArray writes a JSON array an element at a time, byte for byte as
// printJSON writes the whole slice: for lists of a million resources,
// which the encoder would build whole before writing.
type jsonArray struct {
	w io.Writer
	n int
}

func newJSONArray(w io.Writer) *jsonArray { return &jsonArray{w: w} }

// add writes v, an element.
func (a *jsonArray) add(v any) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err = a.w.Write(b)
	return err
}

// close ends the array.
func (a *jsonArray) close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }

func (e *env) warn(format string, args ...any) {
	fmt.Fprintf(e.stderr, "warning: "+format+"\n", args...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, ", ")
}

// reorderArgs moves a command's flags before its positional arguments, so
// that "restore-cube P REF --cube C" works like "restore-cube --cube C P REF"
// (urfave/cli stops parsing flags at the first positional argument).
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	takesValue := func(flags []cli.Flag, name string) bool {
		name = strings.TrimLeft(name, "-")
		for _, f := range flags {
			for _, n := range f.Names() {
				if n == name {
					_, isBool := f.(*cli.BoolFlag)
					return !isBool
				}
			}
		}
		return false
	}
	// Skip the global flags to find the command.
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if !strings.Contains(args[i], "=") && takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	// A command with subcommands (remote add ...): reorder after the
	// subcommand.
	if len(cmd.Subcommands) > 0 && i+1 < len(args) {
		sub := cmd.Command(args[i+1])
		if sub == nil {
			return args
		}
		cmd = sub
		i++
	}
	var flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(cmd.Flags, a) && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
			continue
		}
		pos = append(pos, a)
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, pos...)
}
