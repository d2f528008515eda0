package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// copySample copies the shared Kylin 3.1.3 sample into dir with fixed
// timestamps (checkouts lose mtimes) and adds extra resources of a table no
// project uses, so that a system backup takes a while.
func copySample(t *testing.T, dir string, extra int) state {
	t.Helper()
	abs, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	st := state{}
	i := int64(0)
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, p)
		i++
		st["/"+filepath.ToSlash(rel)] = version{string(data), 1600000000000 + i}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for j := 0; j < extra; j++ {
		k := fmt.Sprintf("/table_snapshot/ZZ_EXTRA.T%d/%04d.snapshot", j%10, j)
		st[k] = version{content(rng, k, 1000+rng.IntN(8000)), 1600000100000 + int64(j)}
	}
	writeState(t, dir, st, nil)
	return st
}

// startAll starts the command lines at once and waits for all of them.
func startAll(t *testing.T, c *proc, cmds [][]string) []result {
	t.Helper()
	out := make([]result, len(cmds))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := c.command(args...)
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			<-gate
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
				e.WriteString(err.Error())
			}
			out[i] = result{o.String(), e.String(), code}
		}()
	}
	close(gate)
	wg.Wait()
	return out
}

// TestConcurrentBackups runs, at once and as separate processes, four
// backups of different scopes and two of the same scope into one
// repository, the first time into a repository that does not exist yet. The
// promise: every backup records its snapshot (those that find the
// repository locked wait and then record), none is lost from its branch,
// each holds exactly its scope's resources, and the repository verifies.
func TestConcurrentBackups(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	meta, repo := c.meta, c.repo
	st := copySample(t, meta, 800)
	base := []string{"-q", "--metadata-url", meta, "--repo", repo}
	jobs := []struct {
		scope scope.Scope
		args  []string
	}{
		{scope.ProjectScope("default"), []string{"backup-project", "default"}},
		{scope.CubeScope("ssb"), []string{"backup-cube", "ssb"}},
		{scope.CubeScope("test_kylin_cube_with_slr_ready"), []string{"backup-cube", "test_kylin_cube_with_slr_ready", "--with-segments"}},
		{scope.CubeScope("ci_left_join_cube"), []string{"backup-cube", "ci_left_join_cube"}},
		{scope.SystemScope(), []string{"backup", "-m", "same scope, first"}},
		{scope.SystemScope(), []string{"backup", "-m", "same scope, second"}},
	}
	rounds := 2 * longRuns(t)
	waited := 0
	for round := 0; round < rounds; round++ {
		var cmds [][]string
		for _, j := range jobs {
			cmds = append(cmds, append(append([]string{}, base...), j.args...))
		}
		for i, res := range startAll(t, c.proc, cmds) {
			if res.code != 0 {
				t.Fatalf("round %d: %q: %s", round, cmds[i], res)
			}
			if strings.Contains(res.stderr, "waiting for the repository lock") {
				waited++
			}
		}
	}
	res := c.mustRun("--repo", repo, "verify", "--read-data")
	if !strings.Contains(res.stdout, "no problems") {
		t.Fatal(res)
	}

	// Every snapshot is there, on its branch, with its scope's resources.
	ctx := context.Background()
	r, err := snapshot.Open(repo, snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	all, err := r.Log(ctx, snapshot.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(jobs)*rounds {
		t.Fatalf("log lists %d snapshots, want %d", len(all), len(jobs)*rounds)
	}
	src, err := folder.Open(meta)
	if err != nil {
		t.Fatal(err)
	}
	perScope := map[scope.Scope]int{}
	for _, j := range jobs {
		perScope[j.scope] += rounds
	}
	for s, n := range perScope {
		// The branch of the scope holds every one of its snapshots: each
		// parent is the one recorded before it.
		in, err := r.Resolve(ctx, s.String(), s)
		if err != nil {
			t.Fatalf("branch %s: %v", s, err)
		}
		chain := 0
		for id := in.ID; !id.IsZero(); chain++ {
			in, err := r.Resolve(ctx, id.String(), s)
			if err != nil {
				t.Fatal(err)
			}
			if in.Scope != s {
				t.Fatalf("branch %s holds a snapshot of %s", s, in.Scope)
			}
			id = in.Parent
		}
		if chain != n {
			t.Errorf("branch %s holds %d snapshots, want %d", s, chain, n)
		}
	}
	for _, in := range all {
		want := state{}
		if in.Scope.Kind == scope.System {
			want = st
		} else {
			res, err := scope.Resolve(ctx, src, in.Scope, scope.Options{WithSegments: in.WithSegments})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Paths {
				want[p] = st[p]
			}
		}
		got, err := readSource(ctx, r.OpenInfo(in))
		if err != nil {
			t.Fatal(err)
		}
		if diff := diffStates(got, want); diff != "" {
			t.Fatalf("snapshot %s of %s differs from its scope:\n%s", in.ID.Short(), in.Scope, diff)
		}
	}
	t.Logf("%d rounds of %d concurrent backups: %d snapshots recorded, %d processes waited for the lock; %s",
		rounds, len(jobs), len(all), waited, strings.TrimSpace(res.stdout))
}

// TestBackupDuringRestore backs up a folder metastore while another process
// restores snapshot A over it (state B), starting the backup at different
// moments of the restore. Into another repository, the backup reads while
// files are being replaced: every resource it records is A's or B's
// version, byte for byte with its timestamp, never a torn file or a
// temporary one. Into the same repository, the lock orders them: the backup
// records the metastore entirely as before or entirely as after.
func TestBackupDuringRestore(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	dir, live, repo := c.dir, c.meta, c.repo
	other := filepath.Join(dir, "other.git")
	a := genMetastore(t, live, 600, 21)
	c.mustRun("-q", "--metadata-url", live, "--repo", repo, "backup", "--tag", "A")
	b := churn(t, live, a, rand.New(rand.NewPCG(5, 5)), 0.5)
	restore := []string{"-q", "--metadata-url", live, "--repo", repo, "restore", "A", "--after-truncate"}
	c.mustRun(restore...)
	resetFolder(t, live, b)
	start := time.Now()
	c.mustRun(restore...)
	d := time.Since(start)

	var runs, torn, mixed int
	for round := 0; round < longRuns(t); round++ {
		for i, offset := range append([]time.Duration{0}, spread(0, d, 4)...) {
			for _, into := range []string{other, repo} {
				resetFolder(t, live, b)
				rcmd := c.command(restore...)
				var rerr bytes.Buffer
				rcmd.Stderr = &rerr
				if err := rcmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(offset)
				tag := fmt.Sprintf("during-%d-%d", round, i)
				bres := c.run("-q", "--metadata-url", live, "--repo", into, "backup", "--tag", tag)
				if err := rcmd.Wait(); err != nil {
					t.Fatalf("restore: %v: %s", err, rerr.String())
				}
				if bres.code != 0 {
					t.Fatalf("backup during a restore: %s", bres)
				}
				runs++
				r, err := snapshot.Open(into, snapshot.Options{})
				if err != nil {
					t.Fatal(err)
				}
				in, err := r.Resolve(context.Background(), tag, scope.SystemScope())
				if err != nil {
					t.Fatal(err)
				}
				got, err := readSource(context.Background(), r.OpenInfo(in))
				r.Close()
				if err != nil {
					t.Fatal(err)
				}
				fromA, fromB, neither := versionsOf(got, a, b)
				for _, key := range neither {
					torn++
					t.Errorf("offset %v: the backup recorded %s as neither A's nor B's version (%d bytes, timestamp %d)", offset, key, len(got[key].data), got[key].ts)
				}
				if fromA > 0 && fromB > 0 {
					mixed++
					if into == repo {
						t.Errorf("offset %v: a backup into the restore's repository recorded a mix of before (%d) and after (%d)", offset, fromB, fromA)
					}
				}
				if into == repo {
					if diffStates(got, a) != "" && diffStates(got, b) != "" {
						t.Errorf("offset %v: a backup into the restore's repository recorded neither the state before nor after", offset)
					}
				}
			}
		}
	}
	for _, p := range []string{repo, other} {
		if res := c.run("--repo", p, "verify", "--read-data"); res.code != 0 {
			t.Fatalf("verify %s: %s", p, res)
		}
	}
	t.Logf("%d backups during restores: %d caught the restore half-way (a mix of old and new files), %d torn resources", runs, mixed, torn)
}

// TestReadersDuringBackups runs verify, log, restore --dry-run and diff in
// other processes, again and again, while backups write into the same
// repository (each one merging the small packs into a new pack and removing
// them). Readers take no lock: they must still never see a missing object,
// report a problem, or fail.
func TestReadersDuringBackups(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	dir, meta, repo := c.dir, c.meta, c.repo
	st := genMetastore(t, meta, 300, 51)
	backup := []string{"-q", "--metadata-url", meta, "--repo", repo, "backup"}
	c.mustRun(append(backup, "--tag", "first")...)
	// The readers' own metastore stays as it is: only the repository
	// changes under them.
	still := filepath.Join(dir, "still")
	writeState(t, still, st, nil)
	readers := [][]string{
		{"-q", "--repo", repo, "verify"},
		{"-q", "--repo", repo, "log"},
		{"-q", "--metadata-url", still, "--repo", repo, "restore", "--dry-run", "latest"},
		{"-q", "--repo", repo, "diff", "first", "latest"},
		{"-q", "--repo", repo, "show", "latest"},
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	reads := 0
	var failures []string
	for _, args := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				res := c.run(args...)
				mu.Lock()
				reads++
				if res.code != 0 {
					failures = append(failures, fmt.Sprintf("%q: %s", args[3:], strings.TrimSpace(res.stderr+res.stdout)))
				}
				mu.Unlock()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(8, 8))
	rounds := 10 * longRuns(t)
	for i := 0; i < rounds; i++ {
		st = churn(t, meta, st, rng, 0.2)
		c.mustRun(backup...)
	}
	close(done)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d reads failed during backups:\n%s", len(failures), reads, strings.Join(failures, "\n"))
	}
	t.Logf("%d reads (verify, log, restore --dry-run, diff, show) during %d backups: none failed", reads, rounds)
}
