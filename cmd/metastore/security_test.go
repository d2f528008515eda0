package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/metastore/locate/locatetest"
)

// TestRepositoryIsPrivate creates a repository and uses every command that
// writes to it (backup, backups of a project and a cube, tag, restore with
// its safety snapshot) under umask 000, the most permissive, and checks that
// the repository is private to its owner all the same: it holds the password
// hashes of Kylin's users. Every folder is 0700 and every file 0600.
func TestRepositoryIsPrivate(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	meta, repo := c.meta, c.repo
	copySample(t, meta, 0)
	umask := func(args ...string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", `umask 000 && exec "$0" "$@"`, c.path}, args...)...)
		cmd.Env = append(os.Environ(), c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("metastore %q: %v\n%s", args, err, out)
		}
	}
	base := []string{"-q", "--metadata-url", meta, "--repo", repo}
	umask(append(base, "backup", "--tag", "first")...)
	umask(append(base, "backup-project", "default")...)
	umask(append(base, "backup-cube", "ssb")...)
	umask(append(base, "tag", "latest", "again")...)
	if err := os.WriteFile(filepath.Join(meta, "cube", "ssb.json"), []byte(`{"name":"ssb"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	umask(append(base, "restore", "first")...)
	var dirs, files int
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
			dirs++
		} else {
			files++
		}
		if got := info.Mode().Perm(); got != want {
			rel, _ := filepath.Rel(repo, p)
			t.Errorf("%s has mode %o, want %o", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d folders 0700 and %d files 0600 after backups, tags and a restore under umask 000", dirs, files)
}

// secretURLs are metadata URLs of a database that is not there (a closed
// port), with the password in each place Kylin accepts one.
var secretURLs = []struct{ url, secret string }{
	{"kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password=S3cret-Pg-Pw-1", "S3cret-Pg-Pw-1"},
	{"kylin_metadata@jdbc,url=jdbc:mysql://127.0.0.1:1/kylin,username=kylin,password=p@ss-My-Pw-2,maxActive=10", "p@ss-My-Pw-2"},
	{`kylin_metadata@jdbc,url="jdbc:postgresql://127.0.0.1:1/kylin?user=kylin&password=Url-Pw-3,x",username=kylin`, "Url-Pw-3,x"},
	{"kylin_metadata@jdbc,url=jdbc:mysql://kylin:Userinfo-Pw-4@127.0.0.1:1/kylin,username=kylin", "Userinfo-Pw-4"},
	{`kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin,username=kylin,password="Quoted,Pw-5"`, "Quoted,Pw-5"},
	{"kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:1/kylin?password=Odd\"Quote-Pw-6,username=kylin", "Odd\"Quote-Pw-6"},
}

// newOpeningRig is a rig whose repository holds a snapshot of the sample
// metastore tagged "good", with the commands that open the metastore (each
// to be given --metadata-url and --repo).
func newOpeningRig(t *testing.T) (rig, [][]string) {
	t.Helper()
	c := newRig(t)
	copySample(t, c.meta, 0)
	c.mustRun("-q", "--metadata-url", c.meta, "--repo", c.repo, "backup", "--tag", "good")
	return c, [][]string{
		{"backup"}, {"backup-project", "default"}, {"backup-cube", "ssb"},
		{"restore", "good"}, {"restore", "--dry-run", "good"}, {"restore-project", "default", "good"},
		{"restore-cube", "default", "good", "--cube", "ssb"}, {"diff", "good"},
	}
}

// TestPasswordsNeverShown runs every command that opens the metastore with
// a metadata URL holding a password, given on the command line, in the
// environment and in kylin.properties, with and without --json, against a
// database that is not there: the command fails, and the password is in
// neither its output nor its error.
func TestPasswordsNeverShown(t *testing.T) {
	t.Parallel()
	c, commands := newOpeningRig(t)
	dir, repo := c.dir, c.repo
	runs := 0
	for _, s := range secretURLs {
		conf := filepath.Join(dir, "conf")
		if err := os.MkdirAll(conf, 0o755); err != nil {
			t.Fatal(err)
		}
		// kylin.properties escapes backslashes; none of ours has one.
		if err := os.WriteFile(filepath.Join(conf, "kylin.properties"), []byte("kylin.metadata.url="+s.url+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range commands {
			for _, json := range []bool{false, true} {
				for _, how := range []string{"flag", "env", "kylin.properties"} {
					p, args := withURL(t, c.proc, repo, how, s.url, conf, json)
					res := p.run(append(args, cmd...)...)
					runs++
					if res.code == 0 {
						t.Fatalf("%q with %s from the %s: succeeded against a closed port", cmd, locate.Mask(s.url), how)
					}
					if strings.Contains(res.stdout+res.stderr, s.secret) {
						t.Fatalf("%q with the URL from the %s (json %v) shows the password:\n%s", cmd, how, json, res)
					}
				}
			}
		}
	}
	t.Logf("%d failing runs with %d passwords in %d commands: no password in any output", runs, len(secretURLs), len(commands))
}

// TestPasswordsNeverStored backs up a database metastore and restores into
// it, then looks for the database password everywhere: every file of the
// repository, every object decompressed (git cat-file --batch-all-objects),
// and the output of backup, log, show, verify and restore, with and without
// --json. It needs a test database (see crash_db_test.go).
func TestPasswordsNeverStored(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db testDatabase) {
		c := newCLI(t)
		dir := t.TempDir()
		repo := filepath.Join(dir, "snap.git")
		u, err := locate.ParseURL(db.url)
		if err != nil {
			t.Fatal(err)
		}
		secret := u.Get("password")
		if len(secret) < 4 {
			t.Skipf("the test database's password %q is too short to look for", strings.Repeat("*", len(secret)))
		}
		loadSampleJSON(t, db.store, filepath.Join(dir, "sample"))
		base := []string{"--metadata-url", db.url, "--repo", repo}
		var out bytes.Buffer
		for _, json := range []string{"", "--json"} {
			args := append([]string{"-q"}, base...)
			if json != "" {
				args = append(args, json)
			}
			for _, cmd := range [][]string{
				{"backup", "--tag", "db" + json}, {"backup-project", "default"}, {"log"}, {"show", "latest"},
				{"verify"}, {"restore", "latest"}, {"restore", "--dry-run", "latest"}, {"diff", "latest"},
			} {
				res := c.mustRun(append(args, cmd...)...)
				out.WriteString(res.stdout + res.stderr)
			}
		}
		if bytes.Contains(out.Bytes(), []byte(secret)) {
			t.Fatalf("the password shows in the output of a command")
		}
		files := 0
		err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the password is in %s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		objects := 0
		if git, err := exec.LookPath("git"); err == nil {
			data, err := exec.Command(git, "--git-dir", repo, "cat-file", "--batch-all-objects", "--batch").Output()
			if err != nil {
				t.Fatalf("git cat-file: %v", err)
			}
			objects = bytes.Count(data, []byte("\n")) // at least one line per object
			if bytes.Contains(data, []byte(secret)) {
				t.Fatalf("the password is in an object of the repository")
			}
		} else {
			t.Log("git not found: objects checked only through the files")
		}
		t.Logf("%s: password found in none of %d repository files, the decompressed objects (%d lines), nor %d bytes of output",
			db.name, files, objects, out.Len())
	})
}

// repoHolds returns where in repository repo any of secrets shows: its
// files as they are on disk, every object decompressed (git cat-file
// --batch-all-objects) and every commit message (git log --all), the
// recorded Metastore-Source trailer among them. Without git only the files
// are read.
func repoHolds(t *testing.T, repo string, secrets []string) []string {
	t.Helper()
	var found []string
	look := func(where string, data []byte) {
		for _, s := range secrets {
			if len(s) >= 3 && bytes.Contains(data, []byte(s)) {
				found = append(found, fmt.Sprintf("%q in %s", s, where))
			}
		}
	}
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		look(p, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Log("git not found: objects checked only through the files")
		return found
	}
	for _, args := range [][]string{{"cat-file", "--batch-all-objects", "--batch"}, {"log", "--all", "--format=%B"}} {
		out, err := exec.Command(git, append([]string{"--git-dir", repo}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %s: %v", args[0], err)
		}
		look("git "+args[0], out)
	}
	return found
}

// TestPasswordFormsNeverShown runs the commands that open a metastore with
// a metadata URL holding a password in each form package locate parses
// (locatetest.SecretForms: the password parameter plain, quoted, with
// commas and stray quotes; user:password@ before a PostgreSQL or MySQL
// host; ;password=, ?password= and &password= in the JDBC URL; encrypted
// passwords; malformed URLs), each with a password of its own, against a
// database that is not there (a closed port), from the flag, the
// environment and kylin.properties, with and without --json. Every command
// fails, and no piece of any password is in stdout, stderr, the output of
// log, verify, show and ls afterwards, or the repository.
func TestPasswordFormsNeverShown(t *testing.T) {
	t.Parallel()
	c, opening := newOpeningRig(t)
	dir, repo := c.dir, c.repo
	forms := locatetest.SecretForms()
	var all []string
	for _, f := range forms {
		all = append(all, f.Secrets...)
	}
	var runs atomic.Int64
	t.Run("forms", func(t *testing.T) {
		for i, f := range forms {
			t.Run(f.Name, func(t *testing.T) {
				t.Parallel()
				conf := filepath.Join(dir, fmt.Sprintf("conf%d", i))
				if err := os.MkdirAll(conf, 0o755); err != nil {
					t.Fatal(err)
				}
				prop := strings.ReplaceAll(f.URL, `\`, `\\`) // kylin.properties escapes backslashes
				if err := os.WriteFile(filepath.Join(conf, "kylin.properties"), []byte("kylin.metadata.url="+prop+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, cmd := range opening {
					for _, json := range []bool{false, true} {
						hows := []string{"flag"}
						if cmd[0] == "backup" && len(cmd) == 1 {
							hows = append(hows, "env", "kylin.properties")
						}
						for _, how := range hows {
							p, args := withURL(t, c.proc, repo, how, f.URL, conf, json)
							res := p.run(append(args, cmd...)...)
							runs.Add(1)
							if res.code == 0 {
								t.Fatalf("%q with the URL from the %s succeeded against a closed port:\n%s", cmd, how, res)
							}
							for _, s := range f.Secrets {
								if strings.Contains(res.stdout+res.stderr, s) {
									t.Fatalf("%q with the URL from the %s (json %v) shows %q:\n%s", cmd, how, json, s, res)
								}
							}
						}
					}
				}
			})
		}
	})
	var out strings.Builder
	for _, flags := range [][]string{{"-q"}, {"-q", "--json"}} {
		for _, cmd := range [][]string{{"log"}, {"verify"}, {"show", "good"}, {"ls", "good"}, {"history", "/UUID"}} {
			res := c.mustRun(append(append(flags, "--repo", repo), cmd...)...)
			out.WriteString(res.stdout + res.stderr)
		}
	}
	for _, s := range all {
		if strings.Contains(out.String(), s) {
			t.Errorf("log, verify, show, ls or history shows %q", s)
		}
	}
	for _, where := range repoHolds(t, repo, all) {
		t.Errorf("the repository holds a password: %s", where)
	}
	t.Logf("%d failing runs with %d password forms: no piece of a password in any output or in the repository", runs.Load(), len(forms))
}

// TestPasswordFormsUsedNeverStored backs up a database metastore with the
// database's password given in each form Kylin and its drivers accept
// (locatetest.LoginForms: the password parameter plain and quoted,
// user:password@ before the host, ;password=, ?password= and a quoted JDBC
// URL, a wrong password parameter where the URL's must take precedence):
// every form logs in, the recorded source masks the password, and neither
// the password nor the wrong one shows in the output of backup, log, show,
// verify, diff and restore (its safety snapshot records the target too),
// with and without --json, or in the repository.
func TestPasswordFormsUsedNeverStored(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db testDatabase) {
		c := newCLI(t)
		repo := filepath.Join(t.TempDir(), "snap.git")
		u, ju, user, pw, err := dbLogin(db.url)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) < 4 {
			t.Skipf("the test database's password %q is too short to look for", strings.Repeat("*", len(pw)))
		}
		if err := db.store.Write(context.Background(), metastore.Resource{Path: "/UUID", Data: []byte("0b5e9f1c-0000-4000-8000-000000000001"), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		if err := db.store.Write(context.Background(), metastore.Resource{Path: "/project/default.json", Data: []byte(`{"name":"default","realizations":[]}`), Timestamp: 2}); err != nil {
			t.Fatal(err)
		}
		const decoy = "Decoy-Pw-0815"
		forms := locatetest.LoginForms(u.Identifier, ju.Subprotocol, ju.Hosts[0], ju.Database, user, pw, decoy)
		var out strings.Builder
		for _, f := range forms {
			for _, flags := range [][]string{{"-q"}, {"-q", "--json"}} {
				for _, cmd := range [][]string{
					{"backup", "-m", f.Name}, {"log", "-n", "1"}, {"show", "latest"}, {"verify", "latest"},
					{"diff", "latest"}, {"restore", "--dry-run", "latest"}, {"restore", "latest"},
				} {
					args := append(append(flags, "--metadata-url", f.URL, "--repo", repo), cmd...)
					res := c.run(args...)
					if res.code != 0 {
						t.Fatalf("%s: metastore %s: %s", f.Name, strings.Join(cmd, " "), res)
					}
					out.WriteString(res.stdout + res.stderr)
				}
			}
			res := c.mustRun("--repo", repo, "--json", "log", "-n", "1")
			var log []struct {
				Source string `json:"source"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &log); err != nil || len(log) != 1 {
				t.Fatalf("log --json: %v\n%s", err, res.stdout)
			}
			if !strings.Contains(log[0].Source, "***") || !strings.Contains(log[0].Source, ju.Hosts[0]) || !strings.HasPrefix(log[0].Source, u.Identifier+"@jdbc,") {
				t.Errorf("%s: recorded source %q, want the metadata URL with the password masked", f.Name, log[0].Source)
			}
		}
		for _, s := range []string{pw, decoy} {
			if strings.Contains(out.String(), s) {
				t.Errorf("a password shows in the output of a command")
			}
		}
		for _, where := range repoHolds(t, repo, []string{pw, decoy}) {
			t.Errorf("the repository holds a password: %s", where)
		}
		t.Logf("%s: %d forms logged in; no password in %d bytes of output or the repository", db.name, len(forms), out.Len())
	})
}

// withURL returns the command line of c, for test t, given the metadata
// URL url the way how says: "flag" (--metadata-url), "env"
// (METASTORE_METADATA_URL) or "kylin.properties" (KYLIN_CONF=conf, whose
// kylin.properties names it); and its global arguments: -q, --repo repo,
// and --json if json.
func withURL(t *testing.T, c *proc, repo, how, url, conf string, json bool) (*proc, []string) {
	args := []string{"-q", "--repo", repo}
	env := slices.Clone(c.env)
	switch how {
	case "flag":
		args = append(args, "--metadata-url", url)
	case "env":
		env = append(env, "METASTORE_METADATA_URL="+url)
	case "kylin.properties":
		env = append(env, "KYLIN_CONF="+conf)
	}
	if json {
		args = append(args, "--json")
	}
	return &proc{t: t, path: c.path, env: env}, args
}
