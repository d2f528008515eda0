package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects/remotetest"
	"github.com/kylin-tools/metastore/scope"
)

// instanceStore is the sample metastore with its own /UUID.
func instanceStore(t *testing.T, uuid string) *memory.Store {
	t.Helper()
	m, _ := seeded(t)
	data := append([]byte{byte(len(uuid) >> 8), byte(len(uuid))}, uuid...)
	if err := m.Write(context.Background(), metastore.Resource{Path: "/UUID", Data: data, Timestamp: 1600000000000}); err != nil {
		t.Fatal(err)
	}
	return m
}

// touch changes one resource of m.
func touch(t *testing.T, m *memory.Store, n int) {
	t.Helper()
	p := fmt.Sprintf("/table_exd/NOTE_%d.json", n)
	if err := m.Write(context.Background(), metastore.Resource{Path: p, Data: []byte(fmt.Sprintf(`{"note": %d}`, n)), Timestamp: 1700000000000 + int64(n)}); err != nil {
		t.Fatal(err)
	}
}

func bareGit(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote.git")
	if b, err := exec.Command("git", "init", "-q", "--bare", dir).CombinedOutput(); err != nil {
		t.Skipf("git init --bare: %v\n%s", err, b)
	}
	return dir
}

func gitOK(t *testing.T, dir string) string {
	t.Helper()
	if b, err := exec.Command("git", "--git-dir", dir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck on the remote: %v\n%s", err, b)
	}
	b, err := exec.Command("git", "--git-dir", dir, "log", "--all", "--format=%H %s").CombinedOutput()
	if err != nil {
		t.Fatalf("git log on the remote: %v\n%s", err, b)
	}
	return string(b)
}

const (
	uuidA = "aaaaaaaa-1111-4111-8111-000000000001"
	uuidB = "bbbbbbbb-2222-4222-8222-000000000002"
)

