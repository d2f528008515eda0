package snapshot

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/gitremote"
	"github.com/kylin-tools/metastore/objects/s3"
)

// Remotes: off-machine copies of the repository (FORMAT.md, "Remotes").
//
// A remote is a git repository (file://, a path, ssh://, user@host:path,
// http(s)://) or a prefix of an S3-compatible bucket (s3://BUCKET/PREFIX).
// Each instance (a Kylin metastore, named by its /UUID) keeps its snapshots
// there under its own namespace, refs/metastore/<instance>/heads/... and
// .../tags/..., so any number of instances share one remote without ever
// touching each other's references. Pulled snapshots are kept under
// refs/remotes/<remote>/<instance>/..., which count as reachable like the
// repository's own branches.

// Errors of the remote use cases, wrapped with details; check them with
// errors.Is.
var (
	// ErrUnknownRemote means a name is not a configured remote.
	ErrUnknownRemote = errors.New("no such remote")
	// ErrRemoteExists means a remote name is already taken.
	ErrRemoteExists = errors.New("remote already exists")
	// ErrRemoteURL means a remote URL cannot be used or stored (it holds a
	// password, names an unknown scheme, ...).
	ErrRemoteURL = errors.New("unusable remote URL")
	// ErrNoRemote means no remote was given and none is the default.
	ErrNoRemote = errors.New("no remote given")
	// ErrNonFastForward means the remote holds snapshots of this instance
	// that this repository's do not descend from: a push would lose them,
	// so nothing was pushed.
	ErrNonFastForward = errors.New("the remote has snapshots this repository lacks")
	// ErrNoInstance means the repository's snapshots record no metastore
	// UUID to name their namespace on a remote.
	ErrNoInstance = errors.New("no instance name")
)

// Names in the repository and on remotes (FORMAT.md).
const (
	refRemotes      = "refs/remotes/"
	refMetastore    = "refs/metastore/"
	remoteSection   = "remote"
	defaultRemoteKV = "defaultremote"
	remoteCacheDir  = "metastore-remote"
	// trackingOrigin is the remote a pull into a new repository adds.
	trackingOrigin = "origin"
)

// RemoteOptions are the settings every remote operation takes.
type RemoteOptions struct {
	// Getenv reads the environment for credentials (see package
	// gitremote and package s3); os.Getenv if nil.
	Getenv func(string) string
	// Timeout bounds connecting and any silence of the remote; two
	// minutes if zero.
	Timeout time.Duration
	// Progress receives progress; nil for none.
	Progress Progress
}

func (o *RemoteOptions) defaults() {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
}

// ByteProgress is a Progress that can also show a phase counted in bytes
// (a transfer) rather than in resources.
type ByteProgress interface {
	Progress
	StartBytes(phase string, total int64)
}

// UnitProgress is a Progress that can show a phase counted in some other
// unit ("objects").
type UnitProgress interface {
	Progress
	StartUnit(phase, unit string, total int64)
}

func startBytes(p Progress, phase string, total int64) {
	if bp, ok := p.(ByteProgress); ok {
		bp.StartBytes(phase, total)
		return
	}
	p.Start(phase, total)
}

func startUnit(p Progress, phase, unit string, total int64) {
	if up, ok := p.(UnitProgress); ok {
		up.StartUnit(phase, unit, total)
		return
	}
	p.Start(phase, total)
}

// Remote is a configured remote.
type Remote struct {
	Name string
	// URL is where it is, as given (a password is never stored).
	URL string
	// Default is true for the remote push and pull use when none is named.
	Default bool
}

var remoteNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRemoteName accepts names usable as a remote: letters, digits, '.',
// '_' and '-', starting with a letter or digit.
func CheckRemoteName(name string) error {
	if !remoteNameRE.MatchString(name) || strings.HasSuffix(name, ".lock") || name == "all" {
		return fmt.Errorf("%w: remote name %q: use letters, digits, '.', '_' and '-' (and not \"all\")", ErrRemoteURL, name)
	}
	return nil
}

// CheckRemoteURL checks that url can be used and stored: an s3:// URL
// without credentials, or a git URL or path without a password.
func CheckRemoteURL(url string) error {
	if s3.IsURL(url) {
		if _, _, err := s3.ParseURL(url); err != nil {
			return fmt.Errorf("%w: %v", ErrRemoteURL, err)
		}
		return nil
	}
	if gitremote.HasPassword(url) {
		return fmt.Errorf("%w: %s holds a password, which would be stored in clear in the repository's config: add the URL without it, and give the password in METASTORE_GIT_PASSWORD (with METASTORE_GIT_USERNAME) or ~/.netrc", ErrRemoteURL, gitremote.Redact(url))
	}
	if err := gitremote.CheckURL(url); err != nil {
		return fmt.Errorf("%w: %v", ErrRemoteURL, err)
	}
	return nil
}

// normalizeURL makes a local path absolute, so a remote works from any
// working directory.
func normalizeURL(url string) string {
	if s3.IsURL(url) || strings.Contains(url, "://") || isSCPLike(url) {
		return url
	}
	if abs, err := filepath.Abs(url); err == nil {
		return abs
	}
	return url
}

