package jdbc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// A guardian is a second process that gives Kylin's maintenance mode back
// when the process that took it dies without doing so (SIGKILL, a crash,
// the OOM killer): it reads, on its standard input, the metastore's Config
// and the lease token, then waits for the input to end. The taking process
// writes "released" before it closes the pipe; an end of input without it
// means that process is gone (the kernel closes its end of the pipe), and
// the guardian releases the epochs carrying the token itself. It ignores
// SIGINT, SIGTERM and SIGHUP and runs in a process group of its own, so
// that a Ctrl-C or a hang-up that stops a restore does not stop it first.

// GuardianCommand returns the command of a guardian process, not started:
// a copy of the program that calls RunGuardian with its standard input.
type GuardianCommand func() (*exec.Cmd, error)

// guardianHello is the first line a guardian reads.
type guardianHello struct {
	Config Config `json:"config"`
	Token  string `json:"token"`
	Lease  int64  `json:"lease_ms"`
}

const guardianDone = "released"

// guardian is a started guardian process.
type guardian struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	exit  chan error
}

func startGuardian(mk GuardianCommand, cfg Config, token string) (*guardian, error) {
	cmd, err := mk()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &guardian{cmd: cmd, stdin: stdin, exit: make(chan error, 1)}
	go func() { g.exit <- cmd.Wait() }()
	cfg.CreateSchema = SchemaAuto
	hello, err := json.Marshal(guardianHello{Config: cfg, Token: token, Lease: DefaultLease.Milliseconds()})
	if err == nil {
		_, err = stdin.Write(append(hello, '\n'))
	}
	if err != nil {
		stdin.Close()
		cmd.Process.Kill()
		<-g.exit
		return nil, err
	}
	return g, nil
}

// done ends the guardian: released says the epochs were given back (else
// the guardian tries again itself).
func (g *guardian) done(released bool) {
	if released {
		io.WriteString(g.stdin, guardianDone+"\n")
	}
	g.stdin.Close()
	select {
	case <-g.exit:
	case <-time.After(3 * time.Minute):
		g.cmd.Process.Kill()
		<-g.exit
	}
}

// RunGuardian is the guardian process's main function (see GuardianCommand):
// it reads the hello line from in, waits for in to end, and releases the
// maintenance mode unless told it was released. It returns the process's
// exit code.
func RunGuardian(in io.Reader, stderr io.Writer) int {
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		fmt.Fprintf(stderr, "metastore guardian: no instructions: %v\n", err)
		return 2
	}
	var h guardianHello
	if err := json.Unmarshal(line, &h); err != nil || h.Token == "" {
		fmt.Fprintf(stderr, "metastore guardian: bad instructions: %v\n", err)
		return 2
	}
	released := false
	for {
		l, err := r.ReadString('\n')
		if l == guardianDone+"\n" || l == guardianDone {
			released = true
		}
		if err != nil {
			break
		}
	}
	if released {
		return 0
	}
	// The restore ended without giving the maintenance mode back: do it,
	// retrying for as long as the lease would have lasted twice.
	lease := time.Duration(h.Lease) * time.Millisecond
	if lease <= 0 {
		lease = DefaultLease
	}
	deadline := time.Now().Add(2 * lease)
	for {
		err := releaseWith(h.Config, h.Token)
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "metastore guardian: %v\n", err)
			return 1
		}
		time.Sleep(2 * time.Second)
	}
}

func releaseWith(cfg Config, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if s.epoch == nil {
		return errors.New("the epoch table is gone")
	}
	return s.releaseToken(ctx, token)
}
