package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/console"
	"github.com/kylin-tools/metastore/metastore/locate"
)

// serveFixture is a metastore, a repository, and the console serve would
// run on them with the same global flags as the command line.
type serveFixture struct {
	t      *testing.T
	meta   string
	repo   string
	getenv func(string) string
	srv    *httptest.Server
}

func newServeFixture(t *testing.T, o serveOptions) *serveFixture {
	t.Helper()
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	copySample(t, meta, 0)
	return newServeFixtureAt(t, o, meta, filepath.Join(dir, "snap.git"))
}

// newServeFixtureAt is newServeFixture on the metastore meta and the
// repository repo.
func newServeFixtureAt(t *testing.T, o serveOptions, meta, repo string) *serveFixture {
	t.Helper()
	f := &serveFixture{t: t, meta: meta, repo: repo}
	vars := map[string]string{"USER": "admin", "TZ": "UTC"}
	f.getenv = func(k string) string { return vars[k] }
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, getenv: f.getenv, metadataURL: f.meta, repo: f.repo}
	cfg, _, err := e.consoleConfig(o, "")
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(con)
	t.Cleanup(func() { f.srv.Close(); con.Wait() })
	return f
}

// cli runs the command line with the fixture's metastore and repository
// and returns its stdout and exit code.
func (f *serveFixture) cli(args ...string) (string, int) {
	f.t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"metastore", "-q", "--metadata-url", f.meta, "--repo", f.repo}, args...), &out, &errb, f.getenv)
	return out.String(), code
}

