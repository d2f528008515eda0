package gitremote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/remotetest"
)

// source makes a repository with n commits on refs/heads/main.
func source(t *testing.T, n int) (*objects.Repository, []objects.ID) {
	t.Helper()
	r, err := objects.Init(filepath.Join(t.TempDir(), "src.git"), "refs/heads/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var parent objects.ID
	var out []objects.ID
	for c := 0; c < n; c++ {
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		var entries []objects.TreeEntry
		for f := 0; f < 20; f++ {
			id, _, err := w.WriteBlob([]byte(fmt.Sprintf("file %d version %d\n%s", f, c*(f%3), strings.Repeat("x", 500))))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, objects.TreeEntry{Name: fmt.Sprintf("f%02d", f), Mode: objects.ModeFile, ID: id})
		}
		objects.SortTree(entries)
		tree, _, err := w.WriteTree(entries)
		if err != nil {
			t.Fatal(err)
		}
		when := time.Unix(1700000000+int64(c), 0).UTC()
		cm := objects.Commit{Tree: tree, Author: objects.Signature{Name: "a", Email: "a@x", When: when}, Committer: objects.Signature{Name: "a", Email: "a@x", When: when}, Message: fmt.Sprintf("snapshot %d\n", c)}
		if !parent.IsZero() {
			cm.Parents = []objects.ID{parent}
		}
		id, err := w.WriteCommit(cm)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		parent = id
		out = append(out, id)
	}
	return r, out
}

func bareRepo(t *testing.T, path string) string {
	t.Helper()
	if b, err := exec.Command("git", "init", "-q", "--bare", path).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, b)
	}
	return path
}

func gitCheck(t *testing.T, dir, ref string, want objects.ID) {
	t.Helper()
	if b, err := exec.Command("git", "--git-dir", dir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck on the remote: %v\n%s", err, b)
	}
	b, err := exec.Command("git", "--git-dir", dir, "log", "--format=%H", ref).CombinedOutput()
	if err != nil || !bytes.HasPrefix(b, []byte(want.String())) {
		t.Fatalf("git log %s on the remote: %v\n%s", ref, err, b)
	}
}

