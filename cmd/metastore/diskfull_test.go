//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of the given size (a mount option such as
// "4m") on a fresh folder and unmounts it when the test ends. Mounting
// needs privileges: without them the test is skipped, unless
// METASTORE_REQUIRE_TMPFS=1 makes it fail.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		if os.Getenv("METASTORE_REQUIRE_TMPFS") == "1" {
			t.Fatalf("mount a %s tmpfs on %s: %v (METASTORE_REQUIRE_TMPFS=1)", size, dir, err)
		}
		t.Skipf("cannot mount a tmpfs to fill (%v): run as root, or set METASTORE_REQUIRE_TMPFS=1 to make this a failure", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// resizeTmpfs changes the size of a tmpfs mounted by mountTmpfs.
func resizeTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("resize tmpfs: %v", err)
	}
}

// freeBytes returns the space left for files on the file system of dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a filler file so that about free bytes are left on dir's file
// system, and returns a function that removes it.
func fill(t *testing.T, dir string, free int64) func() {
	t.Helper()
	p := filepath.Join(dir, "filler")
	os.Remove(p)
	n := freeBytes(t, dir) - free
	if n > 0 {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		for n > 0 {
			m := min(n, int64(len(buf)))
			if _, err := f.Write(buf[:m]); err != nil {
				break // full already
			}
			n -= m
		}
		f.Close()
	}
	return func() { os.Remove(p) }
}

// packGarbage lists temporary files left in a repository's pack folder.
func packGarbage(t *testing.T, repo string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(repo, "objects", "pack"))
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp_") {
			out = append(out, e.Name())
		}
	}
	locks, _ := filepath.Glob(filepath.Join(repo, "refs", "heads", "*.lock"))
	return append(out, locks...)
}

// TestBackupDiskFull puts the repository on a small file system and backs
// up more than it can hold: the backup fails with an error that says the
// disk is full, records nothing (the branch does not move, no temporary
// file is left to eat the space), and the repository still verifies; once
// space is free again the next backup succeeds. Then the free space is
// swept page by page across what an incremental backup needs, so that the
// disk fills up at every step of it (the pack, its index, the change cache,
// the reference): every run either records exactly the metastore or fails
// cleanly.
func TestBackupDiskFull(t *testing.T) {
	t.Parallel()
	c, fsDir := newRig(t), mountTmpfs(t, "4m")
	dir, meta, repo := c.dir, c.meta, filepath.Join(fsDir, "snap.git")
	st := genMetastore(t, meta, 150, 31)
	backup := []string{"-q", "--metadata-url", meta, "--repo", repo, "backup"}
	c.mustRun(backup...)
	first := systemRef(t, repo)
	used := freeBytes(t, fsDir)

	// More than the file system holds: incompressible table snapshots.
	rng := rand.New(rand.NewPCG(1, 2))
	big := state{}
	for i := 0; i < 12; i++ {
		b := make([]byte, 512<<10)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		big[fmt.Sprintf("/table_snapshot/BIG.T/%02d.snapshot", i)] = version{string(b), 1700000000000}
	}
	writeState(t, meta, big, nil)
	res := c.run(backup...)
	if res.code != 1 || !strings.Contains(res.stderr, "no space left on device") {
		t.Fatalf("a backup larger than the disk: want exit 1 and \"no space left on device\", got %s", res)
	}
	if got := systemRef(t, repo); got != first {
		t.Fatalf("the failed backup moved the system branch to %s", got.Short())
	}
	if g := packGarbage(t, repo); len(g) > 0 {
		t.Fatalf("the failed backup left %q", g)
	}
	if free := freeBytes(t, fsDir); free < used-64<<10 {
		t.Fatalf("the failed backup left %d bytes used", used-free)
	}
	rc := checkRepository(t, repo, true)
	if len(rc.snapshots) != 1 {
		t.Fatalf("after a failed backup the log lists %d snapshots, want 1", len(rc.snapshots))
	}
	for k := range big {
		os.Remove(filepath.Join(meta, filepath.FromSlash(k)))
	}
	c.mustRun(backup...)
	t.Logf("a %d MiB backup into a 4 MiB file system: %s", 6, strings.TrimSpace(res.stderr))

	// The sweep: the same incremental backup, from the same repository,
	// with 0 bytes free, then one step more each run until it succeeds;
	// the last step is walked page by page, where the disk fills up after
	// the pack: its index, the reference, the change cache and the tree
	// memo. A backup needs room for its new pack (which merges the small
	// packs) beside the packs it replaces.
	resizeTmpfs(t, fsDir, "16m")
	st = churn(t, meta, st, rng, 0.05)
	base := filepath.Join(dir, "base.git")
	copyDir(t, repo, base)
	prev := systemRef(t, repo)
	const page = 4096
	size := packBytes(t, repo)
	step := max(page, size/8/page*page)
	var failed, recorded, streak, runs int
	messages := map[string]int{}
	free, fine := int64(0), false
	for ; streak < 3; free += step {
		if runs > 200 {
			t.Fatalf("no backup succeeded with up to %d bytes free", free)
		}
		if streak == 1 && !fine {
			fine, streak = true, 0
			free -= step
			step = page
			continue
		}
		runs++
		if err := os.RemoveAll(repo); err != nil {
			t.Fatal(err)
		}
		copyDir(t, base, repo)
		unfill := fill(t, fsDir, free)
		res := c.run(backup...)
		if res.code == 0 {
			recorded++
			streak++
			if diff := diffStates(snapshotState(t, repo, systemRef(t, repo)), st); diff != "" {
				t.Fatalf("%d bytes free: the backup succeeded but differs from the metastore:\n%s", free, diff)
			}
		} else {
			failed++
			streak = 0
			if res.code != 1 || !strings.Contains(res.stderr, "no space left on device") {
				t.Fatalf("%d bytes free: want success or exit 1 with \"no space left on device\", got %s", free, res)
			}
			messages[pathRE.ReplaceAllString(strings.TrimSpace(res.stderr), "PATH")]++
			if got := systemRef(t, repo); got != prev {
				t.Fatalf("%d bytes free: the failed backup moved the system branch to %s", free, got.Short())
			}
		}
		if g := packGarbage(t, repo); len(g) > 0 {
			t.Fatalf("%d bytes free: the backup left %q", free, g)
		}
		checkRepository(t, repo, false)
		unfill()
		if res := c.run(backup...); res.code != 0 {
			t.Fatalf("%d bytes free: the backup after freeing space failed: %s", free, res)
		}
		if diff := diffStates(snapshotState(t, repo, systemRef(t, repo)), st); diff != "" {
			t.Fatalf("%d bytes free: the backup after freeing space differs from the metastore:\n%s", free, diff)
		}
	}
	res = c.mustRun("--repo", repo, "verify", "--read-data")
	t.Logf("packs of %d bytes; %d runs with 0 to %d bytes free, page by page near the end: %d failed, %d recorded; failures: %v",
		size, runs, free-step, failed, recorded, messages)
	if failed == 0 || recorded == 0 {
		t.Errorf("the sweep did not go from a full disk to enough room")
	}
}

