package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// jsonError decodes the --json form of a failure.
func jsonError(t *testing.T, r result) (string, int) {
	t.Helper()
	var out struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output is not a JSON error: %v\n%s", err, r)
	}
	return out.Error, out.ExitCode
}

// TestUnknownCommandIsAUsageError: a mistyped command (a cron line's
// "metastore backpu") and a bare "metastore" are usage errors (exit 2)
// with urfave/cli's suggestion, in text and under --json, while help
// itself still succeeds.
func TestUnknownCommandIsAUsageError(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.run("backpu")
	if r.code != exitUsage || !strings.Contains(r.stderr, `no command "backpu"`) || !strings.Contains(r.stderr, `Did you mean "backup"?`) {
		t.Errorf("metastore backpu: want exit 2 suggesting backup; %s", r)
	}
	r = c.run("--json", "-q", "restor-project", "p", "latest")
	msg, code := jsonError(t, r)
	if r.code != exitUsage || code != exitUsage || !strings.Contains(msg, `Did you mean "restore-project"?`) {
		t.Errorf("--json restor-project: want exit 2 and a JSON error suggesting restore-project; %s", r)
	}
	r = c.run("help", "backpu")
	if r.code != exitUsage || !strings.Contains(r.stderr, `no command "backpu"`) {
		t.Errorf("metastore help backpu: want exit 2; %s", r)
	}
	r = c.run()
	if r.code != exitUsage || !strings.Contains(r.stderr, "COMMANDS:") || !strings.Contains(r.stderr, "no command given") || r.stdout != "" {
		t.Errorf("bare metastore: want help on stderr and exit 2; %s", r)
	}
	r = c.run("--json")
	if _, code := jsonError(t, r); r.code != exitUsage || code != exitUsage {
		t.Errorf("bare metastore --json: want a JSON error with exit 2; %s", r)
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"help", "backup"}, {"backup", "--help"}} {
		if r := c.run(args...); r.code != 0 || !strings.Contains(r.stdout, "USAGE:") {
			t.Errorf("metastore %q: want help and exit 0; %s", args, r)
		}
	}
}

