// Package remotetest starts real servers on loopback for the tests of
// push and pull: an S3-compatible server (versitygw in posix mode), an ssh
// server (Debian's OpenSSH sshd) with a generated host key and user key,
// and git's own smart HTTP server (git http-backend) behind net/http/cgi
// with basic authentication; and a TCP proxy that cuts connections after a
// number of bytes, to make a remote go away in the middle of a transfer.
//
// A test that needs a server that is not installed is skipped with a
// message saying what to install, unless the environment variable named for
// it (METASTORE_REQUIRE_S3, METASTORE_REQUIRE_SSH, METASTORE_REQUIRE_GIT_HTTP)
// is 1, as CI sets them: then it fails.
//
// No server outlives its test. Every process a server starts, and every
// process those start (git http-backend's receive-pack and index-pack, the
// sessions sshd forks into process groups of their own), carries the
// server's token in its environment (tokenEnv); stopping the server, and
// the end of the test whether it passed or failed, kills every process
// holding the token and every process below the server (sshd's
// connections, which write over their environment), and a process still
// there after that fails the test. On Linux the servers also die with the
// test process itself (the parent-death signal), so a test binary killed
// by its timeout or by hand leaves no git http-backend spinning on a
// request body cut short.
package remotetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// require skips the test, or fails it when the variable env is 1.
func require(t testing.TB, env, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(env) == "1" {
		t.Fatalf("%s (%s=1)", msg, env)
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, env)
}

// freePort returns a loopback port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// server is a server process a test started on a loopback port.
type server struct {
	t     testing.TB
	token string // in the environment of the server and its children
	mu    sync.Mutex
	cmd   *exec.Cmd
}

// run starts cmd, in a process group of its own with the token in its
// environment, and waits until addr accepts connections; what names the
// server in failures.
func (s *server) run(what string, cmd *exec.Cmd, addr string) {
	s.t.Helper()
	cmd.Env = append(os.Environ(), s.token)
	cmd.SysProcAttr = serverAttr()
	cmd.WaitDelay = 5 * time.Second
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", what, err)
	}
	if err := waitPort(addr, 10*time.Second); err != nil {
		stop(cmd, s.token)
		s.t.Fatalf("%s did not start: %v\n%s", what, err, log.String())
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
}

// Kill stops the server at once (SIGKILL), with every process below it
// (an sshd's connections and sessions) and every process holding its token.
func (s *server) Kill() { s.kill() }

// kill is Kill, returning the processes still running.
func (s *server) kill() []process {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	return stop(cmd, s.token)
}

// S3 is a running versitygw.
type S3 struct {
	// Endpoint is its URL (http://127.0.0.1:PORT); Root the folder whose
	// subfolders are its buckets.
	Endpoint, Root string
	// Access and Secret are its credentials.
	Access, Secret string

	server
	addr string
}

// StartS3 starts versitygw in posix mode on a loopback port, with fresh
// credentials, serving the buckets under a temporary folder; it stops when
// the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		require(t, "METASTORE_REQUIRE_S3", "versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	secret := make([]byte, 18)
	rand.Read(secret)
	s := &S3{
		Root:   t.TempDir(),
		Access: "metastore-test",
		Secret: "s3-" + base64.RawURLEncoding.EncodeToString(secret),
		server: server{t: t, token: newToken()},
	}
	port := freePort(t)
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.Endpoint = "http://" + s.addr
	t.Cleanup(func() { checkGone(t, "versitygw", s.token, s.kill()...) })
	s.start(bin)
	return s
}

func (s *S3) start(bin string) {
	s.t.Helper()
	s.run("versitygw", exec.Command(bin, "--access", s.Access, "--secret", s.Secret, "--port", s.addr, "--quiet", "posix", s.Root), s.addr)
}

// Bucket creates a bucket.
func (s *S3) Bucket(name string) {
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o755); err != nil {
		s.t.Fatal(err)
	}
}

// Env returns the AWS environment that reaches this server with its
// credentials.
func (s *S3) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.Access,
		"AWS_SECRET_ACCESS_KEY=" + s.Secret,
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_REGION=us-east-1",
	}
}

// Getenv is Env as a lookup function over the process environment.
func (s *S3) Getenv(extra ...string) func(string) string {
	return Getenv(append(s.Env(), extra...)...)
}

// Restart starts the server again on the same port and folder.
func (s *S3) Restart() {
	s.Kill()
	bin, _ := exec.LookPath("versitygw")
	s.start(bin)
}

