package remotetest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// helperEnv makes this test binary a helper process that starts a server,
// gets it busy, says so and waits to be killed (TestHelperServer).
const helperEnv = "REMOTETEST_HELPER"

// needProc skips a test that finds processes through /proc.
func needProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc (Linux) to find the servers' processes")
	}
}

// waitFor polls until cond holds, or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// busy reports whether a process holding token runs a program with name
// in its file name (argv[0]). Only the program counts, not its arguments:
// setpriv's command line names git-http-backend before setpriv execs it,
// and while a process execs, /proc shows no environment (no token), so a
// check made then would find no server.
func busy(token, name string) bool {
	for _, p := range processesWith(token) {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		argv0, _, _ := strings.Cut(string(cmd), "\x00")
		if strings.Contains(filepath.Base(argv0), name) {
			return true
		}
	}
	return false
}

// cutPush sends git http-backend a push whose body is shorter than its
// Content-Length: the connection stays open (the body never completes)
// unless halfClose, which ends the body at once. It returns the connection.
func cutPush(t testing.TB, g *GitHTTP, halfClose bool) net.Conn {
	t.Helper()
	if out, err := exec.Command("git", "init", "-q", "--bare", filepath.Join(g.Root, "r.git")).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	c, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(g.User + ":" + g.Password))
	fmt.Fprintf(c, "POST /r.git/git-receive-pack HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"+
		"Content-Type: application/x-git-receive-pack-request\r\nContent-Length: 1048576\r\n\r\n0000", g.srv.Listener.Addr(), auth)
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	return c
}

// TestGitHTTPStopEndsBackends: a push cut short leaves git http-backend
// spinning on a body that never comes; Stop kills it and the receive-pack
// it started, and the end of the test finds nothing left.
func TestGitHTTPStopEndsBackends(t *testing.T) {
	needProc(t)
	g := StartGitHTTP(t)
	c := cutPush(t, g, true)
	defer c.Close()
	waitFor(t, 10*time.Second, "git http-backend", func() bool { return busy(g.token, "http-backend") })
	g.Stop()
	if left := processesWith(g.token); len(left) > 0 {
		t.Fatalf("after Stop, still running: %s", describe(left))
	}
}

// TestSSHDKillEndsSessions: Kill ends the connections sshd serves and
// their sessions, which sshd starts in process groups of their own, while
// the client still holds its connection open.
func TestSSHDKillEndsSessions(t *testing.T) {
	needProc(t)
	s := StartSSHD(t)
	client := dialSSHD(t, s)
	defer client.Close()
	startSession(t, s, client)
	s.mu.Lock()
	served := append(descendants(s.cmd.Process.Pid), processesWith(s.token)...)
	s.mu.Unlock()
	if len(served) < 2 {
		t.Fatalf("want sshd's connection and session processes, found %s", describe(served))
	}
	s.Kill()
	waitFor(t, 5*time.Second, "the sshd connections and sessions to end", func() bool {
		return len(running(served)) == 0 && len(processesWith(s.token)) == 0
	})
}

// dialSSHD connects to s with its user key.
func dialSSHD(t testing.TB, s *SSHD) *ssh.Client {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(s.Home, ".ssh", "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// startSession runs git-receive-pack on a new bare repository in a session
// that waits for the push (its input stays open), and waits until it runs.
func startSession(t testing.TB, s *SSHD, client *ssh.Client) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "r.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("git-receive-pack '" + repo + "'"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "git-receive-pack in an ssh session", func() bool { return busy(s.token, "receive-pack") })
}

// TestHelperServer is the helper process of TestNoServerOutlivesItsTest:
// it starts the server $REMOTETEST_HELPER names, gets it busy, prints
// "READY token PID:START..." (the server's processes that do not show the
// token) and waits to be killed.
func TestHelperServer(t *testing.T) {
	kind := os.Getenv(helperEnv)
	if kind == "" {
		t.Skip("the helper process of TestNoServerOutlivesItsTest")
	}
	var token string
	var server []process
	switch kind {
	case "git-http":
		g := StartGitHTTP(t)
		cutPush(t, g, false)
		waitFor(t, 10*time.Second, "git http-backend", func() bool { return busy(g.token, "http-backend") })
		token = g.token
	case "sshd":
		s := StartSSHD(t)
		startSession(t, s, dialSSHD(t, s))
		token = s.token
		p, _ := readProcess(s.cmd.Process.Pid)
		server = append(descendants(p.pid), p)
	case "s3":
		s := StartS3(t)
		token = s.token
	default:
		t.Fatalf("no server %q", kind)
	}
	fmt.Printf("READY %s", token)
	for _, p := range server {
		fmt.Printf(" %d:%s", p.pid, p.start)
	}
	fmt.Println()
	time.Sleep(time.Hour)
}

// TestNoServerOutlivesItsTest kills (SIGKILL, as a test binary's timeout
// or a developer would) a test process while its servers are busy: git
// http-backend in the middle of a push (it would spin for ever on the body
// that never completes), sshd with a session open, versitygw. None may
// outlive it.
func TestNoServerOutlivesItsTest(t *testing.T) {
	needProc(t)
	if !hasPdeathsig {
		t.Skip("no parent-death signal on this system")
	}
	for _, kind := range []string{"git-http", "sshd", "s3"} {
		t.Run(kind, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"="+kind)
			// A server that outlives the helper may hold its stderr open.
			cmd.WaitDelay = 2 * time.Second
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var token string
			var server []process
			var lines []string
			sc := bufio.NewScanner(out)
			for token == "" && sc.Scan() {
				line := sc.Text()
				lines = append(lines, line)
				if rest, ok := strings.CutPrefix(line, "READY "); ok {
					f := strings.Fields(rest)
					token = f[0]
					for _, ps := range f[1:] {
						pid, start, _ := strings.Cut(ps, ":")
						p := process{start: start}
						p.pid, _ = strconv.Atoi(pid)
						server = append(server, p)
					}
				}
			}
			if token == "" {
				cmd.Wait()
				text := strings.Join(lines, "\n") + "\n" + stderr.String()
				if strings.Contains(text, "--- SKIP: TestHelperServer") {
					t.Skipf("the helper skipped:\n%s", text)
				}
				t.Fatalf("the helper did not start its server:\n%s", text)
			}
			// Whatever happens below, leave nothing running.
			t.Cleanup(func() { killAll(token, server...) })
			left := func() []process { return append(processesWith(token), running(server)...) }
			if len(left()) == 0 {
				t.Fatal("the helper's server is not running")
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			deadline := time.Now().Add(10 * time.Second)
			// Twice in a row: a process in the middle of an exec shows no
			// token for a moment.
			for gone := 0; gone < 2 && time.Now().Before(deadline); {
				if gone++; len(left()) > 0 {
					gone = 0
				}
				time.Sleep(50 * time.Millisecond)
			}
			if l := left(); len(l) > 0 {
				t.Errorf("still running 10 s after the test process was killed: %s", describe(l))
			}
		})
	}
}