// TestFailedFirstBackupLeavesNoRepository: a backup that fails before
// recording anything (unknown project or cube, ambiguous Kylin 5 model
// alias, empty metastore, bad -m) into a repository that did not exist
// leaves none behind; into an empty folder an admin made, leaves it empty.
// An ambiguous alias is a usage error (exit 2) listing the PROJECT.alias
// choices.
func TestFailedFirstBackupLeavesNoRepository(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	copySample(t, meta, 0)
	kylin5, err := filepath.Abs("../../testdata/kylin5")
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	for i, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--metadata-url", meta, "backup-project", "nosuch"}, exitNotFound, `project "nosuch" not found`},
		{[]string{"--metadata-url", meta, "backup-cube", "nosuch"}, exitNotFound, `cube "nosuch" not found`},
		{[]string{"--metadata-url", kylin5, "backup-cube", "m1"}, exitUsage, "gc_test.m1"},
		{[]string{"--metadata-url", empty, "backup"}, exitRefused, "no resources"},
		{[]string{"--metadata-url", meta, "backup", "-m", "x\n\nMetastore-Kind: safety"}, exitUsage, "one line"},
	} {
		for _, pre := range []bool{false, true} {
			repo := filepath.Join(dir, "repo"+string(rune('a'+i)))
			if pre {
				repo += "-admin"
				if err := os.Mkdir(repo, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			r := c.run(append([]string{"-q", "--repo", repo}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("metastore %q: want exit %d and %q; %s", tc.args, tc.code, tc.want, r)
			}
			entries, err := os.ReadDir(repo)
			switch {
			case !pre && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("metastore %q left %s behind (%d entries, %v)", tc.args, repo, len(entries), err)
			case pre && (err != nil || len(entries) != 0):
				t.Errorf("metastore %q: the admin's folder %s has %d entries (%v), want it kept, empty", tc.args, repo, len(entries), err)
			}
		}
	}
	// The ambiguous alias lists every choice, and one of them works.
	repo := filepath.Join(dir, "k5.git")
	r := c.run("-q", "--metadata-url", kylin5, "--repo", repo, "backup-cube", "m1")
	if !strings.Contains(r.stderr, "gc_test.m1") || !strings.Contains(r.stderr, "top_n.m1") || !strings.Contains(r.stderr, "PROJECT.alias") {
		t.Errorf("ambiguous alias: want both choices named; %s", r)
	}
	if msg, code := jsonError(t, c.run("--json", "-q", "--metadata-url", kylin5, "--repo", repo, "backup-cube", "m1")); code != exitUsage {
		t.Errorf("ambiguous alias --json: exit_code %d (%s)", code, msg)
	}
	c.mustRun("-q", "--metadata-url", kylin5, "--repo", repo, "backup-cube", "gc_test.m1")
}

// TestMessageIsOneLine: -m with a line break or a control character is a
// usage error and records nothing; the repository keeps its snapshots.
func TestMessageIsOneLine(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	base := c.withSample(t)
	c.mustRun(append(base, "backup", "-m", "first")...)
	for _, msg := range []string{"x\n\nMetastore-Kind: safety", "a\rb", "tab\there", "\x1b[2Jcleared", "a\u2028b", "bad \xff utf-8"} {
		r := c.run(append(base, "backup", "-m", msg)...)
		if r.code != exitUsage {
			t.Errorf("-m %q: want exit 2; %s", msg, r)
		}
	}
	r := c.mustRun(append(base, "--json", "log")...)
	var list []struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Message != "first" || list[0].Kind != "backup" {
		t.Errorf("log after refused messages: %+v, want the first backup only", list)
	}
}

// TestTagBesideTagFolderIsRefused: "tag REF a" beside a tag "a/b" (and the
// reverse) is refused with exit 4, never an I/O failure; "tag -d a" says
// there is no such tag (exit 3).
func TestTagBesideTagFolderIsRefused(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	base := c.withSample(t)
	c.mustRun(append(base, "backup", "--tag", "a/b", "--tag", "c")...)
	for _, tc := range [][]string{{"tag", "latest", "a"}, {"tag", "latest", "c/d"}, {"backup", "--tag", "a"}} {
		r := c.run(append(base, tc...)...)
		if r.code != exitRefused || !strings.Contains(r.stderr, "cannot also be a folder of tag names") {
			t.Errorf("metastore %q: want exit 4 and the reason; %s", tc, r)
		}
		msg, code := jsonError(t, c.run(append(append(base, "--json"), tc...)...))
		if code != exitRefused {
			t.Errorf("metastore --json %q: exit_code %d (%s)", tc, code, msg)
		}
	}
	if r := c.run(append(base, "tag", "-d", "a")...); r.code != exitNotFound || !strings.Contains(r.stderr, "a/b") {
		t.Errorf("tag -d a beside a/b: want exit 3 naming a/b; %s", r)
	}
}

// TestNameListedTwiceExits5 crafts a snapshot whose cube folder lists
// ssb.json twice with different content: show and restore both refuse it as
// corrupt (exit 5) instead of disagreeing on the content.
func TestNameListedTwiceExits5(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	dir, meta, repo := c.dir, c.meta, c.repo
	copySample(t, meta, 0)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup")

	o, err := objects.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	pw, err := o.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	tree := func(entries ...objects.TreeEntry) objects.ID {
		var b []byte
		for _, e := range entries {
			mode := "100644 "
			if e.IsDir() {
				mode = "40000 "
			}
			b = append(append(append(b, mode+e.Name...), 0), e.ID[:]...)
		}
		id, _, err := pw.Write(objects.KindTree, b)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, _, _ := pw.WriteBlob([]byte(`{"name":"ssb","v":"A"}`))
	b, _, _ := pw.WriteBlob([]byte(`{"name":"ssb","v":"B"}`))
	e, _, _ := pw.WriteBlob(nil)
	f := func(name string, id objects.ID) objects.TreeEntry {
		return objects.TreeEntry{Name: name, Mode: objects.ModeFile, ID: id}
	}
	d := func(name string, id objects.ID) objects.TreeEntry {
		return objects.TreeEntry{Name: name, Mode: objects.ModeDir, ID: id}
	}
	cube := tree(f("ssb.json", a), f("ssb.json", b))
	ts := tree(d("timestamps", tree(d("cube", tree(f("ssb.json@1600000000000", e))))))
	root := tree(d(".metastore", ts), d("cube", cube))
	commit, err := pw.WriteCommit(objects.Commit{Tree: root, Message: "crafted\n\nMetastore-Format: 1\nMetastore-Scope: system\nMetastore-Kind: backup\nMetastore-Resources: 2\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := o.UpdateRef("refs/tags/crafted", commit, objects.ZeroID); err != nil {
		t.Fatal(err)
	}
	r := c.run("-q", "--repo", repo, "show", "crafted:/cube/ssb.json")
	if r.code != exitRepo || !strings.Contains(r.stderr, "listed twice") {
		t.Errorf("show of a name listed twice: want exit 5; %s", r)
	}
	target := filepath.Join(dir, "target")
	r = c.run("-q", "--metadata-url", target, "--repo", repo, "restore", "crafted")
	if r.code != exitRepo || !strings.Contains(r.stderr, "listed twice") {
		t.Errorf("restore of a name listed twice: want exit 5; %s", r)
	}
	if _, err := os.Stat(filepath.Join(target, "cube", "ssb.json")); err == nil {
		t.Error("the refused restore wrote cube/ssb.json")
	}
}
