package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/snapshot"
)

// Crash safety: the backup and the restore are killed with SIGKILL (no
// deferred function or cleanup runs) at many points, timed over a measured
// run and triggered by the files they write, and what they leave behind is
// checked from the outside. Figures and the commands to reproduce them are
// in RELIABILITY.md.

// crashResources is the size of the generated metastore:
// METASTORE_RELIABILITY_RESOURCES, or 600 (about 2 MB), which keeps the
// normal test run short; RELIABILITY.md's figures use larger ones, whose
// backups take seconds. The kill points spread over whatever a run takes.
func crashResources(t *testing.T) int { return envInt(t, "METASTORE_RELIABILITY_RESOURCES", 600, 100) }

// newEntry returns a trigger that fires when a file whose name matches re
// appears in dir that was not there (with that inode) when newEntry was
// called: a new temporary pack, a new index, a reference's lock file.
func newEntry(dir string, re *regexp.Regexp) func() bool {
	type key struct {
		name string
		ino  uint64
	}
	scan := func() []key {
		entries, _ := os.ReadDir(dir)
		var out []key
		for _, e := range entries {
			if !re.MatchString(e.Name()) {
				continue
			}
			if info, err := e.Info(); err == nil {
				out = append(out, key{e.Name(), info.Sys().(*syscall.Stat_t).Ino})
			}
		}
		return out
	}
	before := map[key]bool{}
	for _, k := range scan() {
		before[k] = true
	}
	return func() bool {
		for _, k := range scan() {
			if !before[k] {
				return true
			}
		}
		return false
	}
}