// api sends a request to the console's API and returns its body and status.
func (f *serveFixture) api(method, path string, form url.Values) (string, int) {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// TestAPIEqualsCLI asks the console's /api/v1 and the command line's --json
// the same questions and expects the same bytes.
func TestAPIEqualsCLI(t *testing.T) {
	f := newServeFixture(t, serveOptions{})
	out, code := f.cli("--json", "backup", "--tag", "before")
	if code != 0 {
		t.Fatalf("backup: %d %s", code, out)
	}
	f.cli("backup-project", "default")
	f.cli("backup-cube", "ssb")
	cube := filepath.Join(f.meta, "cube", "test_kylin_cube_with_slr_ready.json")
	data, err := os.ReadFile(cube)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(data, []byte(`"status" : "READY"`), []byte(`"status" : "DISABLED"`), 1)
	if bytes.Equal(changed, data) {
		t.Fatal("the sample cube is not READY")
	}
	os.WriteFile(cube, changed, 0o644)
	if _, code := f.cli("backup", "--tag", "after"); code != 0 {
		t.Fatal("second backup failed")
	}
	var dict string
	filepath.WalkDir(filepath.Join(f.meta, "dict"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && dict == "" {
			rel, _ := filepath.Rel(f.meta, p)
			dict = "/" + filepath.ToSlash(rel)
		}
		return nil
	})

	for _, tc := range []struct {
		cli  []string
		path string
		code int
	}{
		{[]string{"log"}, "/api/v1/log", 200},
		{[]string{"log", "--scope", "project/default", "-n", "1"}, "/api/v1/log?scope=project/default&n=1", 200},
		{[]string{"log", "--no-safety", "--scope", "system"}, "/api/v1/log?no_safety=1&scope=system", 200},
		{[]string{"log", "--scope", "galaxy/x"}, "/api/v1/log?scope=galaxy/x", 400},
		{[]string{"show", "before"}, "/api/v1/show?ref=before", 200},
		{[]string{"show", "after:/cube/ssb.json"}, "/api/v1/show?ref=after&path=/cube/ssb.json", 200},
		{[]string{"show", "after:" + dict}, "/api/v1/show?ref=after&path=" + url.QueryEscape(dict), 200},
		{[]string{"show", "nothing-like-it"}, "/api/v1/show?ref=nothing-like-it", 404},
		{[]string{"show", "after:/cube/none.json"}, "/api/v1/show?ref=after&path=/cube/none.json", 404},
		{[]string{"ls", "after", "/cube"}, "/api/v1/ls?ref=after&prefix=/cube", 200},
		{[]string{"ls", "project/default"}, "/api/v1/ls?ref=project/default", 200},
		{[]string{"diff", "before", "after"}, "/api/v1/diff?a=before&b=after", 200},
		{[]string{"diff", "before"}, "/api/v1/diff?a=before", 200},
		{[]string{"diff", "before", "--project", "default", "--stat"}, "/api/v1/diff?a=before&project=default&stat=1", 200},
		{[]string{"diff", "before", "after", "--type", "cube,cube_desc", "--prefix", "/cube", "--name-only"}, "/api/v1/diff?a=before&b=after&type=cube,cube_desc&prefix=/cube&name_only=1", 200},
		{[]string{"diff", "before", "after", "--no-default-ignore", "--ignore", "segments"}, "/api/v1/diff?a=before&b=after&no_default_ignore=1&ignore=segments", 200},
		{[]string{"diff", "cube/ssb"}, "/api/v1/diff?a=cube/ssb", 200},
		{[]string{"diff", "before", "--project", "default", "--cube", "ssb"}, "/api/v1/diff?a=before&project=default&cube=ssb", 400},
		{[]string{"history", "/cube/test_kylin_cube_with_slr_ready.json", "-p"}, "/api/v1/history?path=/cube/test_kylin_cube_with_slr_ready.json&patch=1", 200},
		{[]string{"history", "--project", "default"}, "/api/v1/history?project=default", 200},
		{[]string{"history", "/cube/none.json"}, "/api/v1/history?path=/cube/none.json", 404},
		{[]string{"restore", "--dry-run", "before"}, "/api/v1/restore-plan?kind=system&ref=before", 200},
		{[]string{"restore-project", "default", "before", "--dry-run", "--after-truncate"}, "/api/v1/restore-plan?kind=project&project=default&ref=before&after_truncate=1", 200},
		{[]string{"restore-cube", "default", "before", "--cube", "ssb", "--dry-run"}, "/api/v1/restore-plan?kind=cube&project=default&cube=ssb&ref=before", 200},
		{[]string{"restore-cube", "default", "cube/ssb", "--dry-run"}, "/api/v1/restore-plan?kind=cube&project=default&ref=cube/ssb", 200},
		{[]string{"restore-project", "nope", "before", "--dry-run"}, "/api/v1/restore-plan?kind=project&project=nope&ref=before", 404},
		{[]string{"restore", "project/default", "--dry-run"}, "/api/v1/restore-plan?kind=system&ref=project/default", 409},
	} {
		want, code := f.cli(append([]string{"--json"}, tc.cli...)...)
		got, status := f.api("GET", tc.path, nil)
		if status != tc.code {
			t.Errorf("GET %s: status %d, want %d (the CLI exits %d)\n%s", tc.path, status, tc.code, code, got)
		}
		if (code == 0) != (status == 200) {
			t.Errorf("%q exits %d but GET %s answers %d", tc.cli, code, tc.path, status)
		}
		if strings.Contains(tc.path, "a=before&b=after") && !strings.Contains(got, `"action"`) && !strings.Contains(got, `"modified": 1`) {
			t.Errorf("GET %s: no change found, the comparison proves little:\n%.400s", tc.path, got)
		}
		if got != want {
			t.Errorf("GET %s differs from metastore --json %s:\napi: %.600s\ncli: %.600s", tc.path, strings.Join(tc.cli, " "), got, want)
		}
	}

	// Snapshots of another instance (another /UUID), pushed to a remote by
	// its own repository and pulled into this one: log --instance selects
	// them, in the CLI and the API alike.
	other := filepath.Join(t.TempDir(), "meta2")
	copySample(t, other, 0)
	if err := os.WriteFile(filepath.Join(other, "UUID"), []byte("bbbbbbbb-2222-4222-8222-000000000002"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo2 := filepath.Join(t.TempDir(), "b.git")
	remote := bareRemote(t, filepath.Join(t.TempDir(), "remote.git"))
	for _, args := range [][]string{
		{"--metadata-url", other, "--repo", repo2, "backup"},
		{"--metadata-url", other, "--repo", repo2, "backup-project", "default"},
		{"--repo", repo2, "push", remote},
	} {
		var out, errb bytes.Buffer
		if code := Main(append([]string{"metastore", "-q"}, args...), &out, &errb, f.getenv); code != 0 {
			t.Fatalf("metastore %q: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
	}
	if out, code := f.cli("pull", remote); code != 0 {
		t.Fatalf("pull: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		cli  []string
		path string
		code int
		want int // snapshots listed
	}{
		{[]string{"log"}, "/api/v1/log", 200, 4},
		{[]string{"log", "--instance", "all"}, "/api/v1/log?instance=all", 200, 6},
		{[]string{"log", "--instance", "bbbb", "--scope", "system"}, "/api/v1/log?instance=bbbb&scope=system", 200, 1},
		{[]string{"log", "--instance", "bbbbbbbb-2222-4222-8222-000000000002", "-n", "1"}, "/api/v1/log?instance=bbbbbbbb-2222-4222-8222-000000000002&n=1", 200, 1},
		{[]string{"log", "--instance", "cccc"}, "/api/v1/log?instance=cccc", 404, -1},
	} {
		want, code := f.cli(append([]string{"--json"}, tc.cli...)...)
		got, status := f.api("GET", tc.path, nil)
		if status != tc.code {
			t.Errorf("GET %s: status %d, want %d (the CLI exits %d)\n%s", tc.path, status, tc.code, code, got)
		}
		if (code == 0) != (status == 200) {
			t.Errorf("%q exits %d but GET %s answers %d", tc.cli, code, tc.path, status)
		}
		if got != want {
			t.Errorf("GET %s differs from metastore --json %s:\napi: %.600s\ncli: %.600s", tc.path, strings.Join(tc.cli, " "), got, want)
		}
		if tc.want < 0 {
			continue
		}
		var list []struct {
			Instance   string `json:"instance"`
			PulledFrom string `json:"pulled_from"`
		}
		if err := json.Unmarshal([]byte(got), &list); err != nil || len(list) != tc.want {
			t.Errorf("GET %s: %d snapshots (%v), want %d:\n%.600s", tc.path, len(list), err, tc.want, got)
		}
		for _, s := range list {
			if pulled := s.Instance == "bbbbbbbb-2222-4222-8222-000000000002"; s.Instance == "" || pulled != (s.PulledFrom == "origin") {
				t.Errorf("GET %s: a snapshot of instance %q pulled from %q", tc.path, s.Instance, s.PulledFrom)
			}
		}
	}

	// Backups differ in id and time, and in what the repository already
	// held; the rest is the same document.
	want, code := f.cli("--json", "backup-project", "default", "-m", "from the CLI")
	got, status := f.api("POST", "/api/v1/backup", url.Values{"scope": {"project/default"}, "message": {"from the CLI"}})
	if code != 0 || status != 200 {
		t.Fatalf("backup: CLI %d, API %d %s", code, status, got)
	}
	if g, w := normalizeBackup(t, got), normalizeBackup(t, want); g != w {
		t.Errorf("POST /api/v1/backup differs from backup-project --json:\napi: %s\ncli: %s", g, w)
	}
	var doc map[string]any
	json.Unmarshal([]byte(got), &doc)
	if s := doc["snapshot"].(map[string]any); s["scope"] != "project/default" || s["message"] != "from the CLI" || s["author"] != want2author(want) {
		t.Errorf("API backup recorded %v", s)
	}
}

// normalizeBackup blanks what differs between two backups of the same
// content: ids, times, parent, duration, and what the repository held.
func normalizeBackup(t *testing.T, doc string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	for _, k := range []string{"seconds", "new_objects", "new_bytes", "packed_bytes", "unread_unchanged"} {
		m[k] = "X"
	}
	s := m["snapshot"].(map[string]any)
	for _, k := range []string{"id", "short_id", "parent", "time", "recorded"} {
		s[k] = "X"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func want2author(doc string) any {
	var m map[string]any
	json.Unmarshal([]byte(doc), &m)
	return m["snapshot"].(map[string]any)["author"]
}

// TestServeRefusesOpenListenWithoutToken: a console reachable from the
// network needs a token; loopback does not.
func TestServeRefusesOpenListenWithoutToken(t *testing.T) {
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	copySample(t, meta, 0)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "without authentication"},
		{[]string{"--listen", ":0"}, "without authentication"},
		{[]string{"--listen", "[::]:0"}, "without authentication"},
		{[]string{"--listen", "192.0.2.1:0"}, "without authentication"},
		{[]string{"--listen", "0.0.0.0:0", "--token-file", short}, "at least 16 characters"},
		{[]string{"--listen", "0.0.0.0:0", "--token-file", filepath.Join(dir, "missing")}, "--token-file"},
		{[]string{"--listen", "no-port"}, "--listen"},
	} {
		var out, errb bytes.Buffer
		done := make(chan int, 1)
		go func() {
			done <- Main(append([]string{"metastore", "--metadata-url", meta, "--repo", filepath.Join(dir, "r.git"), "serve"}, tc.args...), &out, &errb, getenv)
		}()
		select {
		case code := <-done:
			if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("serve %q: exit %d, %q; want %d naming %q", tc.args, code, errb.String(), exitUsage, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("serve %q did not refuse: it is serving", tc.args)
		}
	}

	// With a token the same address serves, and asks for the token.
	tokenFile := filepath.Join(dir, "token")
	const token = "serve-test-token-0123456789"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	for _, o := range []serveOptions{{listen: "0.0.0.0:0", tokenFile: tokenFile}, {listen: "localhost:0"}} {
		var errb bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &errb, getenv: getenv, metadataURL: meta, repo: filepath.Join(dir, "r.git")}
		ctx, cancel := context.WithCancel(context.Background())
		urls := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- e.serve(ctx, o, func(u string) { urls <- u }) }()
		var base string
		select {
		case base = <-urls:
		case err := <-done:
			t.Fatalf("serve %+v: %v", o, err)
		}
		// Reach it by loopback whatever it listens on.
		_, port, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"), "]:")
		if port == "" {
			port = base[strings.LastIndexByte(strings.TrimSuffix(base, "/"), ':')+1 : len(base)-1]
		}
		get := func(auth string) int {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/api/v1/log", nil)
			if auth != "" {
				req.Header.Set("Authorization", "Bearer "+auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if o.tokenFile != "" {
			if got := get(""); got != http.StatusUnauthorized {
				t.Errorf("serve %+v without the token: %d, want 401", o, got)
			}
			if got := get("wrong-token-wrong-token"); got != http.StatusUnauthorized {
				t.Errorf("serve %+v with a wrong token: %d, want 401", o, got)
			}
		}
		if got := get(token); got != http.StatusInternalServerError { // no repository yet: exit code 5
			t.Errorf("serve %+v with the token: %d, want the API's answer (500: no repository yet)", o, got)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve %+v ended with %v", o, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("serve %+v did not stop", o)
		}
		if !strings.Contains(errb.String(), "metastore console on http://") {
			t.Errorf("serve did not say where it listens: %q", errb.String())
		}
	}
}

// TestConsoleNeverShowsPasswords serves consoles over metadata URLs that
// hold passwords (databases that are not there) and reads every page and
// API answer, and what serve prints: no password anywhere.
func TestConsoleNeverShowsPasswords(t *testing.T) {
	dir := t.TempDir()
	paths := []string{"/system", "/system/counts", "/projects", "/cubes", "/snapshots", "/diff?a=latest", "/history?project=default",
		"/restore?kind=system&ref=latest", "/api/v1/log", "/api/v1/diff?a=latest", "/api/v1/restore-plan?kind=system",
		"/api/v1/show?ref=latest"}
	for _, s := range secretURLs {
		var stderr bytes.Buffer
		e := &env{stdout: &stderr, stderr: &stderr, getenv: func(string) string { return "" }, metadataURL: s.url, repo: filepath.Join(dir, "r.git")}
		cfg, desc, err := e.consoleConfig(serveOptions{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(desc+cfg.Command, s.secret) {
			t.Fatalf("%s: the console's description or command holds the password", locate.Mask(s.url))
		}
		con, err := console.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(con)
		var all strings.Builder
		all.WriteString(getAll(t, srv.URL, paths))
		for _, p := range []string{"/kylin/api/metastore/backup", "/api/v1/backup"} {
			resp, err := http.Post(srv.URL+p, "application/x-www-form-urlencoded", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			all.Write(b)
		}
		srv.Close()
		con.Wait()
		if strings.Contains(all.String()+stderr.String(), s.secret) {
			t.Fatalf("%s: an answer of the console shows the password", locate.Mask(s.url))
		}
		if !strings.Contains(all.String(), "127.0.0.1:1") {
			t.Errorf("%s: no answer names the unreachable database", locate.Mask(s.url))
		}
	}

	// A real database: the pages show its masked URL, never the password.
	eachDatabase(t, func(t *testing.T, db testDatabase) {
		u, _ := locate.ParseURL(db.url)
		secret := u.Get("password")
		if len(secret) < 4 {
			t.Skip("the test database's password is too short to look for")
		}
		loadSampleJSON(t, db.store, filepath.Join(t.TempDir(), "sample"))
		var stderr bytes.Buffer
		e := &env{stdout: &stderr, stderr: &stderr, getenv: func(string) string { return "" }, metadataURL: db.url, repo: filepath.Join(t.TempDir(), "r.git")}
		cfg, _, err := e.consoleConfig(serveOptions{}, "")
		if err != nil {
			t.Fatal(err)
		}
		con, err := console.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(con)
		defer func() { srv.Close(); con.Wait() }()
		var all strings.Builder
		resp, err := http.Post(srv.URL+"/kylin/api/projects/default/backup", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("project backup of the database: %s %s", resp.Status, b)
		}
		all.Write(b)
		all.WriteString(getAll(t, srv.URL, append(paths, "/snapshots/project%2Fdefault", "/api/v1/show?ref=project/default")))
		if strings.Contains(all.String()+stderr.String(), secret) {
			t.Fatal("an answer of the console shows the database password")
		}
		if !strings.Contains(all.String(), "password=***") {
			t.Error("no page names the database (masked)")
		}
	})
}

// TestSecretsOf finds the passwords Mask hides, for the console to scrub.
func TestSecretsOf(t *testing.T) {
	for _, s := range secretURLs {
		got := secretsOf(s.url, locate.Mask(s.url))
		if !slices.Contains(got, s.secret) {
			t.Errorf("%s: secrets %q, want %q among them", locate.Mask(s.url), got, s.secret)
		}
	}
	if got := secretsOf("/opt/kylin/meta", "/opt/kylin/meta"); got != nil {
		t.Errorf("a folder has secrets %q", got)
	}
	if got := secretsOf("k@jdbc,url=jdbc:mysql://h/db,username=u,password=abc", "k@jdbc,url=jdbc:mysql://h/db,username=u,password=***"); got != nil {
		t.Errorf("a 3-character password is scrubbed: %q (it would garble every page)", got)
	}
}

// getAll gets each of paths from the server at base and returns the bodies,
// one after the other.
func getAll(t *testing.T, base string, paths []string) string {
	t.Helper()
	var all strings.Builder
	for _, p := range paths {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		all.Write(b)
	}
	return all.String()
}
