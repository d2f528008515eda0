package remotetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tokenEnv is the environment variable whose value, different for each
// server, marks the processes that server started and their children.
const tokenEnv = "METASTORE_REMOTETEST"

// newToken returns a fresh "tokenEnv=VALUE".
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return tokenEnv + "=" + hex.EncodeToString(b)
}

// process is one running process, as /proc shows it.
type process struct {
	pid, ppid int
	start     string // start time since boot, in clock ticks: with pid, names one process for good
	zombie    bool   // exited, not yet reaped
}

// readProcess reads /proc/PID/stat.
func readProcess(pid int) (process, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return process{}, false
	}
	// "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return process{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return process{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return process{pid: pid, ppid: ppid, start: f[19], zombie: f[0] == "Z" || f[0] == "X"}, true
}

// pids lists the processes in /proc; none where there is no /proc.
func pids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// processesWith returns the running processes whose environment holds
// token (a "KEY=VALUE" pair). A process that exited but was not yet
// reaped has no environment left and is not listed; neither is one that
// wrote over its environment (sshd does, for its process titles: see
// descendants).
func processesWith(token string) []process {
	want := []byte(token + "\x00")
	var out []process
	for _, pid := range pids() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil || !(bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...))) {
			continue
		}
		if p, ok := readProcess(pid); ok && !p.zombie {
			out = append(out, p)
		}
	}
	return out
}

// descendants returns the running processes below pid.
func descendants(pid int) []process {
	children := map[int][]process{}
	for _, q := range pids() {
		if p, ok := readProcess(q); ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var out []process
	for todo := children[pid]; len(todo) > 0; {
		p := todo[0]
		todo = append(todo[1:], children[p.pid]...)
		if !p.zombie {
			out = append(out, p)
		}
	}
	return out
}

// running returns those of ps still running (the same processes: same
// pid and start time, not zombies).
func running(ps []process) []process {
	var out []process
	for _, p := range ps {
		if q, ok := readProcess(p.pid); ok && q.start == p.start && !q.zombie {
			out = append(out, p)
		}
	}
	return out
}

// kill sends SIGKILL to ps.
func kill(ps []process) {
	for _, p := range ps {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// killAll kills (SIGKILL) the processes holding token, and the processes
// of also, again until none is left (a process may fork while it is
// killed) or 5 seconds have passed, and returns those still running.
func killAll(token string, also ...process) []process {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := append(processesWith(token), running(also)...)
		if len(ps) == 0 || time.Now().After(deadline) {
			return ps
		}
		kill(ps)
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills a server started as cmd in its own process group, every
// process below it (sshd forks each connection into a session of its own)
// and whatever else holds its token, then reaps it; it returns what is
// still running. The processes it forked share its output pipes: Wait
// returns once they are all gone (or gives up on the pipes after
// cmd.WaitDelay).
func stop(cmd *exec.Cmd, token string) []process {
	var tree []process
	if cmd != nil {
		tree = descendants(cmd.Process.Pid)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
	}
	left := killAll(token, tree...)
	if cmd != nil {
		cmd.Wait()
	}
	return left
}

// checkGone fails the test if any of left, what a server named what left
// running, or a process holding its token is still running.
func checkGone(t testing.TB, what, token string, left ...process) {
	t.Helper()
	if left := killAll(token, left...); len(left) > 0 {
		t.Errorf("%s: processes left running after the test: %s", what, describe(left))
	}
}

// describe names processes by pid and command line.
func describe(ps []process) string {
	var parts []string
	for _, p := range ps {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		parts = append(parts, fmt.Sprintf("%d %q", p.pid, strings.TrimRight(strings.ReplaceAll(string(cmd), "\x00", " "), " ")))
	}
	return strings.Join(parts, ", ")
}
