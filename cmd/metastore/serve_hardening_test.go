package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/console"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// keAnswer is Kyligence's envelope as the console answers it.
type keAnswer struct {
	Code string `json:"code"`
	Data any    `json:"data"`
	Msg  string `json:"msg"`
}

func decodeKE(t *testing.T, body string) keAnswer {
	t.Helper()
	var a keAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return a
}

// TestConsoleRefusesRepositoryInsideMetastore: with the repository inside
// the folder metastore, the console's backups (its API and Kyligence's
// paths, at every level) and restore plans are refused as the command line
// refuses them (exit code 4: /api/v1 answers 409 with the CLI's --json
// error, byte for byte; Kyligence's paths 400 with code 999), before
// anything is written: no repository appears inside the metastore.
func TestConsoleRefusesRepositoryInsideMetastore(t *testing.T) {
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	copySample(t, meta, 0)
	before := readFolder(t, meta)
	repo := filepath.Join(meta, "backups.git")
	f := newServeFixtureAt(t, serveOptions{}, meta, repo)
	for _, tc := range []struct {
		cli        []string
		method     string
		path       string
		form       url.Values
		wantStatus int
	}{
		{[]string{"backup"}, "POST", "/api/v1/backup", url.Values{}, http.StatusConflict},
		{[]string{"backup-project", "default"}, "POST", "/api/v1/backup", url.Values{"scope": {"project/default"}}, http.StatusConflict},
		{[]string{"backup-cube", "ssb"}, "POST", "/api/v1/backup", url.Values{"scope": {"cube/ssb"}}, http.StatusConflict},
		{[]string{"restore", "latest", "--dry-run"}, "GET", "/api/v1/restore-plan?kind=system&ref=latest", nil, http.StatusConflict},
	} {
		want, code := f.cli(append([]string{"--json"}, tc.cli...)...)
		got, status := f.api(tc.method, tc.path, tc.form)
		if code != exitRefused || status != tc.wantStatus || !strings.Contains(got, "lies inside") || !strings.Contains(got, `"exit_code": 4`) {
			t.Errorf("%s %s: %d %s (the CLI exits %d); want %d and exit code 4 naming the overlap", tc.method, tc.path, status, got, code, tc.wantStatus)
		}
		if got != want {
			t.Errorf("%s %s differs from metastore --json %s:\napi: %s\ncli: %s", tc.method, tc.path, strings.Join(tc.cli, " "), got, want)
		}
	}
	for _, p := range []string{"/kylin/api/metastore/backup", "/kylin/api/metastore/backup?cube=ssb", "/kylin/api/projects/default/backup"} {
		body, status := f.api("POST", p, url.Values{})
		if a := decodeKE(t, body); status != http.StatusBadRequest || a.Code != "999" || !strings.Contains(a.Msg, "lies inside") {
			t.Errorf("POST %s: %d %s; want 400, code 999 naming the overlap", p, status, body)
		}
	}
	if _, err := os.Stat(repo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused backup created the repository %s inside the metastore (%v)", repo, err)
	}
	if diff := diffStates(readFolder(t, meta), before); diff != "" {
		t.Errorf("the metastore changed:\n%s", diff)
	}
}

