//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleFailedRestoreUndo fills the disk of a folder metastore
// half-way through a restore started by POST /api/v1/restore: the answer
// is the command line's --json error (exit code 1) with the safety snapshot
// and the undo command in their own fields, the undo command names the
// console's repository and metastore, and run as given by the command line
// once there is room again, it puts the metastore back exactly as it was.
func TestConsoleFailedRestoreUndo(t *testing.T) {
	fsDir := mountTmpfs(t, "32m")
	dir := t.TempDir()
	repo := filepath.Join(dir, "snap.git")
	// A: the sample with every JSON resource three pages longer; the live
	// metastore is the sample less a cube descriptor the restore adds back.
	src := filepath.Join(dir, "a")
	paddedSample(t, src)
	newCLI(t).mustRun("-q", "--metadata-url", src, "--repo", repo, "backup", "--tag", "A")
	live := sampleLacking(t, filepath.Join(fsDir, "live"))
	before := readFolder(t, live)
	f := newServeFixtureAt(t, serveOptions{allowRestore: true}, live, repo)

	body, status := f.api("GET", "/api/v1/restore-plan?kind=system&ref=A&after_truncate=1", nil)
	if status != http.StatusOK {
		t.Fatalf("restore plan: %d %s", status, body)
	}
	unfill := fill(t, fsDir, roomNeeded(t, body)/2)
	body, status = f.api("POST", "/api/v1/restore", url.Values{"kind": {"system"}, "ref": {"A"}, "after_truncate": {"1"}})
	unfill()
	var j restoreFailureJSON
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if status != http.StatusInternalServerError || j.ExitCode != 1 || !strings.Contains(j.Error, "no space left on device") {
		t.Fatalf("POST /api/v1/restore onto a full disk: %d %s", status, body)
	}
	if diffStates(readFolder(t, live), before) == "" {
		t.Fatal("the failed restore wrote nothing: the disk was not filled half-way")
	}
	undo := shellSplit(t, j.Undo)
	want := []string{"metastore", "--repo", repo, "--metadata-url", live, "restore"}
	if j.Safety.Kind != "safety" || len(j.Safety.ID) < 12 || len(undo) != len(want)+2 || strings.Join(undo[:len(want)], " ") != strings.Join(want, " ") ||
		!strings.HasPrefix(j.Safety.ID, undo[len(want)]) || undo[len(want)+1] != "--after-truncate" || !strings.HasSuffix(j.Error, "; undo with: "+j.Undo) {
		t.Fatalf("the error lacks the safety snapshot or an undo command naming the console's repository and metastore:\n%s", body)
	}
	res := newCLI(t).run(undo[1:]...)
	if res.code != 0 {
		t.Fatalf("the undo %q failed: %s", undo, res)
	}
	if diff := diffStates(readFolder(t, live), before); diff != "" {
		t.Errorf("the undo %q did not put back the state before the failed restore:\n%s", undo, diff)
	}
}