// exercise runs the multi-instance scenario against one remote URL: two
// instances push, one pushes again incrementally, a third repository pulls
// everything, finds and restores the others' snapshots, and a clone-style
// pull adopts an instance.
func exercise(t *testing.T, url string, opt RemoteOptions) {
	ctx := context.Background()
	a, b := newRepo(t), newRepo(t)
	ma, mb := instanceStore(t, uuidA), instanceStore(t, uuidB)
	backup(t, a, ma, scope.SystemScope())
	if _, err := a.Tag(ctx, "latest", "before-upgrade"); err != nil {
		t.Fatal(err)
	}
	backup(t, b, mb, scope.SystemScope())
	backup(t, b, mb, scope.Scope{Kind: scope.Project, Name: "default"})

	pa, err := a.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if err != nil {
		t.Fatal(err)
	}
	if pa.Instance != uuidA || len(pa.Updated) != 2 || pa.Objects < 190 {
		t.Fatalf("first push of A: %+v", pa)
	}
	// B pulls first (a git server can only be told about commits the
	// pusher has), then pushes.
	if pr, err := b.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: url}); err != nil || pr.Adopted != "" || len(pr.Instances) != 1 {
		t.Fatalf("B's pull: %+v, %v", pr, err)
	}
	pb, err := b.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if err != nil {
		t.Fatal(err)
	}
	// B's resources are A's but for /UUID: only B's new objects travel.
	if pb.Instance != uuidB || len(pb.Updated) != 2 || pb.Objects > 40 {
		t.Fatalf("first push of B sent %d objects (A had sent %d): %+v", pb.Objects, pa.Objects, pb)
	}
	// A changes one resource: about one resource's worth travels.
	touch(t, ma, 1)
	backup(t, a, ma, scope.SystemScope())
	pa2, err := a.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if err != nil {
		t.Fatal(err)
	}
	if len(pa2.Updated) != 1 || pa2.UpToDate != 1 || pa2.Objects > 8 {
		t.Fatalf("incremental push: %+v", pa2)
	}
	// Nothing new: nothing travels.
	pa3, err := a.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if err != nil || len(pa3.Updated) != 0 || pa3.Objects != 0 {
		t.Fatalf("push with nothing new: %+v, %v", pa3, err)
	}

	// A third repository pulls every instance.
	c := newRepo(t)
	pc, err := c.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: url})
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.Instances) != 2 || pc.Adopted != "" || !pc.AddedRemote {
		t.Fatalf("pull: %+v", pc)
	}
	own, err := c.Log(ctx, LogFilter{})
	if err != nil || len(own) != 0 {
		t.Fatalf("log of the pulling repository's own snapshots: %d, %v", len(own), err)
	}
	every, err := c.Log(ctx, LogFilter{Instance: AllInstances})
	if err != nil || len(every) != 4 {
		t.Fatalf("log --instance all: %d snapshots, %v", len(every), err)
	}
	onlyB, err := c.Log(ctx, LogFilter{Instance: uuidB[:8]})
	if err != nil || len(onlyB) != 2 || onlyB[0].Instance != uuidB || onlyB[0].Remote != "origin" {
		t.Fatalf("log --instance %s: %+v, %v", uuidB[:8], onlyB, err)
	}
	// Another instance's snapshot resolves by id and by tag, and restores
	// only with AllowForeign.
	inB, err := c.Resolve(ctx, onlyB[1].ID.Short(), scope.SystemScope())
	if err != nil || inB.ID != onlyB[1].ID {
		t.Fatalf("resolve B's snapshot by id: %v", err)
	}
	tagged, err := c.Resolve(ctx, "before-upgrade", scope.SystemScope())
	if err != nil || tagged.UUID != uuidA {
		t.Fatalf("resolve A's tag: %+v, %v", tagged, err)
	}
	target := instanceStore(t, uuidA)
	touch(t, target, 99)
	open := func(ref string) *Snapshot {
		t.Helper()
		s, err := c.Open(ctx, ref)
		if err != nil {
			t.Fatalf("open %s: %v", ref, err)
		}
		return s
	}
	if _, err := c.Restore(ctx, open("before-upgrade"), target, RestoreOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatalf("restore of A's snapshot into A's metastore: %v", err)
	}
	if _, err := c.Restore(ctx, open(inB.ID.String()), target, RestoreOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrForeign) {
		t.Fatalf("restore of B's snapshot into A's metastore: %v, want ErrForeign", err)
	}
	if _, err := c.Restore(ctx, open(inB.ID.String()), target, RestoreOptions{Scope: scope.SystemScope(), AllowForeign: true}); err != nil {
		t.Fatalf("restore with AllowForeign: %v", err)
	}
	if v, err := c.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) > 0 || v.Snapshots < 4 {
		t.Fatalf("verify after pull: %+v, %v", v, err)
	}
	// Pulling again brings nothing.
	pc2, err := c.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: url})
	if err != nil || pc2.Objects != 0 {
		t.Fatalf("second pull: %+v, %v", pc2, err)
	}

	// A new host of instance A clones it: its branches become the new
	// repository's, "latest" works, and its backups continue the history.
	d := newRepo(t)
	pd, err := d.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: url, Instance: uuidA[:8]})
	if err != nil || pd.Adopted != uuidA {
		t.Fatalf("clone-style pull: %+v, %v", pd, err)
	}
	latest, err := d.Resolve(ctx, Latest, scope.SystemScope())
	if err != nil || latest.UUID != uuidA {
		t.Fatalf("latest after the clone: %+v, %v", latest, err)
	}
	touch(t, ma, 2)
	backup(t, d, ma, scope.SystemScope())
	if _, err := d.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url}); err != nil {
		t.Fatalf("push from the clone: %v", err)
	}

	// A repository with the same instance but its own history is refused,
	// and changes nothing.
	e := newRepo(t)
	backup(t, e, ma, scope.SystemScope())
	_, err = e.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if !errors.Is(err, ErrNonFastForward) || !strings.Contains(err.Error(), "Nothing was pushed") {
		t.Fatalf("push of an unrelated history: %v, want ErrNonFastForward", err)
	}
	// Under another name it goes.
	if pe, err := e.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url, Instance: "staging-copy"}); err != nil || pe.Instance != "staging-copy" {
		t.Fatalf("push --instance: %+v, %v", pe, err)
	}

	vr, err := a.VerifyRemote(ctx, VerifyRemoteOptions{RemoteOptions: opt, Remote: url, ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(vr.Problems) > 0 || vr.Instances != 3 || vr.Snapshots < 6 {
		t.Fatalf("verify --remote: %+v", vr)
	}
}

func TestPushPullGitRemote(t *testing.T) {
	dir := bareGit(t)
	exercise(t, dir, RemoteOptions{})
	log := gitOK(t, dir)
	if n := strings.Count(log, "\n"); n < 6 {
		t.Errorf("git log --all on the remote shows %d commits:\n%s", n, log)
	}
	out, _ := exec.Command("git", "--git-dir", dir, "for-each-ref", "--format=%(refname)").Output()
	for _, want := range []string{
		"refs/metastore/" + uuidA + "/heads/system",
		"refs/metastore/" + uuidA + "/tags/before-upgrade",
		"refs/metastore/" + uuidB + "/heads/project/default",
		"refs/metastore/staging-copy/heads/system",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("remote lacks %s; it has:\n%s", want, out)
		}
	}
}

func TestPushPullS3Remote(t *testing.T) {
	srv := remotetest.StartS3(t)
	srv.Bucket("backups")
	exercise(t, "s3://backups/kylin", RemoteOptions{Getenv: srv.Getenv()})
}

