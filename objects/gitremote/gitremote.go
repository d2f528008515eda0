// Package gitremote talks to git servers through go-git's transports: it
// lists a remote's references, sends a pack with reference updates
// (git-receive-pack) and fetches a pack (git-upload-pack), over file://
// paths (through the git program's own git-receive-pack and
// git-upload-pack, as go-git does), ssh:// and scp-like user@host:path, and
// http(s)://.
//
// It builds no packs and stores nothing: package objects writes the packs
// it sends and stores the packs it receives. Credentials come from the
// environment given in Options, never from the repository:
//
//   - ssh: the keys of an ssh-agent (SSH_AUTH_SOCK) and the unencrypted keys
//     ~/.ssh/id_ed25519, id_ecdsa and id_rsa (or METASTORE_SSH_KEY); the
//     server's host key must be in known_hosts (SSH_KNOWN_HOSTS, a list of
//     files, or ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts): an unknown
//     host or a changed key is an error, never accepted.
//   - http(s): METASTORE_GIT_USERNAME and METASTORE_GIT_PASSWORD (a password
//     or token), or the host's entry in ~/.netrc (NETRC names another file);
//     a password written in the URL is used but never shown.
package gitremote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/file"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/internal/iocount"
	"github.com/kylin-tools/metastore/objects/internal/scrub"
)

// Errors of this package, wrapped with details; check them with errors.Is.
var (
	// ErrNoRepository means there is no git repository at the URL.
	ErrNoRepository = errors.New("no git repository there")
	// ErrAuth means the server refused the credentials, or wanted some.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey means an ssh server's host key is unknown or does not
	// match known_hosts.
	ErrHostKey = errors.New("ssh host key not trusted")
	// ErrTimeout means the remote stayed silent for longer than the
	// timeout.
	ErrTimeout = errors.New("remote did not answer in time")
	// ErrRejected means the server refused a reference update.
	ErrRejected = errors.New("remote refused the update")
	// ErrURL means a URL is not one this package can use.
	ErrURL = errors.New("not a usable git URL")
)

// errPushEnded stops a pack writer whose push is over.
var errPushEnded = errors.New("push ended")

// DefaultTimeout is how long a remote may stay silent (while connecting or
// in the middle of a transfer) unless Options say otherwise.
const DefaultTimeout = 2 * time.Minute

// Options configure a Remote.
type Options struct {
	// Getenv reads the environment (credentials, HOME, known_hosts);
	// os.Getenv if nil.
	Getenv func(string) string
	// Timeout bounds connecting and any silence of the remote;
	// DefaultTimeout if zero.
	Timeout time.Duration
}

// Remote is a git remote ready to be connected to.
type Remote struct {
	display string // the URL without its password
	ep      *transport.Endpoint
	client  transport.Transport
	auth    transport.AuthMethod
	secrets []string
	timeout time.Duration
	env     func(string) string
}

// IsGitURL reports whether raw looks like something Open accepts: a URL
// with a scheme this package knows, an scp-like user@host:path, or a path.
func IsGitURL(raw string) bool {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "file", "ssh", "http", "https", "git+ssh", "ssh+git":
			return true
		}
		return false
	}
	return raw != ""
}

// Redact returns raw with any password removed, for display.
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			return u.String()
		}
	}
	return raw
}

// HasPassword reports whether raw carries a password in its user part.
func HasPassword(raw string) bool {
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Scheme != "" {
		_, has := u.User.Password()
		return has
	}
	return false
}

// CheckURL reports whether raw is a URL or path Open accepts, without
// looking for credentials or known hosts. It fails with ErrURL.
func CheckURL(raw string) error {
	_, err := parse(raw)
	return err
}

// parse turns raw into an endpoint of a scheme this package serves.
func parse(raw string) (*transport.Endpoint, error) {
	if !IsGitURL(raw) {
		return nil, fmt.Errorf("%w: %s", ErrURL, Redact(raw))
	}
	norm := raw
	for _, p := range []string{"git+ssh://", "ssh+git://"} {
		if strings.HasPrefix(norm, p) {
			norm = "ssh://" + strings.TrimPrefix(norm, p)
		}
	}
	ep, err := transport.NewEndpoint(norm)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrURL, Redact(raw), err)
	}
	switch ep.Protocol {
	case "file", "ssh", "http", "https":
	default:
		return nil, fmt.Errorf("%w: %s: scheme %q (use file://, ssh://, user@host:path, http:// or https://)", ErrURL, Redact(raw), ep.Protocol)
	}
	if ep.Protocol == "ssh" && ep.Password != "" {
		return nil, fmt.Errorf("%w: %s: ssh URLs take no password (use a key: ssh-agent or ~/.ssh)", ErrURL, Redact(raw))
	}
	return ep, nil
}

