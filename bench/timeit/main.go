// Command timeit runs a command and reports what it cost, for bench/run.sh:
// wall time, user and system CPU time (all in seconds, to the microsecond)
// and peak resident memory in KiB, on one line of the file given with -o:
//
//	timeit -o FILE COMMAND [ARG...]
//
// It is GNU time's "%e %U %S %M" with microseconds instead of hundredths:
// several of the steps measured (a cube restore, a diff) take a few tens of
// milliseconds, where hundredths make ratios meaningless. The command's
// standard streams are passed through and its exit status is returned.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) < 3 || args[0] != "-o" {
		fmt.Fprintln(os.Stderr, "usage: timeit -o FILE COMMAND [ARG...]")
		return 2
	}
	out, argv := args[1], args[2:]
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
		return 127
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "timeit: no resource usage on this system")
		return 2
	}
	line := fmt.Sprintf("%.6f %.6f %.6f %d\n", wall.Seconds(),
		time.Duration(syscall.TimevalToNsec(ru.Utime)).Seconds(),
		time.Duration(syscall.TimevalToNsec(ru.Stime)).Seconds(), ru.Maxrss)
	if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
		return 2
	}
	return cmd.ProcessState.ExitCode()
}