// TestConcurrentS3Pushes: instances pushing to one S3 remote at the same
// time never lose each other's references (conditional writes of
// refs.json, retried with a merge).
func TestConcurrentS3Pushes(t *testing.T) {
	srv := remotetest.StartS3(t)
	srv.Bucket("backups")
	opt := RemoteOptions{Getenv: srv.Getenv()}
	ctx := context.Background()
	const n = 5
	repos := make([]*Repository, n)
	for i := range repos {
		repos[i] = newRepo(t)
		m := instanceStore(t, fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i))
		touch(t, m, i)
		backup(t, repos[i], m, scope.SystemScope())
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range repos {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = repos[i].Push(ctx, PushOptions{RemoteOptions: opt, Remote: "s3://backups/shared"})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	c := newRepo(t)
	pr, err := c.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: "s3://backups/shared"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Instances) != n {
		t.Fatalf("the remote holds %d instances after %d concurrent pushes, want all", len(pr.Instances), n)
	}
	data, err := os.ReadFile(filepath.Join(srv.Root, "backups", "shared", "refs.json"))
	if err != nil || bytes.Count(data, []byte("/heads/system")) != n {
		t.Fatalf("refs.json:\n%s\n%v", data, err)
	}
	vr, err := c.VerifyRemote(ctx, VerifyRemoteOptions{RemoteOptions: opt, Remote: "s3://backups/shared"})
	if err != nil || len(vr.Problems) > 0 {
		t.Fatalf("verify --remote: %+v, %v", vr, err)
	}
	// A pack gone from the bucket is reported.
	packs, _ := filepath.Glob(filepath.Join(srv.Root, "backups", "shared", "packs", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no packs in the bucket")
	}
	os.Remove(packs[0])
	vr, err = c.VerifyRemote(ctx, VerifyRemoteOptions{RemoteOptions: opt, Remote: "s3://backups/shared"})
	if err != nil || len(vr.Problems) == 0 {
		t.Fatalf("verify --remote with a pack missing: %+v, %v", vr, err)
	}
}

func TestRemoteConfig(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	if _, err := r.AddRemote(ctx, "origin", "https://u:secret@git.example.com/x.git", false); !errors.Is(err, ErrRemoteURL) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("URL with a password: %v", err)
	}
	if _, err := r.AddRemote(ctx, "s3", "s3://AKIA:secret@bucket/x", false); !errors.Is(err, ErrRemoteURL) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("s3 URL with credentials: %v", err)
	}
	if _, err := r.AddRemote(ctx, "bad name", "/tmp/x.git", false); !errors.Is(err, ErrRemoteURL) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := r.AddRemote(ctx, "origin", "https://u@git.example.com/x.git", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddRemote(ctx, "backup", "relative/b.git", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddRemote(ctx, "origin", "/elsewhere", false); !errors.Is(err, ErrRemoteExists) {
		t.Fatalf("second origin: %v", err)
	}
	rs, err := r.Remotes()
	if err != nil || len(rs) != 2 || rs[0].Name != "backup" || !rs[0].Default || !filepath.IsAbs(rs[0].URL) || rs[1].Default {
		t.Fatalf("remotes = %+v, %v", rs, err)
	}
	if err := r.SetDefaultRemote(ctx, "origin"); err != nil {
		t.Fatal(err)
	}
	tg, err := r.resolveRemote("")
	if err != nil || tg.name != "origin" {
		t.Fatalf("default remote: %+v, %v", tg, err)
	}
	if err := r.RemoveRemote(ctx, "origin"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.resolveRemote(""); !errors.Is(err, ErrNoRemote) {
		t.Fatalf("no default after removing it: %v", err)
	}
	if _, err := r.resolveRemote("nosuch"); !errors.Is(err, ErrUnknownRemote) {
		t.Fatalf("unknown remote: %v", err)
	}
	cfg, _ := os.ReadFile(filepath.Join(r.Path(), "config"))
	if !strings.Contains(string(cfg), `[remote "backup"]`) || !strings.Contains(string(cfg), "format = 1") {
		t.Fatalf("config:\n%s", cfg)
	}
	// A password written into the config by hand is neither shown nor used.
	if out, err := exec.Command("git", "--git-dir", r.Path(), "config", "remote.hand.url", "https://u:hand-secret@git.example.com/x.git").CombinedOutput(); err != nil {
		t.Fatalf("git config: %v\n%s", err, out)
	}
	rs, err = r.Remotes()
	if err != nil || len(rs) != 2 || rs[1].Name != "hand" || strings.Contains(rs[1].URL, "hand-secret") {
		t.Fatalf("remotes = %+v, %v", rs, err)
	}
	// Plain git reads the configuration.
	if out, err := exec.Command("git", "--git-dir", r.Path(), "remote", "-v").CombinedOutput(); err == nil && !strings.Contains(string(out), "backup") {
		t.Errorf("git remote -v:\n%s", out)
	}
}