// Open prepares a remote for the URL raw: file:///path or a plain path,
// ssh://[user@]host[:port]/path, [user@]host:path, http(s)://host/path.
// It does not connect.
func Open(raw string, opt Options) (*Remote, error) {
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	ep, err := parse(raw)
	if err != nil {
		return nil, err
	}
	r := &Remote{display: Redact(raw), ep: ep, timeout: opt.Timeout, env: opt.Getenv}
	if ep.Password != "" {
		r.secrets = append(r.secrets, ep.Password, url.PathEscape(ep.Password), url.QueryEscape(ep.Password))
	}
	switch ep.Protocol {
	case "file":
		if _, err := exec.LookPath("git"); err != nil {
			return nil, fmt.Errorf("file remotes need the git program (git-receive-pack, git-upload-pack): %w", err)
		}
		r.client = file.DefaultClient
	case "ssh":
		if ep.User == "" {
			ep.User = localUser(opt.Getenv)
		}
		a, err := newSSHAuth(ep, opt.Getenv, opt.Timeout)
		if err != nil {
			return nil, err
		}
		r.auth = a
		r.client = gitssh.NewClient(nil)
	case "http", "https":
		a := httpAuth(ep, opt.Getenv)
		if a != nil {
			r.auth = a
			r.secrets = append(r.secrets, a.Password, url.PathEscape(a.Password), url.QueryEscape(a.Password))
		}
		// The credentials travel as an Authorization header, never in
		// the URL (which go-git may print).
		ep.User, ep.Password = "", ""
		r.client = githttp.NewClient(&http.Client{Transport: newHTTPTransport(opt.Timeout)})
	}
	return r, nil
}

// String returns the remote's URL without its password.
func (r *Remote) String() string { return r.display }

// IsLocal reports whether the remote is a path on this machine.
func (r *Remote) IsLocal() bool { return r.ep.Protocol == "file" }

// Path returns the repository path of the URL.
func (r *Remote) Path() string { return r.ep.Path }

func localUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "git"
}

// Update is one reference change a push asks for.
type Update struct {
	Name     string
	Old, New objects.ID
}

// Session is a connection to a remote's git-receive-pack (OpenPush) or
// git-upload-pack (OpenFetch). Close it when done.
type Session struct {
	r    *Remote
	rp   transport.ReceivePackSession
	up   transport.UploadPackSession
	adv  *packp.AdvRefs
	refs map[string]objects.ID

	ctx    context.Context
	cancel context.CancelCauseFunc
	dog    *watchdog
}

// OpenPush connects to the remote's git-receive-pack and reads its
// references.
func (r *Remote) OpenPush(ctx context.Context) (*Session, error) {
	return r.open(ctx, true)
}

// OpenFetch connects to the remote's git-upload-pack and reads its
// references. An empty repository has none.
func (r *Remote) OpenFetch(ctx context.Context) (*Session, error) {
	return r.open(ctx, false)
}

func (r *Remote) open(parent context.Context, push bool) (*Session, error) {
	ctx, cancel := context.WithCancelCause(parent)
	s := &Session{r: r, ctx: ctx, cancel: cancel}
	s.dog = newWatchdog(r.timeout, cancel)
	type opened struct {
		rp  transport.ReceivePackSession
		up  transport.UploadPackSession
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		// Connecting is not cancellable in go-git (an ssh handshake with
		// a silent server would wait for ever): it runs aside, and is
		// abandoned when the timeout or ctx ends first.
		var o opened
		if push {
			o.rp, o.err = r.client.NewReceivePackSession(r.ep, r.auth)
		} else {
			o.up, o.err = r.client.NewUploadPackSession(r.ep, r.auth)
		}
		ch <- o
	}()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		s.stop()
		return nil, r.fail(context.Cause(ctx))
	}
	if o.err != nil {
		s.stop()
		return nil, r.fail(o.err)
	}
	s.rp, s.up = o.rp, o.up
	var sess transport.Session = o.up
	if push {
		sess = o.rp
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil && !(errors.Is(err, transport.ErrEmptyRemoteRepository) && !push) {
		if c := context.Cause(ctx); c != nil {
			err = c
		}
		sess.Close()
		s.stop()
		return nil, r.fail(err)
	}
	s.dog.touch()
	s.refs = map[string]objects.ID{}
	if adv == nil {
		adv = packp.NewAdvRefs()
	}
	s.adv = adv
	for name, h := range adv.References {
		s.refs[name] = objects.ID(h)
	}
	return s, nil
}

