package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKilledRestoreLeavesNoTemporaryFile kills a restore while it writes a
// large resource, which leaves a torn ".NAME.metastore-tmp-DIGITS" in the
// metastore (Kylin's FileResourceStore would list it). The next backup
// warns about it by name and does not record it; the next restore removes
// it, although the target then already matches the snapshot.
func TestKilledRestoreLeavesNoTemporaryFile(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	meta, repo := c.meta, c.repo
	a := genMetastore(t, meta, 100, 11)
	rng := rand.New(rand.NewPCG(11, 12))
	big := func() version {
		b := make([]byte, 24<<20)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return version{data: string(b), ts: 1700000000000 + rng.Int64N(1e9)}
	}
	const key = "/dict/DB.FACT/COL/big.dict"
	a[key] = big()
	writeState(t, meta, a, nil)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup", "--tag", "A")
	restore := []string{"-q", "--metadata-url", meta, "--repo", repo, "restore", "A", "--after-truncate"}

	// Kill the restore as soon as its temporary file appears beside the
	// large resource (it takes tens of milliseconds to write).
	var stray []string
	for try := 0; try < 5 && len(stray) == 0; try++ {
		b := map[string]version{}
		for k, v := range a {
			b[k] = v
		}
		b[key] = big()
		writeState(t, meta, b, nil)
		appeared := newEntry(filepath.Join(meta, "dict", "DB.FACT", "COL"), regexp.MustCompile(`^\.big\.dict\.metastore-tmp-`))
		c.killAfter(time.Minute, appeared, restore...)
		stray = looseFiles(t, meta)
	}
	if len(stray) == 0 {
		t.Skip("five kills all missed the write of a 24 MB resource")
	}
	leftover := "/" + filepath.ToSlash(stray[0])

	res := c.mustRun("--json", "--metadata-url", meta, "--repo", repo, "backup")
	var out struct {
		Snapshot struct{ ID string } `json:"snapshot"`
		Warnings []string            `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, res)
	}
	if len(out.Warnings) != 1 || !strings.HasPrefix(out.Warnings[0], leftover+": temporary file left by an interrupted write") {
		t.Errorf("backup warnings = %q, want one naming %s", out.Warnings, leftover)
	}
	if r := c.run("--repo", repo, "show", out.Snapshot.ID+":"+leftover); r.code == 0 {
		t.Errorf("the backup recorded the temporary file %s", leftover)
	}
	if got := looseFiles(t, meta); len(got) != len(stray) {
		t.Errorf("the backup changed the temporary files: %q, then %q", stray, got)
	}

	res = c.mustRun(restore[1:]...)
	if !strings.Contains(res.stderr, leftover) || !strings.Contains(res.stderr, "removed") {
		t.Errorf("restore says nothing of removing %s:\n%s", leftover, res)
	}
	if got := looseFiles(t, meta); len(got) != 0 {
		t.Errorf("after a restore, the temporary files %q are still there", got)
	}
	if diff := diffStates(readFolder(t, meta), a); diff != "" {
		t.Errorf("the restore did not give A:\n%s", diff)
	}
}

// TestSymlinkedLockIsRefused plants the repository's metastore.lock as a
// symbolic link to a file outside it: a backup used to empty that file.
func TestSymlinkedLockIsRefused(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	dir, meta, repo := c.dir, c.meta, c.repo
	genMetastore(t, meta, 50, 5)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")
	precious := filepath.Join(dir, "precious.conf")
	if err := os.WriteFile(precious, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(repo, "metastore.lock")
	os.Remove(lock)
	if err := os.Symlink(precious, lock); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"backup"},
		{"restore", "latest"},
		{"tag", "latest", "x"},
	} {
		res := c.run(append([]string{"-q", "--metadata-url", meta, "--repo", repo}, args...)...)
		if res.code != 5 || !strings.Contains(res.stderr, lock) || !strings.Contains(res.stderr, "symbolic link") {
			t.Errorf("%s with a symlinked lock: want exit 5 and a message naming %s as a symbolic link; got %s", args[0], lock, res)
		}
		if got, _ := os.ReadFile(precious); string(got) != "keep me\n" {
			t.Fatalf("%s wrote through the link: the file it names now holds %q", args[0], got)
		}
	}
	if fi, err := os.Lstat(lock); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced (%v, %v)", fi, err)
	}
}
