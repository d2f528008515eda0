package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects/remotetest"
)

// bareRemote makes an empty bare git repository to push to.
func bareRemote(t *testing.T, path string) string {
	t.Helper()
	if out, err := exec.Command("git", "init", "-q", "--bare", path).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	return path
}

// remoteRefs lists a git remote's metastore references.
func remoteRefs(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", dir, "for-each-ref", "--format=%(refname) %(objectname)", "refs/metastore/").CombinedOutput()
	if err != nil {
		t.Fatalf("git for-each-ref: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// checkGitRemote runs plain git fsck and git log on a remote after a push.
func checkGitRemote(t *testing.T, dir, uuid string) {
	t.Helper()
	gitFsck(t, dir)
	out, err := exec.Command("git", "--git-dir", dir, "log", "--format=%H %s", "refs/metastore/"+uuid+"/heads/system").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "backup of system") {
		t.Fatalf("git log on the remote: %v\n%s", err, out)
	}
}

// uuidOf reads a generated metastore's UUID.
func uuidOf(st state) string { return strings.TrimPrefix(st["/UUID"].data, "\x00\x24") }

// noSecret fails if secret appears in any output or in any file under dirs.
func noSecret(t *testing.T, secret string, outputs []string, dirs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, url.QueryEscape(secret)) {
			t.Fatalf("a secret appears in the output:\n%s", o)
		}
	}
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(data), secret) {
				t.Fatalf("a secret is stored in %s", p)
			}
			return nil
		})
	}
}

// restoreAndCompare restores the latest snapshot of repo into a new folder
// and checks it holds exactly st.
func restoreAndCompare(t *testing.T, c *proc, repo string, st state) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "restored")
	c.mustRun("-q", "--repo", repo, "--metadata-url", dst, "restore", "latest")
	if d := diffStates(readFolder(t, dst), st); d != "" {
		t.Fatalf("restored metastore differs:\n%s", d)
	}
}

