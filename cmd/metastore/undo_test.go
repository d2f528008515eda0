package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// undoRE finds the undo command a restore prints.
var undoRE = regexp.MustCompile(`undo with: metastore (.*)`)

// undoArgs returns the arguments of the last undo command in out, split as
// a POSIX shell would (it only quotes with single quotes).
func undoArgs(t *testing.T, out string) []string {
	t.Helper()
	m := undoRE.FindAllStringSubmatch(out, -1)
	if m == nil {
		t.Fatalf("no undo command in:\n%s", out)
	}
	return shellSplit(t, m[len(m)-1][1])
}

func shellSplit(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == ' ':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// TestUndoCommand checks the undo command for each restore verb, with the
// repository and metastore of the command line (quoted for a shell, the
// password masked) and without those that came from the environment.
func TestUndoCommand(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "my snaps.git")
	c := newCLI(t)
	meta := filepath.Join(t.TempDir(), "meta")
	copyDir(t, sample, meta)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repoDir, "backup", "--tag", "A")
	os.WriteFile(filepath.Join(meta, "cube", "ssb.json"), []byte(`{"changed":true}`), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "A"}, "restore ID --after-truncate"},
		{[]string{"restore-project", "default", "A"}, "restore-project default ID --after-truncate"},
		{[]string{"restore-cube", "default", "A", "--cube", "ssb"}, "restore-cube default ID --after-truncate"},
	} {
		res := c.mustRun(append([]string{"--metadata-url", meta, "--repo", repoDir}, tt.args...)...)
		got := undoArgs(t, res.stdout)
		id := regexp.MustCompile(`safety snapshot ([0-9a-f]{12})`).FindStringSubmatch(res.stdout)
		if id == nil {
			t.Fatalf("%v: no safety snapshot in %s", tt.args, res.stdout)
		}
		want := append([]string{"--metadata-url", meta, "--repo", repoDir}, strings.Fields(strings.Replace(tt.want, "ID", id[1], 1))...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%v: undo %q, want %q", tt.args, got, want)
		}
		// --json gives it a field.
		os.WriteFile(filepath.Join(meta, "cube", "ssb.json"), []byte(`{"changed":true}`), 0o644)
		res = c.mustRun(append([]string{"--json", "--metadata-url", meta, "--repo", repoDir}, tt.args...)...)
		var j struct{ Undo string }
		if err := json.Unmarshal([]byte(res.stdout), &j); err != nil || !strings.HasPrefix(j.Undo, "metastore --metadata-url ") {
			t.Errorf("%v --json: undo %q (%v)", tt.args, j.Undo, err)
		}
		os.WriteFile(filepath.Join(meta, "cube", "ssb.json"), []byte(`{"changed":true}`), 0o644)
	}
	// From the environment: left out.
	fromEnv := newCLI(t, "METASTORE_METADATA_URL="+meta, "METASTORE_REPO="+repoDir)
	res := fromEnv.mustRun("restore", "A")
	if got := undoArgs(t, res.stdout); len(got) != 3 || got[0] != "restore" {
		t.Errorf("undo with the environment's settings: %q", got)
	}
	// A password is never printed.
	e := &env{getenv: func(string) string { return "" }, metadataURL: "kylin_metadata@jdbc,url=jdbc:mysql://db:3306/kylin,username=u,password=s3cret"}
	if got := e.undoCommand(nil, scope.ProjectScope("default"), "", snapshot.ID{}); strings.Contains(got, "s3cret") || !strings.Contains(got, "restore-project default") {
		t.Errorf("the undo command prints the password: %s", got)
	}
}