// TestCrashDuringBackup kills backups: first ones into a repository that
// does not exist yet, then incremental ones (each after a churn of the
// metastore, so each writes a new pack that merges the previous ones). After
// every kill: the repository verifies, every reference resolves to a
// complete snapshot (the system branch is either as before or holds exactly
// the metastore), and the next backup succeeds and records exactly the
// metastore. At the end, verify --read-data re-hashes everything.
func TestCrashDuringBackup(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	dir, meta, repo := c.dir, c.meta, c.repo
	st := genMetastore(t, meta, crashResources(t), 1)
	backup := func(extra ...string) []string {
		return append([]string{"-q", "--metadata-url", meta, "--repo", repo, "backup"}, extra...)
	}
	var kills, interrupted int

	// The first backup, killed before it is done: the repository is not
	// there, or empty, or holds the complete snapshot.
	start := time.Now()
	c.mustRun("-q", "--metadata-url", meta, "--repo", filepath.Join(dir, "calibrate.git"), "backup")
	first := time.Since(start)
	t.Logf("a first backup of %d resources takes %v", len(st), first)
	for _, d := range []time.Duration{0, 2 * time.Millisecond, first / 3, 2 * first / 3} {
		k := c.killAfter(d, nil, backup()...)
		kills++
		if !k.Finished {
			interrupted++
		}
		rc := checkRepository(t, repo, false)
		switch len(rc.snapshots) {
		case 0:
		case 1:
			if diff := diffStates(snapshotState(t, repo, rc.snapshots[0].ID), st); diff != "" {
				t.Fatalf("killed after %v: the snapshot differs from the metastore:\n%s", d, diff)
			}
		default:
			t.Fatalf("killed after %v: %d snapshots from one backup", d, len(rc.snapshots))
		}
		c.mustRun(backup()...)
		if diff := diffStates(snapshotState(t, repo, systemRef(t, repo)), st); diff != "" {
			t.Fatalf("the backup after a kill at %v differs from the metastore:\n%s", d, diff)
		}
		if err := os.RemoveAll(repo); err != nil {
			t.Fatal(err)
		}
	}

	// Incremental backups.
	c.mustRun(backup()...)
	rng := rand.New(rand.NewPCG(7, 7))
	st = churn(t, meta, st, rng, 0.3)
	start = time.Now()
	c.mustRun(backup()...)
	incr := time.Since(start)
	t.Logf("an incremental backup after a 30%% churn takes %v", incr)
	packDir := filepath.Join(repo, "objects", "pack")
	type point struct {
		delay   time.Duration
		trigger func() func() bool
		name    string
	}
	var points []point
	for _, d := range killPoints(incr, 16) {
		points = append(points, point{delay: d, name: d.String()})
	}
	on := func(name, dir, re string) point {
		return point{delay: 3 * incr, name: name, trigger: func() func() bool { return newEntry(dir, regexp.MustCompile(re)) }}
	}
	points = append(points,
		on("pack started", packDir, `^tmp_pack_`),
		on("index renamed", packDir, `^pack-.*\.idx$`),
		on("reference locked", filepath.Join(repo, "refs", "heads"), `^system\.lock$`),
		on("cache saved", filepath.Join(repo, "metastore-cache"), `^\.tmp-`),
	)
	prev := checkRepository(t, repo, false).refs["refs/heads/system"]
	for round := 0; round < longRuns(t); round++ {
		for i, p := range points {
			st = churn(t, meta, st, rng, 0.3)
			tag := fmt.Sprintf("crash-%d-%d", round, i)
			var trigger func() bool
			if p.trigger != nil {
				trigger = p.trigger()
			}
			k := c.killAfter(p.delay, trigger, backup("--tag", tag)...)
			kills++
			if !k.Finished {
				interrupted++
			} else if k.Code != 0 {
				t.Fatalf("kill at %s: the backup failed by itself: %s %s", p.name, k.Stdout, k.Stderr)
			}
			rc := checkRepository(t, repo, false)
			cur := rc.refs["refs/heads/system"]
			if cur != prev {
				// The killed backup got as far as moving the reference:
				// it must have recorded exactly the metastore.
				if diff := diffStates(snapshotState(t, repo, cur), st); diff != "" {
					t.Fatalf("kill at %s: the system branch moved to a snapshot that differs from the metastore:\n%s", p.name, diff)
				}
			}
			if id, ok := rc.refs["refs/tags/"+tag]; ok && id != cur {
				t.Fatalf("kill at %s: tag %s points at %s, not at the snapshot it was given to (%s)", p.name, tag, id.Short(), cur.Short())
			}
			res := c.run(backup()...)
			if res.code != 0 {
				t.Fatalf("kill at %s: the next backup failed: %s", p.name, res)
			}
			prev = systemRef(t, repo)
			if diff := diffStates(snapshotState(t, repo, prev), st); diff != "" {
				t.Fatalf("kill at %s: the next backup differs from the metastore:\n%s", p.name, diff)
			}
		}
	}
	res := c.mustRun("--repo", repo, "verify", "--read-data")
	if !strings.Contains(res.stdout, "no problems") {
		t.Fatalf("verify --read-data: %s", res)
	}
	gitFsck(t, repo)
	t.Logf("%d kills (%d interrupted a running backup, the others came after it ended); %s", kills, interrupted, strings.TrimSpace(res.stdout))
}

