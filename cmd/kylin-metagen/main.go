package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `kylin-metagen writes synthetic Apache Kylin 2.x-4.x folder metastores.

Usage:
  kylin-metagen generate --out DIR --resources N [--projects P] [--seed S] [--json]
  kylin-metagen churn --dir DIR --fraction F [--seed S] [--json]

Commands:
  generate   write a deterministic metastore of exactly N resources into an empty or absent DIR
  churn      modify, add and delete about F of the resources of DIR, as a busy deployment would

Run "kylin-metagen COMMAND -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand: its flags and what it does once they are parsed.
type command struct {
	flags *flag.FlagSet
	run   func(ctx context.Context) error
}

// usageError marks errors in the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var cmd *command
	switch args[0] {
	case "generate":
		cmd = newGenerateCommand(stdout, stderr)
	case "churn":
		cmd = newChurnCommand(stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "kylin-metagen: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	if err := cmd.flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage // the flag package printed the problem and the usage
	}
	if cmd.flags.NArg() > 0 {
		fmt.Fprintf(stderr, "kylin-metagen %s: unexpected argument %q\n", args[0], cmd.flags.Arg(0))
		cmd.flags.Usage()
		return exitUsage
	}
	if err := cmd.run(ctx); err != nil {
		fmt.Fprintf(stderr, "kylin-metagen %s: %v\n", args[0], err)
		var ue *usageError
		var pe *planError
		if errors.As(err, &ue) || errors.As(err, &pe) || errors.Is(err, ErrOutNotEmpty) || errors.Is(err, ErrOutNotDir) {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}

// newFlagSet returns a flag set that reports to stderr with a usage line.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kylin-metagen %s\n\n%s\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