// TestPushPullSSH pushes over ssh to Debian's sshd: the connection is cut
// (sshd killed) in the middle of the pack, which leaves the remote without
// any reference and sound for git fsck; a rerun completes; a new host pulls
// over ssh into a new repository and restores the metastore.
func TestPushPullSSH(t *testing.T) {
	t.Parallel()
	srv := remotetest.StartSSHD(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	st := genMetastore(t, meta, 600, 7)
	uuid := uuidOf(st)
	repo := filepath.Join(dir, "a.git")
	remote := bareRemote(t, filepath.Join(dir, "remote.git"))
	c := newCLI(t, srv.Env()...)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")

	// Through a proxy that kills sshd (and its sessions) 200 KB into the push.
	proxy := remotetest.StartProxy(t, srv.Addr, srv.Kill)
	cut := newCLI(t, append(srv.Env(), "SSH_KNOWN_HOSTS="+srv.KnownHostsFor(proxy.Addr))...)
	proxy.CutAfter(200 << 10)
	r := cut.run("-q", "--repo", repo, "push", fmt.Sprintf("ssh://%s@%s%s", srv.User, proxy.Addr, remote))
	if r.code != 1 || !strings.Contains(r.stderr, "ssh://") {
		t.Fatalf("push cut midway: %s", r)
	}
	if refs := remoteRefs(t, remote); len(refs) != 0 {
		t.Fatalf("a cut push left references on the remote: %q", refs)
	}
	gitFsck(t, remote)

	srv.Restart()
	url := srv.URL(remote)
	c.mustRun("-q", "--repo", repo, "remote", "add", "--default", "backup", url)
	out := c.mustRun("-q", "--repo", repo, "push")
	if !strings.Contains(out.stdout, "Pushed instance "+uuid+" to backup (ssh://") {
		t.Fatalf("push: %s", out)
	}
	checkGitRemote(t, remote, uuid)

	// A host key that changed is refused, never accepted.
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrong, []byte(fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0H6mC5Z1yI3v0ZYhWl7nA6sQ0gk4iVZlRZ7yM0V2d\n", srv.Port)), 0o600)
	r = newCLI(t, append(srv.Env(), "SSH_KNOWN_HOSTS="+wrong)...).run("-q", "--repo", repo, "push")
	if r.code != 1 || !strings.Contains(r.stderr, "does not match") {
		t.Fatalf("push with a changed host key: %s", r)
	}

	// Disaster recovery on a new host: pull into a new repository, restore.
	fresh := filepath.Join(dir, "new.git")
	out = c.mustRun("-q", "--repo", fresh, "pull", url)
	if !strings.Contains(out.stdout, "Instance "+uuid+" is this repository's own now") {
		t.Fatalf("pull: %s", out)
	}
	restoreAndCompare(t, c, fresh, st)
}

// TestPushPullHTTP pushes to git http-backend behind basic authentication:
// a push cut in the middle publishes nothing, a rerun completes, wrong or
// missing credentials are a clear error, and the password (from the
// environment or the URL) never appears in any output or file.
func TestPushPullHTTP(t *testing.T) {
	t.Parallel()
	srv := remotetest.StartGitHTTP(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	st := genMetastore(t, meta, 600, 8)
	uuid := uuidOf(st)
	repo := filepath.Join(dir, "a.git")
	remote := bareRemote(t, filepath.Join(srv.Root, "remote.git"))
	creds := []string{"METASTORE_GIT_USERNAME=" + srv.User, "METASTORE_GIT_PASSWORD=" + srv.Password}
	c := newCLI(t, creds...)
	var outputs []string
	keep := func(r result) result {
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")

	srv.CutAfter(200 << 10)
	r := keep(c.run("-q", "--repo", repo, "push", srv.URL+"/remote.git"))
	if r.code != 1 {
		t.Fatalf("push cut midway: %s", r)
	}
	if refs := remoteRefs(t, remote); len(refs) != 0 {
		t.Fatalf("a cut push left references on the remote: %q", refs)
	}
	gitFsck(t, remote)

	srv = remotetest.StartGitHTTPAt(t, srv.Root, srv.Password)
	url := srv.URL + "/remote.git"
	keep(c.mustRun("-q", "--repo", repo, "push", url))
	checkGitRemote(t, remote, uuid)

	for _, env := range [][]string{
		{"METASTORE_GIT_USERNAME=" + srv.User, "METASTORE_GIT_PASSWORD=wrong-" + srv.Password},
		{"METASTORE_GIT_PASSWORD=", "NETRC=/nonexistent", "HOME=" + t.TempDir()},
	} {
		r := keep(newCLI(t, env...).run("-q", "--repo", repo, "push", url))
		if r.code != 1 || !strings.Contains(r.stderr, "authentication failed") {
			t.Fatalf("push with %q: %s", env, r)
		}
	}

	// The password in the URL works for this run, and is not kept.
	withPW := strings.Replace(url, "://", "://"+srv.User+":"+srv.Password+"@", 1)
	fresh := filepath.Join(dir, "new.git")
	nc := newCLI(t, "METASTORE_GIT_PASSWORD=", "NETRC=/nonexistent")
	keep(nc.mustRun("-q", "--repo", fresh, "pull", withPW))
	restoreAndCompare(t, nc, fresh, st)
	r = keep(nc.run("-q", "--repo", fresh, "remote", "add", "other", withPW))
	if r.code != 2 || !strings.Contains(r.stderr, "holds a password") {
		t.Fatalf("remote add with a password: %s", r)
	}
	// From a netrc file.
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login "+srv.User+" password "+srv.Password+"\n"), 0o600)
	keep(newCLI(t, "METASTORE_GIT_PASSWORD=", "NETRC="+netrc).mustRun("-q", "--repo", fresh, "verify", "--remote", "origin"))
	noSecret(t, srv.Password, outputs, repo, fresh)
}

// TestPushPullS3 pushes to versitygw: a push cut in the middle of the pack
// publishes nothing; one cut after the pack but before refs.json publishes
// nothing either, and the rerun does not send the pack again; a new host
// pulls and restores; wrong credentials and a missing bucket are clear
// errors; the secret key never appears in any output or file.
func TestPushPullS3(t *testing.T) {
	t.Parallel()
	srv := remotetest.StartS3(t)
	srv.Bucket("backups")
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	st := genMetastore(t, meta, 600, 9)
	uuid := uuidOf(st)
	repo := filepath.Join(dir, "a.git")
	index := filepath.Join(srv.Root, "backups", "kylin", "refs.json")
	var outputs []string
	keep := func(r result) result {
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	c := newCLI(t, srv.Env()...)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")
	addr := strings.TrimPrefix(srv.Endpoint, "http://")

	// Cut (and the server killed) 300 KB into the pack.
	proxy := remotetest.StartProxy(t, addr, srv.Kill)
	proxy.CutAfter(300 << 10)
	r := keep(newCLI(t, append(srv.Env(), "AWS_ENDPOINT_URL=http://"+proxy.Addr)...).run("-q", "--repo", repo, "push", "s3://backups/kylin"))
	if r.code != 1 {
		t.Fatalf("push cut midway: %s", r)
	}
	if _, err := os.Stat(index); err == nil {
		t.Fatal("a cut push wrote refs.json")
	}

	// Cut just before refs.json is written: the pack and its index are
	// there, no reference names them.
	srv.Restart()
	proxy = remotetest.StartProxy(t, addr, srv.Kill)
	proxy.CutOn("PUT /backups/kylin/refs.json")
	r = keep(newCLI(t, append(srv.Env(), "AWS_ENDPOINT_URL=http://"+proxy.Addr)...).run("-q", "--repo", repo, "push", "s3://backups/kylin"))
	if r.code != 1 {
		t.Fatalf("push cut before refs.json: %s", r)
	}
	if _, err := os.Stat(index); err == nil {
		t.Fatal("refs.json written although the push was cut before it")
	}
	packs, _ := filepath.Glob(filepath.Join(srv.Root, "backups", "kylin", "packs", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d packs in the bucket, want the one uploaded", len(packs))
	}
	pst, _ := os.Stat(packs[0])

	// The rerun completes without sending the pack again.
	srv.Restart()
	r = keep(c.mustRun("-q", "--json", "--repo", repo, "push", "s3://backups/kylin"))
	var pj struct {
		Instance string
		Bytes    int64
		Updated  []any
	}
	if err := json.Unmarshal([]byte(r.stdout), &pj); err != nil {
		t.Fatal(err)
	}
	if pj.Instance != uuid || len(pj.Updated) != 1 || pj.Bytes > pst.Size()/10 {
		t.Fatalf("rerun after the pack was uploaded sent %d bytes (the pack has %d): %s", pj.Bytes, pst.Size(), r.stdout)
	}
	data, err := os.ReadFile(index)
	if err != nil || !strings.Contains(string(data), "refs/metastore/"+uuid+"/heads/system") {
		t.Fatalf("refs.json: %s, %v", data, err)
	}

	// After 2% churn, about 2% travels.
	st = churn(t, meta, st, rand.New(rand.NewPCG(10, 10)), 0.02)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")
	r = keep(c.mustRun("-q", "--json", "--repo", repo, "push", "s3://backups/kylin"))
	json.Unmarshal([]byte(r.stdout), &pj)
	if pj.Bytes > pst.Size()/10 {
		t.Fatalf("push after 2%% churn sent %d bytes, the first pack has %d", pj.Bytes, pst.Size())
	}

	// A pull cut in the middle of the second pack: no reference moves, the
	// first pack stays, and the rerun receives only the second.
	fresh := filepath.Join(dir, "new.git")
	keep(c.mustRun("-q", "--repo", fresh, "pull", "s3://backups/empty"))
	var idx struct{ Packs []string }
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Packs) != 1 {
		t.Fatalf("refs.json: %s", data)
	}
	data, _ = os.ReadFile(index)
	json.Unmarshal(data, &idx)
	if len(idx.Packs) != 2 {
		t.Fatalf("refs.json lists %d packs, want 2: %s", len(idx.Packs), data)
	}
	var total, second int64
	files, _ := filepath.Glob(filepath.Join(srv.Root, "backups", "kylin", "packs", "*"))
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
		if filepath.Base(f) == idx.Packs[1]+".pack" {
			second = fi.Size()
		}
	}
	fi, _ := os.Stat(index)
	total += fi.Size()
	proxy = remotetest.StartProxy(t, addr, nil)
	proxy.CutAfterReceived(total - second/2)
	r = keep(newCLI(t, append(srv.Env(), "AWS_ENDPOINT_URL=http://"+proxy.Addr)...).run("-q", "--repo", fresh, "pull", "s3://backups/kylin"))
	if r.code != 1 {
		t.Fatalf("pull cut midway: %s", r)
	}
	if refs, _ := exec.Command("git", "--git-dir", fresh, "for-each-ref").Output(); len(refs) != 0 {
		t.Fatalf("a cut pull moved references:\n%s", refs)
	}
	if kept, _ := filepath.Glob(filepath.Join(fresh, "objects", "pack", idx.Packs[0]+".pack")); len(kept) != 1 {
		t.Fatal("the pack received before the cut was not kept")
	}
	r = keep(c.mustRun("-q", "--json", "--repo", fresh, "pull", "s3://backups/kylin"))
	var pl struct{ Bytes int64 }
	json.Unmarshal([]byte(r.stdout), &pl)
	if pl.Bytes == 0 || pl.Bytes > second+second/2 {
		t.Fatalf("the pull after the cut received %d bytes; the second pack has %d", pl.Bytes, second)
	}
	restoreAndCompare(t, c, fresh, st)
	keep(c.mustRun("-q", "--repo", fresh, "verify", "--remote", "s3://backups/kylin", "--read-data"))

	r = keep(newCLI(t, append(srv.Env(), "AWS_SECRET_ACCESS_KEY=not-"+srv.Secret)...).run("-q", "--repo", repo, "push", "s3://backups/kylin"))
	if r.code != 1 || !strings.Contains(r.stderr, "access denied") {
		t.Fatalf("push with a wrong secret: %s", r)
	}
	r = keep(c.run("-q", "--repo", repo, "push", "s3://nonesuch/kylin"))
	if r.code != 1 || !strings.Contains(r.stderr, "bucket does not exist") {
		t.Fatalf("push to a missing bucket: %s", r)
	}
	noSecret(t, srv.Secret, outputs, repo, fresh)
}