// TestConsoleBackupChecks: the console's backups check what the command
// line checks, with the same exit codes: a message that is not one line of
// text is a usage error (400, exit code 2, from the API, a JSON body and
// the page's dialog), a Kylin 5 model alias that several projects use is a
// usage error listing the choices (Kyligence's path: 400; the API: 400 with
// exit code 2), and a failed first backup leaves no repository behind.
func TestConsoleBackupChecks(t *testing.T) {
	t.Run("message", func(t *testing.T) {
		f := newServeFixture(t, serveOptions{})
		const msg = "x\n\nMetastore-Kind: safety"
		want, code := f.cli("--json", "backup", "-m", msg)
		got, status := f.api("POST", "/api/v1/backup", url.Values{"message": {msg}})
		if code != exitUsage || status != http.StatusBadRequest || got != want || !strings.Contains(got, "one line") {
			t.Errorf("POST /api/v1/backup with a two-line message: %d %s\nthe CLI (exit %d): %s", status, got, code, want)
		}
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/backup", strings.NewReader(`{"scope": "system", "message": "a\u001b[2Jb"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"exit_code": 2`) {
			t.Errorf("POST /api/v1/backup (JSON) with a control character: %s %s", resp.Status, b)
		}
		// The page's dialog: the job fails naming the rule.
		body, status := f.api("POST", "/backup", url.Values{"scope": {"system"}, "message": {"two\nlines"}})
		if status != http.StatusAccepted {
			t.Fatalf("POST /backup: %d %s", status, body)
		}
		job := strings.SplitN(strings.SplitN(body, `/jobs/`, 2)[1], `/`, 2)[0]
		var page string
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
			if page, _ = f.api("GET", "/jobs/"+job, nil); strings.Contains(page, "job-result") {
				break
			}
		}
		if !strings.Contains(page, "one line of text") {
			t.Errorf("the backup job with a two-line message did not fail naming the rule:\n%s", page)
		}
		if _, err := os.Stat(f.repo); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("refused backups left the repository %s behind (%v)", f.repo, err)
		}
	})
	t.Run("ambiguous alias", func(t *testing.T) {
		kylin5, err := filepath.Abs("../../testdata/kylin5")
		if err != nil {
			t.Fatal(err)
		}
		f := newServeFixtureAt(t, serveOptions{}, kylin5, filepath.Join(t.TempDir(), "k5.git"))
		body, status := f.api("POST", "/kylin/api/metastore/backup?cube=m1", url.Values{})
		if a := decodeKE(t, body); status != http.StatusBadRequest || a.Code != "999" || !strings.Contains(a.Msg, "gc_test.m1") || !strings.Contains(a.Msg, "top_n.m1") {
			t.Errorf("Kyligence cube backup of an ambiguous alias: %d %s; want 400, code 999 listing the choices", status, body)
		}
		want, code := f.cli("--json", "backup-cube", "m1")
		got, status := f.api("POST", "/api/v1/backup", url.Values{"scope": {"cube/m1"}})
		if code != exitUsage || status != http.StatusBadRequest || got != want {
			t.Errorf("POST /api/v1/backup of an ambiguous alias: %d %s\nthe CLI (exit %d): %s", status, got, code, want)
		}
		if _, err := os.Stat(f.repo); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("failed first backups left the repository %s behind (%v)", f.repo, err)
		}
		body, status = f.api("POST", "/kylin/api/metastore/backup?cube=gc_test.m1", url.Values{})
		if a := decodeKE(t, body); status != http.StatusOK || a.Code != "000" {
			t.Errorf("Kyligence cube backup of PROJECT.alias: %d %s", status, body)
		}
	})
}

// TestConsoleDatabaseTimeout: the console opens a database metastore with
// the global --db-timeout, as every command does: against a server that
// accepts connections and never answers, a backup from the API or from
// Kyligence's path fails after about the timeout, naming the host and
// without the password, and the commands the console shows carry the
// setting. A timeout that is not positive is refused when serve starts.
func TestConsoleDatabaseTimeout(t *testing.T) {
	const secret = "Timeout-Pw-77"
	addr := metastoretest.SilentServer(t)
	dburl := "kylin_metadata@jdbc,url=jdbc:mysql://" + addr + "/kylin,username=kylin,password=" + secret
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }, metadataURL: dburl,
		repo: filepath.Join(t.TempDir(), "r.git"), dbTimeout: time.Second}
	cfg, _, err := e.consoleConfig(serveOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.Command, " --db-timeout 1s") {
		t.Errorf("the console's commands do not carry --db-timeout: %s", cfg.Command)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, con)
	for _, p := range []string{"/api/v1/backup", "/kylin/api/metastore/backup"} {
		start := time.Now()
		resp, err := http.Post(srv+p, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), addr) || !strings.Contains(string(b), "within 1s") {
			t.Errorf("POST %s against a silent database: %s %s\nwant 500 naming %s and the 1s timeout", p, resp.Status, b, addr)
		}
		if took > 15*time.Second {
			t.Errorf("POST %s against a silent database took %s, want about 1s", p, took)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("POST %s shows the password: %s", p, b)
		}
	}

	dir := t.TempDir()
	for _, args := range [][]string{{"--db-timeout", "-1s"}, {"--db-timeout=-5s"}} {
		var out, errb bytes.Buffer
		done := make(chan int, 1)
		go func() {
			done <- Main(append(append([]string{"metastore", "--metadata-url", dburl, "--repo", filepath.Join(dir, "r.git")}, args...), "serve", "--listen", "127.0.0.1:0"), &out, &errb, func(string) string { return "" })
		}()
		select {
		case code := <-done:
			if code != exitUsage || !strings.Contains(errb.String(), "db-timeout") {
				t.Errorf("serve with %q: exit %d, %q; want %d naming the flag", args, code, errb.String(), exitUsage)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("serve with %q did not refuse the setting: it is serving", args)
		}
	}
}

// newTestServer serves h on loopback for the test's duration and returns
// its URL.
func newTestServer(t *testing.T, h *console.Console) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); h.Wait() })
	return srv.URL
}