// Getenv returns a lookup function that finds the KEY=VALUE pairs kv first,
// then the process environment. A pair with an empty value hides the
// variable.
func Getenv(kv ...string) func(string) string {
	m := map[string]string{}
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// SSHD is a running OpenSSH server that lets the current user in with a
// generated key.
type SSHD struct {
	// Addr is 127.0.0.1:PORT, User the user to log in as.
	Addr string
	Port int
	User string
	// Home is a home folder for the client, with .ssh/id_ed25519;
	// KnownHosts a known_hosts file holding the server's host key.
	Home, KnownHosts string

	server
	dir     string
	cfg     string
	hostKey ssh.PublicKey
}

// KnownHostsFor writes a known_hosts file that trusts this server's host
// key at addr (a proxy in front of it, say) and returns its path.
func (s *SSHD) KnownHostsFor(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	p := filepath.Join(s.t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(s.hostKey))
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// StartSSHD starts /usr/sbin/sshd on a loopback port with a fresh host key
// and a fresh user key; it stops when the test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		require(t, "METASTORE_REQUIRE_SSH", "sshd is not installed (apt-get install openssh-server)")
	}
	if _, err := exec.LookPath("git-receive-pack"); err != nil {
		require(t, "METASTORE_REQUIRE_SSH", "git-receive-pack is not on PATH for ssh sessions (apt-get install git)")
	}
	if _, err := os.Stat("/run/sshd"); err != nil {
		// sshd's privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			require(t, "METASTORE_REQUIRE_SSH", "sshd needs /run/sshd: %v", err)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &SSHD{User: u.Username, server: server{t: t, token: newToken()}, dir: dir, Home: filepath.Join(dir, "home")}
	os.MkdirAll(filepath.Join(s.Home, ".ssh"), 0o700)
	hostKey := writeKey(t, filepath.Join(dir, "host_ed25519"))
	s.hostKey = hostKey
	userKey := writeKey(t, filepath.Join(s.Home, ".ssh", "id_ed25519"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey), 0o600)
	s.Port = freePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(hostKey))), 0o600)
	s.cfg = filepath.Join(dir, "sshd_config")
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
StrictModes no
UsePAM no
LogLevel ERROR
SetEnv %s
`, s.Port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), s.token)
	os.WriteFile(s.cfg, []byte(cfg), 0o600)
	t.Cleanup(func() { checkGone(t, "sshd", s.token, s.kill()...) })
	s.start()
	return s
}

func (s *SSHD) start() {
	// sshd forks each connection, and each session, into a session and
	// process group of its own: Kill finds the connections below sshd and
	// the sessions by the token (SetEnv), which they keep if a connection
	// outlived sshd (sshd itself writes its process titles over its
	// environment).
	s.run("sshd", exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", s.cfg), s.Addr)
}

// URL returns the ssh:// URL of a repository path on this server.
func (s *SSHD) URL(path string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.User, s.Addr, path)
}

// Env returns the client environment: HOME holding the user key, and
// SSH_KNOWN_HOSTS naming the known_hosts file; no ssh-agent.
func (s *SSHD) Env() []string {
	return []string{"HOME=" + s.Home, "SSH_KNOWN_HOSTS=" + s.KnownHosts, "SSH_AUTH_SOCK="}
}

// Restart starts the server again with the same keys and port.
func (s *SSHD) Restart() {
	s.Kill()
	s.start()
}

// writeKey writes a fresh ed25519 private key in OpenSSH format and
// returns its public key.
func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// GitHTTP is git http-backend serving the bare repositories under Root,
// behind basic authentication.
type GitHTTP struct {
	// URL is the server's base URL; a repository Root/x.git is URL/x.git.
	URL, Root string
	// User and Password are the credentials it accepts.
	User, Password string

	srv   *httptest.Server
	token string // in the environment of every backend and its children
	// cut, when set, closes the connection once the request bodies read
	// reach that many bytes.
	cut     atomic.Int64
	read    atomic.Int64
	Pushes  atomic.Int64
	stopped atomic.Bool
}

// StartGitHTTP starts git http-backend behind a loopback HTTP server that
// wants the returned User and Password; it stops when the test ends.
func StartGitHTTP(t testing.TB) *GitHTTP {
	t.Helper()
	return StartGitHTTPAt(t, t.TempDir(), "")
}

// StartGitHTTPAt is StartGitHTTP serving the repositories under root, with
// the given password (a fresh one if empty).
func StartGitHTTPAt(t testing.TB, root, password string) *GitHTTP {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
			backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
		}
		if _, err := os.Stat(backend); err != nil {
			require(t, "METASTORE_REQUIRE_GIT_HTTP", "git http-backend is not installed (apt-get install git)")
		}
	}
	if password == "" {
		pw := make([]byte, 12)
		rand.Read(pw)
		password = "pw-" + base64.RawURLEncoding.EncodeToString(pw)
	}
	g := &GitHTTP{Root: root, User: "kylin", Password: password, token: newToken()}
	// git http-backend spins for ever on a request body shorter than its
	// Content-Length (it reads 0 bytes and loops), which is what a cut
	// leaves: Stop kills every backend (found by the token, which git
	// passes on to receive-pack and index-pack). setpriv makes a backend
	// die with the test process too (net/http/cgi cannot set the
	// parent-death signal itself).
	h := &cgi.Handler{
		Path: backend,
		Env: []string{
			g.token,
			"GIT_PROJECT_ROOT=" + g.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			// Pushes are allowed to whoever passed basic authentication.
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
		},
	}
	if setpriv, err := exec.LookPath("setpriv"); err == nil && hasPdeathsig {
		h.Path, h.Args = setpriv, []string{"--pdeathsig", "KILL", "--", backend}
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.stopped.Load() {
			// Stopped: start no backend (a request accepted just before).
			http.Error(w, "stopped", http.StatusServiceUnavailable)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || u != g.User || p != g.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			g.Pushes.Add(1)
		}
		r.Body = &cutReader{r: r.Body, g: g}
		h.ServeHTTP(w, r)
	}))
	g.URL = g.srv.URL
	t.Cleanup(func() {
		g.Stop()
		// Close waits for the requests in flight, and a request waits for
		// its backend: keep killing backends (one started by a request
		// that passed the check above just as Stop ran) until it returns.
		closed := make(chan struct{})
		go func() { g.srv.Close(); close(closed) }()
		for done := false; !done; {
			select {
			case <-closed:
				done = true
			case <-time.After(50 * time.Millisecond):
				killAll(g.token)
			}
		}
		checkGone(t, "git http-backend", g.token)
	})
	return g
}

type cutReader struct {
	r io.ReadCloser
	g *GitHTTP
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.g.read.Add(int64(n))
	if cut := c.g.cut.Load(); cut > 0 && total >= cut {
		c.g.Stop()
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// CutAfter makes the server go away (Stop) once it has read n more bytes
// of request bodies.
func (g *GitHTTP) CutAfter(n int64) {
	g.cut.Store(g.read.Load() + n)
}

// Stop closes the server and every connection to it, and kills every
// backend still running and their children.
func (g *GitHTTP) Stop() {
	if !g.stopped.Swap(true) {
		g.srv.Listener.Close()
		g.srv.CloseClientConnections()
	}
	killAll(g.token)
}

// Proxy forwards loopback TCP connections to a server and can cut them
// all after a number of bytes sent towards the server.
type Proxy struct {
	// Addr is where it listens (127.0.0.1:PORT).
	Addr string

	l      net.Listener
	target string
	sent   atomic.Int64
	recv   atomic.Int64
	cutIn  atomic.Int64
	cut    atomic.Int64
	onCut  func()
	cutOn  atomic.Pointer[[]byte]
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// StartProxy listens on a loopback port and forwards to target. onCut, if
// not nil, runs when a cut happens (to kill the server too).
func StartProxy(t testing.TB, target string, onCut func()) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), l: l, target: target, onCut: onCut}
	go p.serve()
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *Proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) || !p.track(s) {
		s.Close()
		c.Close()
		return
	}
	go p.pipe(c, s, func(b []byte) bool {
		total := p.recv.Add(int64(len(b)))
		cut := p.cutIn.Load()
		return cut > 0 && total >= cut
	})
	p.pipe(s, c, func(b []byte) bool {
		if pat := p.cutOn.Load(); pat != nil && bytes.Contains(b, *pat) {
			return true
		}
		total := p.sent.Add(int64(len(b)))
		cut := p.cut.Load()
		return cut > 0 && total >= cut
	})
}

// pipe copies src to dst until either fails, then closes dst. Each chunk
// read goes first to cut: if it says so, the proxy cuts every connection
// and pipe returns.
func (p *Proxy) pipe(dst, src net.Conn, cut func([]byte) bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if cut(buf[:n]) {
				p.cutNow()
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
}

func (p *Proxy) cutNow() {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	if already {
		return
	}
	p.l.Close()
	for _, c := range conns {
		c.Close()
	}
	if p.onCut != nil {
		p.onCut()
	}
}

// CutOn cuts every connection (and stops listening) before forwarding
// data towards the server that contains pattern (an HTTP request line, say:
// "PUT /bucket/prefix/refs.json").
func (p *Proxy) CutOn(pattern string) {
	b := []byte(pattern)
	p.cutOn.Store(&b)
}

// CutAfter cuts every connection (and stops listening) once n more bytes
// went towards the server.
func (p *Proxy) CutAfter(n int64) { p.cut.Store(p.sent.Load() + n) }

// CutAfterReceived cuts every connection (and stops listening) once n more
// bytes came back from the server.
func (p *Proxy) CutAfterReceived(n int64) { p.cutIn.Store(p.recv.Load() + n) }

// Sent returns the bytes forwarded towards the server so far.
func (p *Proxy) Sent() int64 { return p.sent.Load() }

// Close stops the proxy.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.l.Close()
	for _, c := range conns {
		c.Close()
	}
}