// roundTrip pushes src's commits to the remote at url (expected to be the
// bare repository dir), checks it with git, then fetches into a fresh
// repository.
func roundTrip(t *testing.T, url, dir string, opt Options) {
	t.Helper()
	ctx := context.Background()
	src, commits := source(t, 3)
	rem, err := Open(url, opt)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "refs/metastore/inst-1/heads/system"
	push := func(upto int) {
		t.Helper()
		s, err := rem.OpenPush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		old := s.Refs()[ref]
		have, err := src.Closure(ctx, []objects.ID{old})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := src.Missing(ctx, commits[upto:upto+1], have.Has)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Push([]Update{{Name: ref, Old: old, New: commits[upto]}}, func(w io.Writer) error {
			_, err := src.WritePack(w, ids, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		gitCheck(t, dir, ref, commits[upto])
	}
	push(1)
	push(2)

	// A stale update is refused by the server.
	s, err := rem.OpenPush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Push([]Update{{Name: ref, Old: commits[1], New: commits[0]}}, func(w io.Writer) error {
		_, err := src.WritePack(w, nil, nil)
		return err
	})
	s.Close()
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("stale update: %v, want ErrRejected", err)
	}

	dst, err := objects.Init(filepath.Join(t.TempDir(), "dst.git"), "refs/heads/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	f, err := rem.OpenFetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tip := f.Refs()[ref]
	if tip != commits[2] {
		t.Fatalf("remote %s = %s, want %s", ref, tip, commits[2])
	}
	var rc *objects.Received
	err = f.Fetch([]objects.ID{tip}, nil, func(r io.Reader) error {
		rc, err = dst.ReceivePack(r, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.CheckConnected(ctx, []objects.ID{tip}, rc.Holds); err != nil {
		t.Fatal(err)
	}
}

func TestFileRemote(t *testing.T) {
	dir := bareRepo(t, filepath.Join(t.TempDir(), "remote.git"))
	roundTrip(t, dir, dir, Options{})
	roundTrip(t, "file://"+dir, dir, Options{})
	// Not a git repository: a clear error.
	empty := t.TempDir()
	r, err := Open(empty, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenPush(context.Background()); !errors.Is(err, ErrNoRepository) || !strings.Contains(err.Error(), "git init --bare") {
		t.Fatalf("push to a plain folder: %v, want ErrNoRepository with a hint", err)
	}
}

func TestSSHRemote(t *testing.T) {
	srv := remotetest.StartSSHD(t)
	dir := bareRepo(t, filepath.Join(t.TempDir(), "remote.git"))
	env := remotetest.Getenv(srv.Env()...)
	roundTrip(t, srv.URL(dir), dir, Options{Getenv: env})
	// scp-like syntax reaches port 22, so only check that it parses.
	if _, err := Open(srv.User+"@127.0.0.1:"+dir, Options{Getenv: env}); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	// A host key that does not match known_hosts is refused.
	other := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(other, []byte(fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0H6mC5Z1yI3v0ZYhWl7nA6sQ0gk4iVZlRZ7yM0V2d\n", srv.Port)), 0o600)
	r, err := Open(srv.URL(dir), Options{Getenv: remotetest.Getenv(append(srv.Env(), "SSH_KNOWN_HOSTS="+other)...)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.OpenPush(ctx)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched host key: %v, want ErrHostKey (does not match)", err)
	}
	// An unknown host too.
	os.WriteFile(other, []byte("[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0H6mC5Z1yI3v0ZYhWl7nA6sQ0gk4iVZlRZ7yM0V2d\n"), 0o600)
	r, _ = Open(srv.URL(dir), Options{Getenv: remotetest.Getenv(append(srv.Env(), "SSH_KNOWN_HOSTS="+other)...)})
	_, err = r.OpenPush(ctx)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "unknown host") {
		t.Fatalf("unknown host: %v, want ErrHostKey (unknown host)", err)
	}
	// No key the server accepts.
	r, _ = Open(srv.URL(dir), Options{Getenv: remotetest.Getenv(append(srv.Env(), "HOME="+t.TempDir())...)})
	if _, err := r.OpenPush(ctx); err == nil {
		t.Fatal("push without a key succeeded")
	}
}

func TestHTTPRemote(t *testing.T) {
	srv := remotetest.StartGitHTTP(t)
	dir := bareRepo(t, filepath.Join(srv.Root, "remote.git"))
	url := srv.URL + "/remote.git"
	roundTrip(t, url, dir, Options{Getenv: remotetest.Getenv("METASTORE_GIT_USERNAME="+srv.User, "METASTORE_GIT_PASSWORD="+srv.Password)})

	// From a netrc file.
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1\n  login "+srv.User+"\n  password "+srv.Password+"\n"), 0o600)
	r, err := Open(url, Options{Getenv: remotetest.Getenv("NETRC="+netrc, "METASTORE_GIT_PASSWORD=")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.OpenFetch(context.Background())
	if err != nil {
		t.Fatalf("fetch with netrc credentials: %v", err)
	}
	s.Close()

	// Wrong or missing credentials: ErrAuth, and the password never shows.
	for _, env := range [][]string{
		{"METASTORE_GIT_USERNAME=" + srv.User, "METASTORE_GIT_PASSWORD=not-the-password", "NETRC=/nonexistent"},
		{"METASTORE_GIT_PASSWORD=", "NETRC=/nonexistent", "HOME=" + t.TempDir()},
	} {
		r, err := Open(url, Options{Getenv: remotetest.Getenv(env...)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.OpenPush(context.Background())
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("%q: %v, want ErrAuth", env, err)
		}
		if strings.Contains(err.Error(), "not-the-password") || strings.Contains(err.Error(), srv.Password) {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
	// A password in the URL works and is never shown.
	withPW := strings.Replace(url, "://", "://"+srv.User+":"+srv.Password+"@", 1)
	r, err = Open(withPW, Options{Getenv: remotetest.Getenv("METASTORE_GIT_PASSWORD=")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.String(), srv.Password) {
		t.Fatalf("String() shows the password: %s", r)
	}
	s, err = r.OpenFetch(context.Background())
	if err != nil {
		t.Fatalf("fetch with the password in the URL: %v", err)
	}
	s.Close()
}

// TestSilentRemote: a server that accepts connections and never answers
// makes an error after the timeout, for ssh and http alike.
func TestSilentRemote(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, nil, 0o600)
	for _, url := range []string{"ssh://u@" + l.Addr().String() + "/x.git", "http://" + l.Addr().String() + "/x.git"} {
		r, err := Open(url, Options{Timeout: 700 * time.Millisecond, Getenv: remotetest.Getenv("SSH_KNOWN_HOSTS=" + kh)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = r.OpenFetch(context.Background())
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("%s: %v, want ErrTimeout", url, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: gave up after %s", url, d)
		}
	}
}

func TestNetrc(t *testing.T) {
	p := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(p, []byte(`# comment
machine git.example.com login alice password s3cret
macdef init
  cd /x

machine other.example.com
  login bob
  password hunter2
default login anon password anonpw
`), 0o600)
	for _, tc := range []struct{ host, user, login, pw string }{
		{"git.example.com", "", "alice", "s3cret"},
		{"other.example.com", "bob", "bob", "hunter2"},
		{"elsewhere", "", "anon", "anonpw"},
	} {
		l, pw, ok := netrcLookup(p, tc.host, tc.user)
		if !ok || l != tc.login || pw != tc.pw {
			t.Errorf("%s/%s = %q %q %v", tc.host, tc.user, l, pw, ok)
		}
	}
	// A user named in the URL only takes an entry with that login.
	if l, pw, ok := netrcLookup(p, "other.example.com", "carol"); ok {
		t.Errorf("carol found %q %q", l, pw)
	}
}