// TestCrashDuringRestore kills restores of snapshot A over a folder
// metastore in state B (with --after-truncate, so the restore writes,
// adds and deletes). After every kill: each file of the folder is A's
// version or B's, byte for byte and with its timestamp, never truncated
// or mixed; the listing shows no temporary file; the repository verifies;
// and restoring again completes to exactly A and removes the temporary
// files the killed restore left.
func TestCrashDuringRestore(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	live, repo := c.meta, c.repo
	a := genMetastore(t, live, crashResources(t), 3)
	c.mustRun("-q", "--metadata-url", live, "--repo", repo, "backup", "--tag", "A")
	rng := rand.New(rand.NewPCG(9, 9))
	b := churn(t, live, a, rng, 0.5)
	restore := []string{"-q", "--metadata-url", live, "--repo", repo, "restore", "A", "--after-truncate"}

	// Calibrate on the second restore from B, as every later one (the
	// first stores the safety snapshot's objects; later ones find them),
	// and find when it starts writing: the first files it will change
	// get A's timestamp.
	c.mustRun(restore...)
	resetFolder(t, live, b)
	var watch []string
	for _, key := range b.keys() {
		if va, ok := a[key]; ok && va != b[key] && len(watch) < 8 {
			watch = append(watch, key)
		}
	}
	var writing time.Duration
	start := time.Now()
	k := c.killAfter(time.Minute, func() bool {
		if writing == 0 {
			for _, key := range watch {
				if fi, err := os.Stat(filepath.Join(live, filepath.FromSlash(key))); err == nil && fi.ModTime().UnixMilli() == a[key].ts {
					writing = time.Since(start)
				}
			}
		}
		return false
	}, restore...)
	d := time.Since(start)
	if !k.Finished || k.Code != 0 {
		t.Fatalf("calibration restore: %+v", k)
	}
	if diff := diffStates(readFolder(t, live), a); diff != "" {
		t.Fatalf("the calibration restore did not give A:\n%s", diff)
	}
	t.Logf("restoring %d resources over a 50%% churn takes %v; it starts writing after %v", len(a), d, writing)
	points := append([]time.Duration{0, time.Millisecond}, spread(0, writing, 3)...)
	points = append(points, writing)
	points = append(points, spread(writing, d, 13)...)
	points = append(points, d+d/10)
	var kills, interrupted, mixed, leftovers int
	for round := 0; round < longRuns(t); round++ {
		for _, delay := range points {
			resetFolder(t, live, b)
			k := c.killAfter(delay, nil, restore...)
			kills++
			if !k.Finished {
				interrupted++
			} else if k.Code != 0 {
				t.Fatalf("kill after %v: the restore failed by itself: %s", delay, k.Stderr)
			}
			got := readFolder(t, live)
			fromA, fromB, neither := versionsOf(got, a, b)
			for _, key := range neither {
				t.Fatalf("kill after %v: %s is neither A's nor B's version (%d bytes, timestamp %d)", delay, key, len(got[key].data), got[key].ts)
			}
			for key := range a {
				if _, ok := got[key]; !ok {
					if _, inB := b[key]; inB {
						t.Fatalf("kill after %v: %s, in A and in B, is missing", delay, key)
					}
				}
			}
			if fromA > 0 && fromB > 0 {
				mixed++
			}
			if testing.Verbose() {
				t.Logf("kill after %v: finished %v, %d resources as in A, %d as in B", delay, k.Finished, fromA, fromB)
			}
			checkRepository(t, repo, false)
			leftovers += len(looseFiles(t, live))
			res := c.run(restore...)
			if res.code != 0 {
				t.Fatalf("kill after %v: restoring again failed: %s", delay, res)
			}
			if diff := diffStates(readFolder(t, live), a); diff != "" {
				t.Fatalf("kill after %v: restoring again did not give A:\n%s", delay, diff)
			}
			// The next restore removes what the killed one left.
			if stray := looseFiles(t, live); len(stray) > 0 {
				t.Fatalf("kill after %v: restoring again left the killed restore's temporary files %q", delay, stray)
			}
		}
	}
	// Temporary files of interrupted writes are never listed (and the
	// restore after each kill removed them).
	stray := looseFiles(t, live)
	s, err := folder.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(context.Background(), "/", func(p string) error {
		if strings.Contains(p, ".metastore-tmp-") {
			return fmt.Errorf("the listing shows temporary file %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res := c.mustRun("--repo", repo, "verify", "--read-data")
	t.Logf("%d kills (%d interrupted a running restore, %d left a mix of A and B, %d temporary files, each removed by the next restore); %d temporary files left at the end; %s",
		kills, interrupted, mixed, leftovers, len(stray), strings.TrimSpace(res.stdout))
}

// gitFsck checks the repository with git itself, when git is installed:
// it stays a plain git repository whatever was killed (temporary files of
// killed writers are only "garbage" to git).
func gitFsck(t *testing.T, repo string) {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Log("git not found: no git fsck")
		return
	}
	if out, err := exec.Command(git, "--git-dir", repo, "fsck", "--full", "--no-dangling").CombinedOutput(); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
}

// systemRef reads the system branch of the repository at path.
func systemRef(t *testing.T, path string) snapshot.ID {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(path, "refs", "heads", "system"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := snapshot.ParseID(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