// Refs returns the remote's references by name.
func (s *Session) Refs() map[string]objects.ID { return s.refs }

// Close ends the session.
func (s *Session) Close() error {
	var err error
	if s.rp != nil {
		err = s.rp.Close()
	}
	if s.up != nil {
		err = s.up.Close()
	}
	s.stop()
	return err
}

func (s *Session) stop() {
	s.dog.stop()
	s.cancel(nil)
}

// Push sends the updates and the pack that pack writes (everything the
// new values reach that the remote lacks). The server checks that each
// reference still holds its Old value, stores the pack and moves the
// references only when the pack is complete (all at once when it can do
// that atomically). It fails with ErrRejected naming the references the
// server refused.
func (s *Session) Push(updates []Update, pack func(w io.Writer) error) error {
	if s.rp == nil {
		return errors.New("not a push session")
	}
	caps := s.adv.Capabilities
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	if caps.Supports(capability.Atomic) {
		_ = req.Capabilities.Set(capability.Atomic)
	}
	if caps.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k)
	} else if caps.Supports(capability.Sideband) {
		_ = req.Capabilities.Set(capability.Sideband)
	}
	req.Progress = s.dog // server messages count as signs of life
	for _, u := range updates {
		req.Commands = append(req.Commands, &packp.Command{
			Name: plumbing.ReferenceName(u.Name), Old: plumbing.Hash(u.Old), New: plumbing.Hash(u.New),
		})
	}
	pr, pw := io.Pipe()
	req.Packfile = pr
	done := make(chan error, 1)
	go func() {
		err := pack(s.dog.writer(pw))
		pw.CloseWithError(err)
		done <- err
	}()
	rs, err := s.rp.ReceivePack(s.ctx, req)
	pr.CloseWithError(errPushEnded)
	perr := <-done
	if perr != nil && !errors.Is(perr, io.ErrClosedPipe) && !errors.Is(perr, errPushEnded) {
		return perr
	}
	if c := context.Cause(s.ctx); c != nil && err != nil {
		return s.r.fail(c)
	}
	if rs != nil {
		var bad []string
		if rs.UnpackStatus != "ok" && rs.UnpackStatus != "" {
			bad = append(bad, "storing the pack: "+rs.UnpackStatus)
		}
		for _, cs := range rs.CommandStatuses {
			if cs.Status != "ok" {
				bad = append(bad, cs.ReferenceName.String()+": "+cs.Status)
			}
		}
		if len(bad) > 0 {
			return s.r.scrub(fmt.Errorf("%w (%s): %s", ErrRejected, s.r.display, strings.Join(bad, "; ")))
		}
	}
	if err != nil {
		return s.r.fail(err)
	}
	return nil
}

// Fetch asks for the commits wants (and everything they reach), telling
// the server which commits haves this repository already has, and passes
// the pack it sends to receive. It does nothing if wants is empty.
func (s *Session) Fetch(wants, haves []objects.ID, receive func(r io.Reader) error) error {
	if s.up == nil {
		return errors.New("not a fetch session")
	}
	if len(wants) == 0 {
		return nil
	}
	req := packp.NewUploadPackRequestFromCapabilities(s.adv.Capabilities)
	// No thin packs: every pack received must stand alone.
	req.Capabilities.Delete(capability.ThinPack)
	req.Capabilities.Delete(capability.MultiACK)
	req.Capabilities.Delete(capability.MultiACKDetailed)
	for _, w := range wants {
		req.Wants = append(req.Wants, plumbing.Hash(w))
	}
	for _, h := range haves {
		req.Haves = append(req.Haves, plumbing.Hash(h))
	}
	resp, err := s.up.UploadPack(s.ctx, req)
	if err != nil {
		if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
			return nil
		}
		if c := context.Cause(s.ctx); c != nil {
			return s.r.fail(c)
		}
		return s.r.fail(err)
	}
	defer resp.Close()
	var rd io.Reader = resp
	var t sideband.Type
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		t = sideband.Sideband64k
	case req.Capabilities.Supports(capability.Sideband):
		t = sideband.Sideband
	}
	if t != 0 {
		d := sideband.NewDemuxer(t, rd)
		d.Progress = s.dog
		rd = d
	}
	if err := receive(s.dog.reader(rd)); err != nil {
		if c := context.Cause(s.ctx); c != nil {
			return s.r.fail(c)
		}
		return s.r.scrub(err)
	}
	return nil
}