var scpLikeRE = regexp.MustCompile(`^(?:[^@/]+@)?[^@/:]+:`)

func isSCPLike(s string) bool { return scpLikeRE.MatchString(s) && !strings.HasPrefix(s, "/") }

// Remotes lists the configured remotes, sorted by name.
func (r *Repository) Remotes() ([]Remote, error) {
	c, err := r.objs.ReadConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	def, _ := c.Get("metastore", "", defaultRemoteKV)
	var out []Remote
	for _, ss := range c.Subsections(remoteSection) {
		// A password someone wrote into the config by hand is neither
		// shown nor used (credentials come from the environment).
		url := ss.Values["url"]
		if !s3.IsURL(url) {
			url = gitremote.Redact(url)
		}
		out = append(out, Remote{Name: ss.Name, URL: url, Default: ss.Name == def})
	}
	return out, nil
}

// AddRemote configures a remote; makeDefault makes it the default. A URL
// with a password is refused (ErrRemoteURL): nothing secret is stored.
func (r *Repository) AddRemote(ctx context.Context, name, url string, makeDefault bool) (Remote, error) {
	if err := CheckRemoteName(name); err != nil {
		return Remote{}, err
	}
	if err := CheckRemoteURL(url); err != nil {
		return Remote{}, err
	}
	url = normalizeURL(url)
	unlock, err := r.lock(ctx)
	if err != nil {
		return Remote{}, err
	}
	defer unlock()
	err = r.objs.EditConfig(func(c *objects.Config) error {
		if _, ok := c.Get(remoteSection, name, "url"); ok {
			return fmt.Errorf("%w: %q (remove it first)", ErrRemoteExists, name)
		}
		c.Set(remoteSection, name, "url", url)
		// What plain git would fetch: the same layout pull keeps.
		c.Set(remoteSection, name, "fetch", "+"+refMetastore+"*:"+refRemotes+name+"/*")
		if makeDefault {
			c.Set("metastore", "", defaultRemoteKV, name)
		}
		return nil
	})
	if err != nil {
		return Remote{}, err
	}
	return Remote{Name: name, URL: url, Default: makeDefault}, nil
}

// RemoveRemote removes a remote from the configuration. The snapshots
// pulled from it stay (under refs/remotes/NAME/).
func (r *Repository) RemoveRemote(ctx context.Context, name string) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return r.objs.EditConfig(func(c *objects.Config) error {
		if _, ok := c.Get(remoteSection, name, "url"); !ok {
			return fmt.Errorf("%w: %q", ErrUnknownRemote, name)
		}
		c.RemoveSubsection(remoteSection, name)
		if def, _ := c.Get("metastore", "", defaultRemoteKV); def == name {
			c.Unset("metastore", "", defaultRemoteKV)
		}
		return nil
	})
}

// SetDefaultRemote makes a configured remote the default.
func (r *Repository) SetDefaultRemote(ctx context.Context, name string) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return r.objs.EditConfig(func(c *objects.Config) error {
		if _, ok := c.Get(remoteSection, name, "url"); !ok {
			return fmt.Errorf("%w: %q", ErrUnknownRemote, name)
		}
		c.Set("metastore", "", defaultRemoteKV, name)
		return nil
	})
}

// target is a remote resolved for one operation.
type target struct {
	name     string // the configured name, or "" for a URL given directly
	url      string
	tracking string // where pulled references go: refs/remotes/<tracking>/...
}

// resolveRemote finds the remote that arg names: "" is the default remote;
// a configured name is that remote; anything else is a URL or path (a
// configured remote with the same URL lends its name).
func (r *Repository) resolveRemote(arg string) (target, error) {
	remotes, err := r.Remotes()
	if err != nil {
		return target{}, err
	}
	if arg == "" {
		for _, rm := range remotes {
			if rm.Default {
				return target{name: rm.Name, url: rm.URL, tracking: rm.Name}, nil
			}
		}
		return target{}, fmt.Errorf("%w, and no default remote: name one, or set one with: metastore remote add --default NAME URL", ErrNoRemote)
	}
	for _, rm := range remotes {
		if rm.Name == arg {
			return target{name: rm.Name, url: rm.URL, tracking: rm.Name}, nil
		}
	}
	_, statErr := os.Stat(arg)
	if statErr != nil && remoteNameRE.MatchString(arg) && !strings.Contains(arg, ".") {
		return target{}, fmt.Errorf("%w: %q is neither a configured remote (metastore remote list) nor a URL or path", ErrUnknownRemote, arg)
	}
	if !s3.IsURL(arg) {
		if err := gitremote.CheckURL(arg); err != nil {
			return target{}, fmt.Errorf("%w: %v", ErrRemoteURL, err)
		}
	}
	url := normalizeURL(arg)
	for _, rm := range remotes {
		if rm.URL == url || rm.URL == gitremote.Redact(url) {
			return target{name: rm.Name, url: url, tracking: rm.Name}, nil
		}
	}
	sum := sha1.Sum([]byte(gitremote.Redact(url)))
	return target{url: url, tracking: "url-" + hex.EncodeToString(sum[:4])}, nil
}

