package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors in the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// run executes the command line args (args[0] is the program name) and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var unknown error
	app := &cli.App{
		Name:  "kylin-metagen",
		Usage: "write synthetic Apache Kylin 2.x-4.x metastores and churn them",
		Description: "generate writes a deterministic metastore of exactly N resources into an empty folder or\n" +
			"database; churn modifies, adds and deletes about F of its resources, as a busy deployment would.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Suggest:         true,
		OnUsageError:    func(c *cli.Context, err error, _ bool) error { return &usageError{err.Error()} },
		Action: func(c *cli.Context) error {
			switch {
			case c.NArg() == 0:
				cli.HelpPrinter(stderr, cli.AppHelpTemplate, c.App)
				return usagef("no command given")
			case c.Args().First() == "help" && c.NArg() == 1:
				return cli.ShowAppHelp(c)
			case c.Args().First() == "help":
				return cli.ShowCommandHelp(c, c.Args().Get(1))
			}
			return usagef("unknown command %q (see kylin-metagen --help)", c.Args().First())
		},
		CommandNotFound: func(c *cli.Context, name string) {
			unknown = usagef("unknown command %q (see kylin-metagen --help)", name)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors
		Commands:       []*cli.Command{generateCommand(stdout), churnCommand(stdout)},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		err = unknown
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "kylin-metagen: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, metagen.ErrOptions) || errors.Is(err, errOutNotEmpty) || errors.Is(err, errOutNotDir) {
		return exitUsage
	}
	return exitFailure
}

// noArgs refuses arguments after a command's flags.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