// pathRE matches the file paths in error messages.
var pathRE = regexp.MustCompile(`/[^ :]+`)

// packBytes returns the size of a repository's packs.
func packBytes(t *testing.T, repo string) int64 {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	var size int64
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil {
			size += fi.Size()
		}
	}
	return size
}

// firstWords returns the error message up to its first path, to tell the
// kinds of failure apart.
func firstWords(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "metastore: ")
	if i := strings.Index(s, "/"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// TestRestoreDiskFull restores a snapshot into a folder metastore on a
// file system too small for it: the restore fails saying the disk is full,
// every file is left entirely old or entirely new, and once there is room
// the same restore completes.
func TestRestoreDiskFull(t *testing.T) {
	t.Parallel()
	c, fsDir := newRig(t), mountTmpfs(t, "2m")
	dir, repo, live := c.dir, c.repo, filepath.Join(fsDir, "meta")
	// A is large (incompressible content), B small.
	src := filepath.Join(dir, "a")
	a := genMetastore(t, src, 100, 41)
	rng := rand.New(rand.NewPCG(4, 1))
	for i := 0; i < 8; i++ {
		b := make([]byte, 400<<10)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		k := fmt.Sprintf("/table_snapshot/BIG.T/%02d.snapshot", i)
		a[k] = version{string(b), 1700000000000}
	}
	writeState(t, src, a, nil)
	c.mustRun("-q", "--metadata-url", src, "--repo", repo, "backup", "--tag", "A")
	b := state{}
	for k, v := range a {
		switch {
		case k == "/UUID": // the same metastore
			b[k] = v
		case !strings.HasPrefix(k, "/table_snapshot/BIG.T/"):
			b[k] = version{v.data[:len(v.data)/2], v.ts + 5}
		}
	}
	if err := os.Mkdir(live, 0o755); err != nil {
		t.Fatal(err)
	}
	writeState(t, live, b, nil)
	restore := []string{"-q", "--metadata-url", live, "--repo", repo, "restore", "A", "--after-truncate"}
	res := c.run(restore...)
	if res.code != 1 || !strings.Contains(res.stderr, "no space left on device") {
		t.Fatalf("a restore larger than the disk: want exit 1 and \"no space left on device\", got %s", res)
	}
	undo := undoArgs(t, res.stderr)
	if want := []string{"restore", "--after-truncate"}; len(undo) < 3 || undo[len(undo)-3] != want[0] || undo[len(undo)-1] != want[1] {
		t.Errorf("the failed restore does not print a complete undo (restore SAFETY --after-truncate): %q", undo)
	}
	got := readFolder(t, live)
	newer := 0
	for k, v := range got {
		switch {
		case v == a[k]:
			newer++
		case v == b[k]:
		default:
			t.Fatalf("after a full disk, %s is neither the old nor the new version (%d bytes)", k, len(v.data))
		}
	}
	if newer == 0 || newer == len(a) {
		t.Errorf("%d of %d resources restored before the disk was full: the test did not fill the disk half-way", newer, len(a))
	}
	resizeTmpfs(t, fsDir, "16m")
	// The printed undo, run as printed, puts back what was there before.
	c.mustRun(undo...)
	if diff := diffStates(readFolder(t, live), b); diff != "" {
		t.Fatalf("the printed undo (%q) did not put back the state before the failed restore:\n%s", undo, diff)
	}
	c.mustRun(restore...)
	if diff := diffStates(readFolder(t, live), a); diff != "" {
		t.Fatalf("the restore after freeing space did not give A:\n%s", diff)
	}
	t.Logf("restore into a full disk: %d of %d resources written before it failed with %q; the restore completed once there was room",
		newer, len(a), firstWords(res.stderr))
}
