package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// pruneFixture is a repository with a chain of system backups (each a few
// resources apart), a tag, a project backup, and a project backup whose
// branch was forgotten (moved under refs/forgotten/, as Forget does): it
// alone holds the blob gone.
type pruneFixture struct {
	path  string
	want  map[objects.ID]map[string]metastore.Resource // kept system snapshots and what they hold
	gone  objects.ID                                   // a blob only the forgotten snapshot reaches
	undo  string                                       // its undo point
	packs int
}

func newPruneFixture(t *testing.T) *pruneFixture {
	t.Helper()
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seeded(t)
	fx := &pruneFixture{path: r.Path(), want: map[objects.ID]map[string]metastore.Resource{}}
	var last objects.ID
	for day := 0; day < 5; day++ {
		// A day of churn: a changed cube descriptor, a new job, a new
		// job output; Kylin-like JSON, so versions are similar.
		for i := 0; i <= day; i++ {
			job := fmt.Sprintf("/execute/job-%02d-%02d", day, i)
			body := fmt.Sprintf(`{"uuid":"job-%02d-%02d","name":"BUILD CUBE - kylin_sales_cube - 2024%02d%02d","type":"org.apache.kylin.job.execution.DefaultChainedExecutable","params":{"segmentId":"%d","projectName":"learn_kylin","cubeName":"kylin_sales_cube"},"status":"SUCCEED","tasks":[%s]}`,
				day, i, day+1, i+1, day*100+i, strings.Repeat(`{"type":"MapReduceExecutable","status":"SUCCEED"},`, 20+i)+"{}")
			if err := src.Write(ctx, metastore.Resource{Path: job, Data: []byte(body), Timestamp: int64(1700000000000 + day*1000 + i)}); err != nil {
				t.Fatal(err)
			}
		}
		res := backup(t, r, src, scope.SystemScope())
		last = res.Snapshot.ID.object()
		fx.want[last] = dump(t, src)
		if day == 1 {
			if _, err := r.Tag(ctx, res.Snapshot.ID.String(), "day1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = last
	backup(t, r, src, scope.ProjectScope("default"))

	// A project backup with a resource nothing else holds, then forgotten.
	secret := metastore.Resource{Path: "/project/default.json", Data: []byte(`{"name":"default","forgotten":true}`), Timestamp: 1}
	orig, err := src.Read(ctx, secret.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Write(ctx, secret); err != nil {
		t.Fatal(err)
	}
	res := backup(t, r, src, scope.ProjectScope("default"))
	fx.gone = objects.HashObject(objects.KindBlob, secret.Data)
	if err := src.Write(ctx, orig); err != nil {
		t.Fatal(err)
	}
	branch := "refs/heads/project/default"
	prev, err := r.objs.ReadCommit(res.Snapshot.ID.object())
	if err != nil {
		t.Fatal(err)
	}
	fx.undo = "refs/forgotten/20240301T120000Z"
	if err := r.objs.UpdateRef(fx.undo+"/heads/project/default", res.Snapshot.ID.object(), objects.ZeroID); err != nil {
		t.Fatal(err)
	}
	if err := r.objs.UpdateRef(branch, prev.Parents[0], res.Snapshot.ID.object()); err != nil {
		t.Fatal(err)
	}
	if !r.objs.Has(fx.gone) {
		t.Fatal("fixture: the forgotten blob is not stored")
	}
	packs, _ := r.objs.Packs()
	fx.packs = len(packs)
	return fx
}

// checkKept verifies the repository with --read-data and restores every
// kept system snapshot into an empty metastore, byte for byte.
// (A restore records a safety snapshot: the repository gains a pack for
// each.)
// open opens the fixture's repository with the test clock, closed when the
// test ends.
func (fx *pruneFixture) open(t *testing.T) *Repository {
	t.Helper()
	r, err := Open(fx.path, Options{Now: clock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func (fx *pruneFixture) checkKept(t *testing.T, r *Repository) {
	t.Helper()
	ctx := context.Background()
	fx.verify(t, r)
	for id, want := range fx.want {
		dst := memory.New()
		snap, err := r.Open(ctx, id.String())
		if err != nil {
			t.Fatalf("snapshot %s: %v", id, err)
		}
		if _, err := r.Restore(ctx, snap, dst, RestoreOptions{Scope: scope.SystemScope()}); err != nil {
			t.Fatalf("restore %s: %v", id, err)
		}
		sameResources(t, dump(t, dst), want)
	}
}

// verify runs verify --read-data and checks that every kept snapshot is
// still there.
func (fx *pruneFixture) verify(t *testing.T, r *Repository) {
	t.Helper()
	v, err := r.Verify(context.Background(), VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Problems) > 0 {
		t.Fatalf("verify --read-data: %v", v.Problems)
	}
	for id := range fx.want {
		if !r.objs.Has(id) {
			t.Fatalf("snapshot %s is gone", id)
		}
	}
}

func TestPruneRemovesOnlyWhatNoReferenceReaches(t *testing.T) {
	fx := newPruneFixture(t)
	r := fx.open(t)
	res, err := r.Prune(context.Background(), PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(res.UndoDropped, ","), fx.undo; got != want {
		t.Errorf("undo points dropped: %q, want %q", got, want)
	}
	if refs, _ := r.objs.Refs(forgottenPrefix); len(refs) != 0 {
		t.Errorf("references left under refs/forgotten: %v", refs)
	}
	if r.objs.Has(fx.gone) {
		t.Error("the blob only the forgotten snapshot held is still there")
	}
	if res.ObjectsRemoved == 0 || res.ObjectsAfter+res.ObjectsRemoved != res.ObjectsBefore {
		t.Errorf("objects before %d, after %d, removed %d", res.ObjectsBefore, res.ObjectsAfter, res.ObjectsRemoved)
	}
	packs, _ := r.objs.Packs()
	if len(packs) != 1 || res.PacksBefore != fx.packs || res.PacksAfter != 1 {
		t.Errorf("packs after prune: %v (result: %d -> %d; fixture had %d)", packs, res.PacksBefore, res.PacksAfter, fx.packs)
	}
	if res.Deltas == 0 {
		t.Error("prune stored no object as a delta")
	}
	if res.BytesAfter <= 0 || res.BytesAfter >= res.BytesBefore {
		t.Errorf("bytes %d -> %d: no space returned", res.BytesBefore, res.BytesAfter)
	}
	if got := packBytes(t, r.Path()); got != res.BytesAfter {
		t.Errorf("packs take %d bytes on disk, result says %d", got, res.BytesAfter)
	}
	fx.verify(t, r)
	tags, err := r.objs.Refs("refs/tags/")
	if err != nil || len(tags) != 1 {
		t.Fatalf("tags after prune: %v, %v", tags, err)
	}

	// A second prune finds nothing more to remove and keeps everything.
	again, err := r.Prune(context.Background(), PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ObjectsRemoved != 0 || len(again.UndoDropped) != 0 || again.ObjectsAfter != res.ObjectsAfter {
		t.Errorf("second prune: %+v", again)
	}
	if packs, _ := r.objs.Packs(); len(packs) != 1 {
		t.Errorf("packs after the second prune: %v", packs)
	}
	gitFsck(t, r.Path())
	fx.checkKept(t, r)
}

func packBytes(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	entries, err := os.ReadDir(filepath.Join(repo, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pack") || strings.HasSuffix(e.Name(), ".idx") {
			fi, _ := e.Info()
			n += fi.Size()
		}
	}
	return n
}

// gitFsck runs git's own checks on the repository (a plain git
// repository), when git is installed.
func gitFsck(t *testing.T, repo string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("METASTORE_REQUIRE_GIT") != "" {
			t.Fatal("git is required (METASTORE_REQUIRE_GIT) but not installed")
		}
		t.Log("git not installed: git fsck skipped")
		return
	}
	for _, args := range [][]string{{"fsck", "--full", "--strict", "--no-dangling"}, {"count-objects", "-v"}} {
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "fsck" && len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("git fsck reports:\n%s", out)
		}
		if args[0] == "count-objects" && !strings.Contains(string(out), "count: 0\n") {
			t.Errorf("loose objects left after prune:\n%s", out)
		}
	}
}

func TestPruneDryRunChangesNothing(t *testing.T) {
	fx := newPruneFixture(t)
	before := dirState(t, false, fx.path)
	r := fx.open(t)
	res, err := r.Prune(context.Background(), PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || len(res.UndoDropped) != 1 || res.ObjectsRemoved == 0 || res.BytesAfter != 0 {
		t.Errorf("dry run result: %+v", res)
	}
	if after := dirState(t, false, fx.path); after != before {
		a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
		for i := 0; i < max(len(a), len(b)); i++ {
			if i >= len(a) || i >= len(b) || a[i] != b[i] {
				t.Fatalf("dry run changed the repository, from line %d:\nbefore: %.300s\nafter:  %.300s", i, a[min(i, len(a)-1)], b[min(i, len(b)-1)])
			}
		}
	}
}

// TestPruneCrashAtEveryStep kills (SIGKILL: no deferred function runs) a
// process pruning the repository just after each step that changes it on
// disk, and checks that what is left verifies with --read-data, that every
// kept snapshot restores byte for byte, and that a new prune completes.
func TestPruneCrashAtEveryStep(t *testing.T) {
	if os.Getenv("PRUNE_CRASH_REPO") != "" {
		t.Skip("in the child")
	}
	fx := newPruneFixture(t)
	// The steps of a full prune, in order, from a run on a copy.
	var steps []string
	{
		cp := copyTree(t, fx.path)
		r, err := Open(cp, Options{Now: clock()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Prune(context.Background(), PruneOptions{step: func(s string) { steps = append(steps, s) }}); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if len(steps) < 4+fx.packs-1 {
		t.Fatalf("steps %q: too few", steps)
	}
	for i, s := range steps {
		t.Run(strconv.Itoa(i)+"-"+strings.Fields(s)[0], func(t *testing.T) {
			cp := copyTree(t, fx.path)
			cmd := exec.Command(os.Args[0], "-test.run=^TestPruneCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PRUNE_CRASH_REPO="+cp, "PRUNE_CRASH_AT="+strconv.Itoa(i))
			out, err := cmd.CombinedOutput()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at step %d (%s): %v\n%s", i, s, err, out)
			}
			r, err := Open(cp, Options{Now: clock()})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			fx.checkKept(t, r)
			if _, err := r.Prune(context.Background(), PruneOptions{}); err != nil {
				t.Fatalf("prune after the crash: %v", err)
			}
			if packs, _ := r.objs.Packs(); len(packs) != 1 {
				t.Errorf("packs after the second prune: %v", packs)
			}
			fx.verify(t, r)
		})
	}
}

// TestPruneCrashChild is the process TestPruneCrashAtEveryStep kills.
func TestPruneCrashChild(t *testing.T) {
	repo := os.Getenv("PRUNE_CRASH_REPO")
	if repo == "" {
		t.Skip("run by TestPruneCrashAtEveryStep")
	}
	at, _ := strconv.Atoi(os.Getenv("PRUNE_CRASH_AT"))
	r, err := Open(repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err = r.Prune(context.Background(), PruneOptions{step: func(string) {
		if n == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		n++
	}})
	t.Fatalf("prune was not killed (step %d of %d): %v", at, n, err)
}

// copyTree copies a repository into a new temporary folder.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.git")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestBackupWaitsForPrune: a backup started while a prune runs waits for
// the repository lock, then records its snapshot on the pruned repository.
func TestBackupWaitsForPrune(t *testing.T) {
	fx := newPruneFixture(t)
	ctx := context.Background()
	pr := fx.open(t)
	paused, resume := make(chan struct{}), make(chan struct{})
	pruned := make(chan error, 1)
	go func() {
		_, err := pr.Prune(ctx, PruneOptions{step: func(s string) {
			if s == "packed" {
				close(paused)
				<-resume
			}
		}})
		pruned <- err
	}()
	<-paused

	waiting := make(chan string, 1)
	br, err := Open(fx.path, Options{Now: clock(), Waiting: func(holder string) { waiting <- holder }})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	src, _ := seeded(t)
	if err := src.Write(ctx, metastore.Resource{Path: "/execute/after-prune", Data: []byte(`{"uuid":"after-prune"}`), Timestamp: 5}); err != nil {
		t.Fatal(err)
	}
	backedUp := make(chan *BackupResult, 1)
	go func() {
		res, err := br.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope()})
		if err != nil {
			t.Error(err)
		}
		backedUp <- res
	}()
	select {
	case holder := <-waiting:
		if !strings.Contains(holder, "pid "+strconv.Itoa(os.Getpid())) {
			t.Errorf("waiting for %q, want this process", holder)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the backup did not wait for the prune's lock")
	}
	select {
	case <-backedUp:
		t.Fatal("the backup finished while the prune held the lock")
	case <-time.After(200 * time.Millisecond):
	}
	close(resume)
	if err := <-pruned; err != nil {
		t.Fatal(err)
	}
	res := <-backedUp
	if res == nil {
		t.FailNow()
	}
	fx.want[res.Snapshot.ID.object()] = dump(t, src)
	r := fx.open(t)
	fx.checkKept(t, r)
}

// TestPruneRefusesAnIncompleteRepository: a reference naming a missing
// commit fails prune with ErrCorrupt, and nothing is deleted.
func TestPruneRefusesAnIncompleteRepository(t *testing.T) {
	fx := newPruneFixture(t)
	r := fx.open(t)
	missing := objects.HashObject(objects.KindCommit, []byte("not stored"))
	if err := r.objs.UpdateRef("refs/tags/broken", missing, objects.ZeroID); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, false, filepath.Join(fx.path, "objects"))
	_, err := r.Prune(context.Background(), PruneOptions{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("prune: %v, want ErrCorrupt", err)
	}
	if after := dirState(t, false, filepath.Join(fx.path, "objects")); after != before {
		t.Error("prune of an incomplete repository changed its objects")
	}
	if !r.objs.Has(fx.gone) {
		t.Error("prune of an incomplete repository removed an object")
	}
}
