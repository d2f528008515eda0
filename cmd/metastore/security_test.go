package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/locate"
)

// TestRepositoryIsPrivate creates a repository and uses every command that
// writes to it (backup, backups of a project and a cube, tag, restore with
// its safety snapshot) under umask 000, the most permissive, and checks that
// the repository is private to its owner all the same: it holds the password
// hashes of Kylin's users. Every folder is 0700 and every file 0600.
func TestRepositoryIsPrivate(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	repo := filepath.Join(dir, "snap.git")
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

// TestPasswordsNeverShown runs every command that opens the metastore with
// a metadata URL holding a password, given on the command line, in the
// environment and in kylin.properties, with and without --json, against a
// database that is not there: the command fails, and the password is in
// neither its output nor its error.
func TestPasswordsNeverShown(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	repo := filepath.Join(dir, "snap.git")
	copySample(t, meta, 0)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup", "--tag", "good")
	commands := [][]string{
		{"backup"}, {"backup-project", "default"}, {"backup-cube", "ssb"},
		{"restore", "good"}, {"restore", "--dry-run", "good"}, {"restore-project", "default", "good"},
		{"restore-cube", "default", "good", "--cube", "ssb"}, {"diff", "good"},
	}
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
					args := []string{"-q", "--repo", repo}
					env := c.env
					switch how {
					case "flag":
						args = append(args, "--metadata-url", s.url)
					case "env":
						env = append(env, "METASTORE_METADATA_URL="+s.url)
					case "kylin.properties":
						env = append(env, "KYLIN_CONF="+conf)
					}
					if json {
						args = append(args, "--json")
					}
					p := &proc{t: t, path: c.path, env: env}
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
		st := copySample(t, filepath.Join(dir, "sample"), 0)
		tx, err := db.store.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range jsonOnly(st) {
			if err := tx.Write(context.Background(), metastore.Resource{Path: k, Data: []byte(v.data), Timestamp: v.ts}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
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