// fail translates an error from go-git into this package's terms, without
// any secret in it.
func (r *Remote) fail(err error) error {
	var kerr *hostKeyError
	switch {
	case errors.As(err, &kerr):
		return r.scrub(kerr)
	case errors.Is(err, ErrTimeout):
		return r.scrub(fmt.Errorf("%s: %w (no answer for %s)", r.display, ErrTimeout, r.timeout))
	case errors.Is(err, transport.ErrRepositoryNotFound):
		hint := ""
		if r.IsLocal() {
			hint = " (create one with: git init --bare " + r.ep.Path + ")"
		}
		return r.scrub(fmt.Errorf("%s: %w%s", r.display, ErrNoRepository, hint))
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return r.scrub(fmt.Errorf("%s: %w: %v (give credentials with METASTORE_GIT_USERNAME and METASTORE_GIT_PASSWORD, or in ~/.netrc)", r.display, ErrAuth, err))
	case strings.Contains(err.Error(), "unable to authenticate"):
		return r.scrub(fmt.Errorf("%s: %w: %v (the server accepted none of the keys from ssh-agent, ~/.ssh or METASTORE_SSH_KEY)", r.display, ErrAuth, err))
	case r.IsLocal() && strings.Contains(err.Error(), "does not appear to be a git repository"):
		return r.scrub(fmt.Errorf("%s: %w (create one with: git init --bare %s)", r.display, ErrNoRepository, r.ep.Path))
	}
	return r.scrub(fmt.Errorf("%s: %w", r.display, err))
}

// scrub replaces every secret in err's message.
func (r *Remote) scrub(err error) error { return scrub.Secrets(err, r.secrets) }

// watchdog cancels a session when nothing moved for its timeout.
type watchdog struct {
	timeout time.Duration
	last    atomic.Int64
	stopped chan struct{}
	once    sync.Once
}

func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc) *watchdog {
	d := &watchdog{timeout: timeout, stopped: make(chan struct{})}
	d.touch()
	go func() {
		tick := time.NewTicker(min(timeout/4, time.Second))
		defer tick.Stop()
		for {
			select {
			case <-d.stopped:
				return
			case <-tick.C:
				if time.Since(time.Unix(0, d.last.Load())) > timeout {
					cancel(ErrTimeout)
					return
				}
			}
		}
	}()
	return d
}

func (d *watchdog) touch() { d.last.Store(time.Now().UnixNano()) }

func (d *watchdog) stop() { d.once.Do(func() { close(d.stopped) }) }

// Write receives the server's progress messages: signs of life.
func (d *watchdog) Write(p []byte) (int, error) {
	d.touch()
	return len(p), nil
}

// reader and writer touch the watchdog whenever bytes pass.
func (d *watchdog) reader(r io.Reader) io.Reader {
	return &iocount.Reader{R: r, Progress: func(int64) { d.touch() }}
}

func (d *watchdog) writer(w io.Writer) io.Writer {
	return &iocount.Writer{W: w, Progress: func(int64) { d.touch() }}
}

// newHTTPTransport is http.DefaultTransport with bounded connecting.
func newHTTPTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = timeout
	return t
}

// httpAuth finds credentials for an http(s) endpoint: the URL's own
// password, METASTORE_GIT_USERNAME/METASTORE_GIT_PASSWORD, or ~/.netrc.
func httpAuth(ep *transport.Endpoint, getenv func(string) string) *githttp.BasicAuth {
	if ep.Password != "" {
		return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}
	}
	if pw := getenv("METASTORE_GIT_PASSWORD"); pw != "" {
		u := getenv("METASTORE_GIT_USERNAME")
		if u == "" {
			u = ep.User
		}
		if u == "" {
			// Token-based servers accept any user name with a token.
			u = "metastore"
		}
		return &githttp.BasicAuth{Username: u, Password: pw}
	}
	path := getenv("NETRC")
	if path == "" {
		if home := homeDir(getenv); home != "" {
			path = filepath.Join(home, ".netrc")
		}
	}
	if path == "" {
		return nil
	}
	if login, pw, ok := netrcLookup(path, ep.Host, ep.User); ok {
		return &githttp.BasicAuth{Username: login, Password: pw}
	}
	return nil
}

func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}
