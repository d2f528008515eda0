package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// runWithin runs the command line and kills it, failing the test, if it
// takes longer than limit.
func (c *proc) runWithin(limit time.Duration, args ...string) (result, time.Duration) {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("metastore %q still running after %s:\nstdout:\n%s\nstderr:\n%s", args, limit, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}, time.Since(start)
}

// TestDatabaseTimeout runs commands against database hosts that accept TCP
// connections and never answer (MySQL and PostgreSQL URLs), with a 1s
// timeout given by --db-timeout or METASTORE_DB_TIMEOUT: each fails with
// exit code 1 after about a second, naming the host, with the error under
// --json, and without the password; without the setting the JDBC URL's
// connectTimeout applies. A port where nothing listens fails at once. A
// timeout that is not a positive duration is a usage error (exit 2).
func TestDatabaseTimeout(t *testing.T) {
	t.Parallel()
	c := newRig(t)
	meta, repo := c.meta, c.repo
	copySample(t, meta, 0)
	c.mustRun("-q", "--metadata-url", meta, "--repo", repo, "backup", "--tag", "good")
	const secret = "Timeout-Pw-77"
	addr := metastoretest.SilentServer(t)
	for _, tc := range []struct {
		name, url string
		flags     []string
		env       string
	}{
		{"mysql --db-timeout", "kylin_metadata@jdbc,url=jdbc:mysql://" + addr + "/kylin,username=kylin,password=" + secret, []string{"--db-timeout", "1s"}, ""},
		{"postgres --db-timeout", "kylin_metadata@jdbc,url=jdbc:postgresql://kylin:" + secret + "@" + addr + "/kylin", []string{"--db-timeout=1s"}, ""},
		{"mariadb METASTORE_DB_TIMEOUT", "kylin_metadata@jdbc,url=jdbc:mariadb://" + addr + "/kylin;password=" + secret, nil, "METASTORE_DB_TIMEOUT=1s"},
		{"mysql connectTimeout", "kylin_metadata@jdbc,url=jdbc:mysql://" + addr + "/kylin?connectTimeout=1000,username=kylin,password=" + secret, nil, ""},
		{"postgres connectTimeout", `kylin_metadata@jdbc,url=jdbc:postgresql://` + addr + `/kylin?connectTimeout=1,password="` + secret + `"`, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &proc{t: t, path: c.path, env: c.env}
			if tc.env != "" {
				p.env = append(p.env, tc.env)
			}
			for _, cmd := range [][]string{{"backup"}, {"restore", "good"}, {"diff", "good"}} {
				for _, asJSON := range []bool{false, true} {
					args := append([]string{"-q", "--metadata-url", tc.url, "--repo", repo}, tc.flags...)
					if asJSON {
						args = append(args, "--json")
					}
					res, took := p.runWithin(30*time.Second, append(args, cmd...)...)
					if res.code != 1 || !strings.Contains(res.stderr, addr) || !strings.Contains(res.stderr, "did not let us connect and log in within 1s") {
						t.Fatalf("%s against a silent server: %s\nwant exit 1 and a message naming %s", cmd, res, addr)
					}
					if took < 900*time.Millisecond || took > 15*time.Second {
						t.Errorf("%s against a silent server took %s, want about 1s", cmd, took)
					}
					if strings.Contains(res.stdout+res.stderr, secret) {
						t.Errorf("%s shows the password:\n%s", cmd, res)
					}
					if asJSON {
						var out struct {
							Error    string `json:"error"`
							ExitCode int    `json:"exit_code"`
						}
						if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || out.ExitCode != 1 || !strings.Contains(out.Error, addr) {
							t.Errorf("%s --json: %v\n%s", cmd, err, res.stdout)
						}
					}
				}
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		closed := metastoretest.ClosedPort(t)
		p := &proc{t: t, path: c.path, env: c.env}
		for _, sub := range []string{"mysql", "postgresql"} {
			res, took := p.runWithin(30*time.Second, "-q", "--metadata-url", "kylin_metadata@jdbc,url=jdbc:"+sub+"://"+closed+"/kylin,username=kylin,password="+secret, "--repo", repo, "backup")
			if res.code != 1 || !strings.Contains(res.stderr, closed+" is down or unreachable") || strings.Contains(res.stderr, secret) {
				t.Errorf("%s backup against a closed port: %s\nwant exit 1 naming %s", sub, res, closed)
			}
			if took > 5*time.Second {
				t.Errorf("%s backup against a closed port took %s, want at once", sub, took)
			}
		}
	})
	t.Run("bad setting", func(t *testing.T) {
		t.Parallel()
		p := &proc{t: t, path: c.path, env: c.env}
		url := "kylin_metadata@jdbc,url=jdbc:mysql://" + addr + "/kylin,username=kylin,password=" + secret
		for _, args := range [][]string{{"--db-timeout", "-1s"}, {"--db-timeout", "soon"}} {
			res, _ := p.runWithin(30*time.Second, append(append([]string{"-q", "--metadata-url", url, "--repo", repo}, args...), "backup")...)
			if res.code != 2 || !strings.Contains(res.stderr, "db-timeout") {
				t.Errorf("%q: %s\nwant exit 2 naming the flag", args, res)
			}
		}
		p.env = append(p.env, "METASTORE_DB_TIMEOUT=-5s")
		res, _ := p.runWithin(30*time.Second, "-q", "--metadata-url", url, "--repo", repo, "backup")
		if res.code != 2 || !strings.Contains(res.stderr, "METASTORE_DB_TIMEOUT") {
			t.Errorf("METASTORE_DB_TIMEOUT=-5s: %s\nwant exit 2 naming the variable", res)
		}
	})
}
