//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUndoFailedRestore fills the disk of a folder metastore half-way
// through a restore of each scope: the restore fails (exit 1) saying how to
// undo it, --json gives the safety snapshot and the undo command their own
// fields, and the printed command, run as printed once there is room again,
// puts the metastore back exactly as it was before the failed restore. The
// undo used to be printed as "restore SAFETY", without --after-truncate,
// and for a project or cube restore it failed (exit 4).
func TestUndoFailedRestore(t *testing.T) {
	t.Parallel()
	c, fsDir := newRig(t), mountTmpfs(t, "32m")
	dir, repo := c.dir, c.repo
	// A is the sample with every JSON resource three pages longer (still
	// valid JSON); the live metastores are the sample itself, less a cube
	// descriptor that each restore adds back.
	src := filepath.Join(dir, "a")
	paddedSample(t, src)
	c.mustRun("-q", "--metadata-url", src, "--repo", repo, "backup", "--tag", "A")
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"system", []string{"restore", "A"}},
		{"project", []string{"restore-project", "default", "A"}},
		{"cube", []string{"restore-cube", "default", "A", "--cube", "ssb"}},
	} {
		live := sampleLacking(t, filepath.Join(fsDir, tt.name))
		before := readFolder(t, live)
		restore := append([]string{"-q", "--metadata-url", live, "--repo", repo}, append(tt.args, "--after-truncate")...)

		// How much more room the restore takes, from its dry run.
		res := c.mustRun(append([]string{"--json"}, append(restore, "--dry-run")...)...)
		unfill := fill(t, fsDir, roomNeeded(t, res.stdout)/2)
		res = c.run(append([]string{"--json"}, restore...)...)
		unfill()
		if res.code != 1 || !strings.Contains(res.stderr, "no space left on device") {
			t.Fatalf("%s: want exit 1 and \"no space left on device\", got %s", tt.name, res)
		}
		partial := readFolder(t, live)
		if diffStates(partial, before) == "" {
			t.Fatalf("%s: the failed restore wrote nothing: the disk was not filled half-way", tt.name)
		}
		var j restoreFailureJSON
		if err := json.Unmarshal([]byte(res.stdout), &j); err != nil {
			t.Fatalf("%s: --json error output: %v\n%s", tt.name, err, res.stdout)
		}
		undo := undoArgs(t, res.stderr)
		if j.ExitCode != 1 || j.Safety.Kind != "safety" || len(j.Safety.ID) < 12 || j.Undo != "metastore "+strings.Join(undo, " ") {
			t.Errorf("%s: --json error output lacks the safety snapshot or the undo command:\n%s", tt.name, res.stdout)
		}
		if !strings.Contains(strings.Join(undo, " "), tt.args[0]+" ") || undo[len(undo)-1] != "--after-truncate" || !strings.HasPrefix(j.Safety.ID, undo[len(undo)-2]) {
			t.Errorf("%s: the printed undo %q is not %s SAFETY --after-truncate", tt.name, undo, tt.args[0])
		}
		res = c.run(undo...)
		if res.code != 0 {
			t.Fatalf("%s: the printed undo %q failed: %s", tt.name, undo, res)
		}
		if diff := diffStates(readFolder(t, live), before); diff != "" {
			t.Errorf("%s: the printed undo %q did not put back the state before the failed restore:\n%s", tt.name, undo, diff)
		}
	}
}

// paddedSample copies the sample metastore to dst with every JSON resource
// three pages longer (still valid JSON), so that a restore of it fills a
// small file system part-way.
func paddedSample(t *testing.T, dst string) {
	t.Helper()
	copyDir(t, sample, dst)
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, append(data, strings.Repeat("\n", 3*4096)...), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sampleLacking copies the sample metastore to dst less one cube
// descriptor (which a restore adds back), and returns dst.
func sampleLacking(t *testing.T, dst string) string {
	t.Helper()
	copyDir(t, sample, dst)
	if err := os.Remove(filepath.Join(dst, "cube_desc", "ssb.json")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// roomNeeded is the room a restore takes beyond what the target uses
// already (in file system blocks of 4 KiB), from its plan in JSON (a dry
// run's --json, or the console's restore-plan).
func roomNeeded(t *testing.T, planJSON string) int64 {
	t.Helper()
	var plan struct {
		Plan []struct {
			Action  string `json:"action"`
			OldSize int64  `json:"old_size"`
			NewSize int64  `json:"new_size"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		t.Fatalf("restore plan: %v\n%s", err, planJSON)
	}
	var need int64
	for _, it := range plan.Plan {
		if it.Action == "added" || it.Action == "changed" {
			need += (it.NewSize+4095)/4096*4096 - (it.OldSize+4095)/4096*4096
		}
	}
	return need
}

// restoreFailureJSON is what --json prints, and the console's API answers,
// for a restore that failed after its safety snapshot.
type restoreFailureJSON struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	Safety   struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		Scope string `json:"scope"`
	} `json:"safety"`
	Undo string `json:"undo"`
}