// display is the target's URL without its password.
func (t target) display() string {
	if s3.IsURL(t.url) {
		return t.url
	}
	return gitremote.Redact(t.url)
}

// remoteEnd is one remote as push and pull see it: git or S3.
type remoteEnd interface {
	String() string
	openPush(ctx context.Context) (pushSession, error)
	openFetch(ctx context.Context) (fetchSession, error)
}

// pushSession is a push in progress: the remote's references as read at
// its start, what the remote holds, and the sending.
type pushSession interface {
	refs() map[string]objects.ID
	// missing lists what the commits tips reach that the remote lacks, in
	// sending order.
	missing(ctx context.Context, tips []objects.ID) ([]objects.ID, error)
	// send stores the objects ids on the remote and then moves its
	// references as updates say, never before every object is stored. It
	// returns the bytes sent.
	send(ctx context.Context, updates []refChange, ids []objects.ID, prog Progress) (int64, error)
	close()
}

// fetchSession is a pull in progress.
type fetchSession interface {
	refs() map[string]objects.ID
	// fetch stores in the repository the objects the commits wants reach
	// (a caller holding the lock).
	fetch(ctx context.Context, wants []objects.ID, prog Progress) (fetched, error)
	close()
}

// fetched is what a fetch stored.
type fetched struct {
	// fresh reports the objects received.
	fresh   func(objects.ID) bool
	objects int
	bytes   int64
}

// refChange is one reference update on a remote.
type refChange struct {
	name     string
	old, new objects.ID
}

// dial prepares the remote at t.
func (r *Repository) dial(ctx context.Context, t target, opt RemoteOptions) (remoteEnd, error) {
	if s3.IsURL(t.url) {
		st, err := s3.Open(ctx, t.url, s3.Options{Getenv: opt.Getenv, Timeout: opt.Timeout})
		if err != nil {
			return nil, err
		}
		return &s3End{r: r, st: st}, nil
	}
	g, err := gitremote.Open(t.url, gitremote.Options{Getenv: opt.Getenv, Timeout: opt.Timeout})
	if err != nil {
		if errors.Is(err, gitremote.ErrURL) {
			return nil, fmt.Errorf("%w: %v", ErrRemoteURL, err)
		}
		return nil, err
	}
	return &gitEnd{r: r, g: g}, nil
}

// cacheFor is the folder, inside the repository, where what is known of a
// remote is kept (S3 pack indexes) and temporary files are written.
func (r *Repository) cacheFor(url string) string {
	sum := sha1.Sum([]byte(gitremote.Redact(url)))
	return filepath.Join(r.Path(), remoteCacheDir, hex.EncodeToString(sum[:8]))
}

// remoteRef is a reference of an instance's namespace on a remote.
type remoteRef struct {
	instance string
	kind     string // "heads" or "tags"
	rest     string // the branch or tag name
}

// parseRemoteRef splits refs/metastore/<instance>/(heads|tags)/<rest>.
func parseRemoteRef(name string) (remoteRef, bool) {
	s, ok := strings.CutPrefix(name, refMetastore)
	if !ok {
		return remoteRef{}, false
	}
	inst, rest, ok := strings.Cut(s, "/")
	if !ok || checkInstance(inst) != nil {
		return remoteRef{}, false
	}
	kind, rest, ok := strings.Cut(rest, "/")
	if !ok || (kind != "heads" && kind != "tags") || rest == "" {
		return remoteRef{}, false
	}
	return remoteRef{instance: inst, kind: kind, rest: rest}, true
}

func (rr remoteRef) remoteName() string {
	return refMetastore + rr.instance + "/" + rr.kind + "/" + rr.rest
}

func (rr remoteRef) trackingName(tracking string) string {
	return refRemotes + tracking + "/" + rr.instance + "/" + rr.kind + "/" + rr.rest
}

func (rr remoteRef) localName() string { return "refs/" + rr.kind + "/" + rr.rest }

// parseTrackingRef splits refs/remotes/<remote>/<instance>/(heads|tags)/<rest>.
func parseTrackingRef(name string) (remote string, rr remoteRef, ok bool) {
	s, ok := strings.CutPrefix(name, refRemotes)
	if !ok {
		return "", remoteRef{}, false
	}
	remote, rest, ok := strings.Cut(s, "/")
	if !ok {
		return "", remoteRef{}, false
	}
	rr, ok = parseRemoteRef(refMetastore + rest)
	return remote, rr, ok
}

var instanceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkInstance accepts instance names usable as one reference component.
func checkInstance(name string) error {
	if !instanceRE.MatchString(name) || strings.HasSuffix(name, ".lock") {
		return fmt.Errorf("%w: %q is not usable as an instance name (letters, digits, '.', '_', '-')", ErrInvalidRef, name)
	}
	return nil
}

// sortedRefs returns the names of m, sorted.
func sortedRefs(m map[string]objects.ID) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
