package console

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// TestKylinPaths drives Kyligence Enterprise's three backup paths and
// checks KE's envelope and the scope of the snapshot each one records.
func TestKylinPaths(t *testing.T) {
	f := newFixture(t, Config{})
	for _, tc := range []struct {
		path  string
		scope string
	}{
		{"/kylin/api/metastore/backup", "system"},
		{"/kylin/api/metastore/backup?cube=kylin_sales_cube", "cube/kylin_sales_cube"},
		{"/kylin/api/projects/learn_kylin/backup", "project/learn_kylin"},
	} {
		resp, body := f.do("POST", tc.path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s %s", tc.path, resp.Status, body)
		}
		var env map[string]any
		decodeJSON(t, body, &env)
		if len(env) != 3 || env["code"] != "000" || env["msg"] != "" {
			t.Errorf("POST %s: envelope %s, want code 000, data, empty msg", tc.path, body)
		}
		data, _ := env["data"].(string)
		m := regexp.MustCompile(`^(.*) \(snapshot ([0-9a-f]{12})\)$`).FindStringSubmatch(data)
		if m == nil || m[1] != f.repo {
			t.Fatalf("POST %s: data %q, want the repository %s and the snapshot", tc.path, data, f.repo)
		}
		if got := f.resolve(m[2]).Scope.String(); got != tc.scope {
			t.Errorf("POST %s recorded a snapshot of %s, want %s", tc.path, got, tc.scope)
		}
	}
	for _, tc := range []struct {
		path, msg string
	}{
		{"/kylin/api/projects/no_such_project/backup", "no_such_project"},
		{"/kylin/api/metastore/backup?cube=no_such_cube", "no_such_cube"},
		{"/kylin/api/metastore/backup?cube=", "cube"},
	} {
		resp, body := f.do("POST", tc.path, nil)
		var env map[string]any
		decodeJSON(t, body, &env)
		if resp.StatusCode != http.StatusBadRequest || env["code"] != "999" || env["data"] != nil || !strings.Contains(fmt.Sprint(env["msg"]), tc.msg) {
			t.Errorf("POST %s: %s %s, want 400 with code 999 and a message naming %q", tc.path, resp.Status, body, tc.msg)
		}
	}
	if resp, _ := f.do("GET", "/kylin/api/metastore/backup", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of a backup path: %s, want 405", resp.Status)
	}
}

// TestCrossSiteRequestsRefused checks that a state-changing request from
// another site gets 403 and records nothing, while the console's own pages
// and non-browser clients get through.
func TestCrossSiteRequestsRefused(t *testing.T) {
	f := newFixture(t, Config{})
	form := "scope=system"
	for _, tc := range []struct {
		name, method, path string
		header             []string
	}{
		{"fetch from another site", "POST", "/api/v1/backup", []string{"Sec-Fetch-Site", "cross-site"}},
		{"form from another site", "POST", "/backup", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}},
		{"old browser, other origin", "POST", "/api/v1/backup", []string{"Origin", "http://evil.example"}},
		{"Kyligence path from another site", "POST", "/kylin/api/metastore/backup", []string{"Sec-Fetch-Site", "same-site"}},
		{"restore plan confirmation", "POST", "/restore", []string{"Sec-Fetch-Site", "cross-site"}},
		{"login", "POST", "/login", []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		resp, body := f.do(tc.method, tc.path, strings.NewReader(form), tc.header...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s %s: %s, want 403\n%s", tc.name, tc.method, tc.path, resp.Status, body)
		}
	}
	if _, err := os.Stat(f.repo); !os.IsNotExist(err) {
		t.Fatalf("a refused request created the repository (%v)", err)
	}
	resp, body := f.do("POST", "/api/v1/backup", strings.NewReader(form), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("same-origin POST: %s %s", resp.Status, body)
	}
	resp, body = f.do("POST", "/kylin/api/metastore/backup", nil) // curl: no browser headers
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST without browser headers: %s %s", resp.Status, body)
	}
}

// TestHostChecked refuses a Host header that names another site (DNS
// rebinding) and accepts IP addresses, localhost and configured names.
func TestHostChecked(t *testing.T) {
	f := newFixture(t, Config{Hosts: []string{"kylin-node-3.example"}})
	port := f.srv.URL[strings.LastIndexByte(f.srv.URL, ':')+1:]
	for host, ok := range map[string]bool{
		"evil.example:" + port:           false,
		"evil.example":                   false,
		"127.0.0.1.evil.example":         false,
		"localhost.evil.example:" + port: false,
		"127.0.0.1:" + port:              true,
		"localhost:" + port:              true,
		"LOCALHOST":                      true,
		"console.localhost:" + port:      true,
		"[::1]:" + port:                  true,
		"10.1.2.3":                       true,
		"kylin-node-3.example:" + port:   true,
	} {
		for _, p := range []string{"/system", "/api/v1/log"} {
			resp, body := f.do("GET", p, nil, "Host", host)
			refused := resp.StatusCode == http.StatusForbidden && strings.Contains(body, "not allowed")
			if refused == ok {
				t.Errorf("Host %q, GET %s: %s, want allowed %v\n%.200s", host, p, resp.Status, ok, body)
			}
		}
	}
	resp, _ := f.do("POST", "/kylin/api/metastore/backup", nil, "Host", "evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with a foreign Host: %s, want 403", resp.Status)
	}
	if _, err := os.Stat(f.repo); !os.IsNotExist(err) {
		t.Fatalf("a refused request created the repository (%v)", err)
	}
}

// TestToken requires the token from every client, by bearer token, basic
// authentication or the login's cookie, and keeps cross-site requests out
// even with the cookie.
func TestToken(t *testing.T) {
	const token = "0123456789abcdef-console-token"
	f := newFixture(t, Config{Token: token})
	f.backup("system")

	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong-token-0123456789"}, {"Authorization", "Bearer"},
		{"Authorization", "Basic " + basic("ADMIN", "KYLIN")}, {"Cookie", sessionCookie + "=" + token}} {
		resp, body := f.do("GET", "/api/v1/log", nil, h...)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, `"exit_code"`) {
			t.Errorf("GET /api/v1/log with %v: %s %s, want 401 with the error document", h, resp.Status, body)
		}
	}
	resp, body := f.do("POST", "/kylin/api/metastore/backup", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"code": "999"`) {
		t.Errorf("Kyligence path without the token: %s %s", resp.Status, body)
	}
	f.get("/api/v1/log", "Authorization", "Bearer "+token)
	f.get("/api/v1/log", "Authorization", "Basic "+basic("ADMIN", token))
	resp, body = f.do("POST", "/kylin/api/projects/learn_kylin/backup", nil, "Authorization", "Basic "+basic("ADMIN", token))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"code": "000"`) {
		t.Errorf("Kyligence path with basic authentication: %s %s", resp.Status, body)
	}

	// A page redirects to the login, which sets a cookie.
	resp, _ = f.do("GET", "/system?x=1", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fsystem%3Fx%3D1" {
		t.Errorf("page without the token: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, _ = f.do("GET", "/snapshots", nil, "HX-Request", "true")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/login") {
		t.Errorf("htmx request without the token: %s, HX-Redirect %q", resp.Status, resp.Header.Get("HX-Redirect"))
	}
	if body := f.get("/login?next=/snapshots"); !strings.Contains(body, `name="token"`) {
		t.Errorf("login page has no token field")
	}
	resp, body = f.do("POST", "/login", strings.NewReader("token=wrong&next=/snapshots"), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "not the console") {
		t.Errorf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
	}
	resp, _ = f.do("POST", "/login", strings.NewReader("token="+url.QueryEscape(token)+"&next=//evil.example/x"), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/system" {
		t.Errorf("login redirect to another site: %s to %q, want /system", resp.Status, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, token) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not the token", ck)
	}
	cookie := []string{"Cookie", ck.Name + "=" + ck.Value}
	if body := f.get("/system", cookie...); !strings.Contains(body, "Sign out") {
		t.Errorf("signed-in page has no Sign out")
	}
	// CSRF: the cookie does not carry a cross-site POST.
	resp, _ = f.do("POST", "/api/v1/backup", strings.NewReader("scope=system"), append(cookie, "Sec-Fetch-Site", "cross-site")...)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST with the session cookie: %s, want 403", resp.Status)
	}
	resp, body = f.do("POST", "/api/v1/backup", strings.NewReader("scope=system"), append(cookie, "Sec-Fetch-Site", "same-origin")...)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("same-origin POST with the session cookie: %s %s", resp.Status, body)
	}
	resp, _ = f.do("POST", "/logout", nil, append(cookie, "Sec-Fetch-Site", "same-origin")...)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %s, cookies %v", resp.Status, resp.Cookies())
	}
	// The static files need no token (they are public anyway).
	f.get("/static/htmx.min.js")
}

func basic(user, pw string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pw)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestRestoreNeedsAllowRestore: without --allow-restore the console plans
// restores and writes nothing; with it, it restores and names the safety
// snapshot.
func TestRestoreNeedsAllowRestore(t *testing.T) {
	f := newFixture(t, Config{})
	snap := f.backup("project/learn_kylin")
	cube := filepath.Join(f.meta, "cube", "kylin_sales_cube.json")
	orig, err := os.ReadFile(cube)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(orig), `"status" : "READY"`, `"status" : "DISABLED"`, 1)
	if changed == string(orig) {
		t.Fatal("the sample cube is not READY")
	}
	os.WriteFile(cube, []byte(changed), 0o644)
	q := "kind=project&project=learn_kylin&ref=" + snap.ID.Short()

	var plan api.RestoreJSON
	decodeJSON(t, f.get("/api/v1/restore-plan?"+q), &plan)
	if !plan.DryRun || plan.Applied || plan.Counts["changed"] != 1 {
		t.Errorf("plan: dry run %v, applied %v, counts %v; want one change planned", plan.DryRun, plan.Applied, plan.Counts)
	}
	page := f.get("/restore?" + q)
	if !strings.Contains(page, "metastore restore-project learn_kylin "+snap.ID.Short()) || strings.Contains(page, `id="restore-button"`) {
		t.Errorf("restore page without --allow-restore: want the command and no Restore button")
	}
	for _, p := range []string{"/api/v1/restore", "/restore"} {
		resp, body := f.do("POST", p, strings.NewReader(q), "Sec-Fetch-Site", "same-origin")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "allow-restore") {
			t.Errorf("POST %s without --allow-restore: %s %s", p, resp.Status, body)
		}
	}
	if resp, _ := f.do("GET", "/restore/confirm?"+q, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("restore confirmation without --allow-restore: %s", resp.Status)
	}
	if now, _ := os.ReadFile(cube); string(now) != changed {
		t.Fatal("the metastore changed without --allow-restore")
	}

	g := newFixture(t, Config{AllowRestore: true})
	snap = g.backup("project/learn_kylin")
	cube = filepath.Join(g.meta, "cube", "kylin_sales_cube.json")
	os.WriteFile(cube, []byte(changed), 0o644)
	q = "kind=project&project=learn_kylin&ref=" + snap.ID.Short()
	if page := g.get("/restore?" + q); !strings.Contains(page, `id="restore-button"`) {
		t.Errorf("restore page with --allow-restore has no Restore button")
	}
	confirm := g.get("/restore/confirm?"+q, "HX-Request", "true")
	if !strings.Contains(confirm, "/cube/kylin_sales_cube.json") || !strings.Contains(confirm, `id="confirm-restore"`) {
		t.Errorf("the confirmation does not repeat the plan:\n%s", confirm)
	}
	var done api.RestoreJSON
	resp, body := g.do("POST", "/api/v1/restore", strings.NewReader(q), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/restore: %s %s", resp.Status, body)
	}
	decodeJSON(t, body, &done)
	if !done.Applied || done.Safety == nil || g.resolve(done.Safety.ID).Kind != snapshot.KindSafety {
		t.Errorf("restore: applied %v, safety %v", done.Applied, done.Safety)
	}
	if now, _ := os.ReadFile(cube); string(now) != string(orig) {
		t.Error("the restore did not bring the cube back")
	}
}

// TestBackupJob follows a backup started from a page through its
// server-sent events to the final dialog.
func TestBackupJob(t *testing.T) {
	f := newFixture(t, Config{AllowRestore: true})
	resp, body := f.do("POST", "/backup", strings.NewReader("scope=cube/kylin_sales_cube&project=learn_kylin&message=before+the+change&tag=cube-v1"),
		"Sec-Fetch-Site", "same-origin", "HX-Request", "true")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /backup: %s %s", resp.Status, body)
	}
	m := regexp.MustCompile(`sse-connect="/jobs/([0-9a-f]+)/events"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no event stream in the dialog:\n%s", body)
	}
	events := f.events("/jobs/" + m[1] + "/events")
	done := events["done"]
	if len(done) != 1 || len(events["progress"]) == 0 {
		t.Fatalf("events %v: want progress, then one done", events)
	}
	id := regexp.MustCompile(`data-field="snapshot"[^>]*>([0-9a-f]{12})<`).FindStringSubmatch(done[0])
	if id == nil || !strings.Contains(done[0], `data-field="repository">`+f.repo+`<`) {
		t.Fatalf("the final dialog does not name the repository and the snapshot:\n%s", done[0])
	}
	if in := f.resolve(id[1]); in.Scope != scope.CubeScope("kylin_sales_cube") || in.Message != "before the change" || strings.Join(in.Tags, ",") != "cube-v1" {
		t.Errorf("snapshot of %s (%q, tags %v), want the cube with the message and tag given", in.Scope, in.Message, in.Tags)
	}
	if !strings.Contains(done[0], "metastore restore-cube learn_kylin "+id[1]) {
		t.Errorf("the dialog lacks the restore command:\n%s", done[0])
	}
	// The job page shows the same result afterwards.
	if page := f.get("/jobs/" + m[1]); !strings.Contains(page, id[1]) {
		t.Errorf("job page lacks the snapshot")
	}

	// A restore whose plan changed after the confirmation is refused.
	f.backup("system")
	resp, body = f.do("POST", "/restore", strings.NewReader("kind=system&ref=latest&digest=0000"), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /restore: %s %s", resp.Status, body)
	}
	m = regexp.MustCompile(`/jobs/([0-9a-f]+)/events`).FindStringSubmatch(body)
	events = f.events("/jobs/" + m[1] + "/events")
	if len(events["done"]) != 1 || !strings.Contains(events["done"][0], "plan changed") {
		t.Errorf("restore with a stale plan: %v", events["done"])
	}
	list, err := f.env.Log(t.Context(), api.LogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		if in.Kind == snapshot.KindSafety {
			t.Errorf("a refused restore took safety snapshot %s", in.ID.Short())
		}
	}
	if resp, _ := f.do("GET", "/jobs/ffff/events", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown job: %s", resp.Status)
	}
}

// events reads a server-sent event stream to its end: the data of each
// event by name.
func (f *fixture) events(path string) map[string][]string {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		f.t.Fatalf("GET %s: %s, Content-Type %q", path, resp.Status, ct)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var name string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case line == "":
			out[name] = append(out[name], strings.Join(data, "\n"))
			name, data = "", nil
		}
	}
	return out
}

// TestPages renders every page, with and without parameters, and checks
// what each shows.
func TestPages(t *testing.T) {
	f := newFixture(t, Config{})
	if body := f.get("/snapshots"); !strings.Contains(body, "No backup yet") {
		t.Errorf("snapshots page before any backup")
	}
	if body := f.get("/system"); !strings.Contains(body, "No backup yet") || !strings.Contains(body, `id="system-backup"`) {
		t.Errorf("system page before any backup")
	}
	first := f.backup("system")
	cube := filepath.Join(f.meta, "cube", "kylin_sales_cube.json")
	b, _ := os.ReadFile(cube)
	os.WriteFile(cube, []byte(strings.Replace(string(b), `"status" : "READY"`, `"status" : "DISABLED"`, 1)), 0o644)
	second := f.backup("system")
	proj := f.backup("project/learn_kylin")
	a, z := first.ID.Short(), second.ID.Short()

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/system", []string{f.meta, z, "Backup"}},
		{"/system/counts", []string{"55 resources", "Kylin 2.x-4.x", "cube_desc"}},
		{"/projects", []string{`data-project="learn_kylin"`, `data-action="backup"`, proj.ID.Short()}},
		{"/projects?q=nothing-like-it", []string{"No project matches"}},
		{"/cubes", []string{`data-cube="kylin_sales_cube"`, "DISABLED", "READY", `data-action="backup"`, "learn_kylin"}},
		{"/snapshots", []string{a, z, "project/learn_kylin (1)", "system (2)"}},
		{"/snapshots?scope=project/learn_kylin", []string{proj.ID.Short()}},
		{"/snapshots/" + second.ID.String(), []string{"cube_desc/", "metastore show " + z, `data-path="/UUID"`}},
		{"/snapshots/" + z + "/tree?dir=/cube", []string{`data-path="/cube/kylin_sales_cube.json"`}},
		{"/snapshots/" + z + "/resource?path=/cube/kylin_sales_cube.json", []string{"DISABLED", "History of this resource"}},
		{"/diff", []string{`id="diff-form"`}},
		{"/diff?a=" + a + "&b=" + z, []string{"1 modified", "status", "&#34;READY&#34;", "&#34;DISABLED&#34;", "metastore diff " + a + " " + z}},
		{"/diff?a=" + a + "&stat=1", []string{"live metastore", "1 modified", `id="diff-stat"`}},
		{"/history?path=/cube/kylin_sales_cube.json&patch=1", []string{"2 changes", "modified", "DISABLED", "metastore history /cube/kylin_sales_cube.json -p"}},
		{"/history?project=learn_kylin", []string{"project learn_kylin", "metastore history --project learn_kylin"}},
		{"/restore", []string{`id="restore-form"`}},
		{"/restore?kind=system&ref=" + a, []string{"1 changed", "/cube/kylin_sales_cube.json", "metastore restore " + a + " --dry-run"}},
		{"/restore?kind=cube&project=learn_kylin&cube=kylin_sales_cube&ref=" + a + "&all=1", []string{"metastore restore-cube learn_kylin " + a + " --cube kylin_sales_cube", "unchanged"}},
		{"/restore?kind=model&project=learn_kylin&cube=kylin_sales_cube&ref=" + a + "&all=1", []string{"metastore restore-model learn_kylin " + a + " --model kylin_sales_cube", "unchanged"}},
	} {
		body := f.get(tc.path)
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
	}
	// A dictionary is binary: its header and first bytes are shown.
	var dict string
	filepath.WalkDir(filepath.Join(f.meta, "dict"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && dict == "" {
			dict = "/" + filepath.ToSlash(strings.TrimPrefix(p, f.meta+string(filepath.Separator)))
		}
		return nil
	})
	if body := f.get("/snapshots/" + z + "/resource?path=" + url.QueryEscape(dict)); !strings.Contains(body, "Binary content (dictionary)") || !strings.Contains(body, "source_table") {
		t.Errorf("dictionary %s: no header shown", dict)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/snapshots/0000aaaa", http.StatusNotFound, "snapshot not found"},
		{"/snapshots/" + z + "/resource?path=/cube/nothing.json", http.StatusNotFound, "no such resource"},
		{"/snapshots/" + z + "/tree?dir=/../etc", http.StatusBadRequest, "invalid resource path"},
		{"/diff?a=nothing-such", http.StatusNotFound, "snapshot not found"},
		{"/history?path=/cube/nothing.json", http.StatusNotFound, "no such resource"},
		{"/restore?kind=project&project=nope&ref=latest", http.StatusNotFound, "nope"},
		{"/restore?kind=galaxy", http.StatusBadRequest, "kind must be"},
		{"/api/v1/show?ref=" + z + "&path=/../../etc/passwd", http.StatusBadRequest, "invalid resource path"},
		{"/api/v2/log", http.StatusNotFound, "no API"},
		{"/jobs/abc", http.StatusNotFound, "no such job"},
	} {
		resp, body := f.do("GET", tc.path, nil)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %s, want %d with %q\n%.300s", tc.path, resp.Status, tc.status, tc.want, body)
		}
	}
	// Diff against a project snapshot covers the project only, as the CLI's.
	if body := f.get("/diff?a=" + proj.ID.Short()); !strings.Contains(body, "in project/learn_kylin") {
		t.Errorf("diff of a project snapshot is not limited to the project")
	}
	// Every answer carries the security headers.
	resp, _ := f.do("GET", "/system", nil)
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if resp.Header.Get(h) != want {
			t.Errorf("%s: %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

// TestPagesEscapeContent: a resource holding markup is shown as text.
func TestPagesEscapeContent(t *testing.T) {
	f := newFixture(t, Config{})
	os.WriteFile(filepath.Join(f.meta, "query", "evil.json"), []byte(`{"sql": "<script>alert(1)</script>"}`), 0o644)
	s := f.backup("system")
	body := f.get("/snapshots/" + s.ID.Short() + "/resource?path=/query/evil.json")
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
		t.Errorf("resource content not escaped:\n%s", body)
	}
}

// TestTreePages pages through a folder of 450 resources.
func TestTreePages(t *testing.T) {
	f := newFixture(t, Config{})
	dir := filepath.Join(f.meta, "execute_output")
	for i := range 450 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("job-%04d", i)), []byte(`{"status":"SUCCEED"}`), 0o644)
	}
	s := f.backup("system").ID.Short()
	total := 450 + 12
	seen := 0
	next := "/snapshots/" + s + "/tree?dir=%2Fexecute_output"
	for pages := 0; next != ""; pages++ {
		body := f.get(next)
		n := strings.Count(body, `<li class="file">`)
		if n > treePage {
			t.Fatalf("a page of %d entries", n)
		}
		seen += n
		m := regexp.MustCompile(`hx-get="([^"]*offset=(\d+))"`).FindStringSubmatch(body)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
			if m[2] != fmt.Sprint(seen) {
				t.Errorf("next page from %s, want %d", m[2], seen)
			}
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if seen != total {
		t.Errorf("%d entries over the pages, want %d", seen, total)
	}
}

// TestVendoredScripts checks the committed htmx files against the digests
// static/README.md records.
func TestVendoredScripts(t *testing.T) {
	readme, err := os.ReadFile("static/README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("\\| `([^`]+\\.js)` \\|.*\\| `([0-9a-f]{64})` \\|").FindAllStringSubmatch(string(readme), -1)
	if len(rows) != 2 {
		t.Fatalf("static/README.md lists %d scripts, want 2", len(rows))
	}
	for _, r := range rows {
		b, err := staticFS.ReadFile("static/" + r[1])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != r[2] {
			t.Errorf("%s: SHA-256 %s, README says %s", r[1], got, r[2])
		}
	}
	if !strings.Contains(string(readme), "2.0.11") {
		t.Error("README does not pin htmx 2.0.11")
	}
}

// TestSecretsScrubbed: no answer repeats a secret, even when an error
// message carries it.
func TestSecretsScrubbed(t *testing.T) {
	const secret = "Sup3r-s3cret!pw"
	f := newFixture(t, Config{Secrets: []string{secret}})
	f.backup("system")
	open := f.env.OpenMetastore
	f.env.OpenMetastore = func(ctx context.Context, create bool, schema string) (metastore.Store, string, error) {
		return nil, "", fmt.Errorf("dial tcp: password=%s refused", secret)
	}
	defer func() { f.env.OpenMetastore = open }()
	for _, p := range []string{"/system", "/system/counts", "/projects", "/cubes", "/diff?a=latest", "/restore?kind=system",
		"/api/v1/diff?a=latest", "/api/v1/restore-plan?kind=system"} {
		resp, body := f.do("GET", p, nil)
		if strings.Contains(body, secret) || !strings.Contains(body, "password=***") {
			t.Errorf("GET %s (%s) shows the secret or hides the error:\n%.400s", p, resp.Status, body)
		}
	}
	resp, body := f.do("POST", "/kylin/api/metastore/backup", nil)
	if strings.Contains(body, secret) || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("Kyligence backup with the database down: %s %s", resp.Status, body)
	}
}

// TestModelsNav checks that the navigation names the cubes page "Models" on
// a Kylin 5 metastore, and "Cubes" on Kylin 2.x-4.x.
func TestModelsNav(t *testing.T) {
	f := newFixture(t, Config{})
	if body := f.get("/system"); !strings.Contains(body, ">Cubes</a>") || strings.Contains(body, ">Models</a>") {
		t.Errorf("Kylin 4 metastore: the navigation should say Cubes")
	}
	f5 := newFixture(t, Config{})
	os.RemoveAll(f5.meta)
	if err := os.CopyFS(f5.meta, os.DirFS(filepath.Join("..", "..", "..", "..", "testdata", "kylin5"))); err != nil {
		t.Fatal(err)
	}
	body := f5.get("/cubes")
	if !strings.Contains(body, ">Models</a>") || strings.Contains(body, ">Cubes</a>") || !strings.Contains(body, "<h1>Models</h1>") {
		t.Errorf("Kylin 5 metastore: the navigation and the page should say Models")
	}
	if body := f5.get("/snapshots"); !strings.Contains(body, ">Models</a>") {
		t.Errorf("Kylin 5 metastore: every page's navigation should say Models")
	}
}

// TestModelsWording5: on a Kylin 5 metastore the console's pages say model
// and restore-model: the models page links a model's restore plan, the
// restore page's form and the commands it shows say model, as do the
// backup result's restore command and an unknown model's error.
func TestModelsWording5(t *testing.T) {
	f5 := newFixture(t, Config{})
	os.RemoveAll(f5.meta)
	if err := os.CopyFS(f5.meta, os.DirFS(filepath.Join("..", "..", "..", "..", "testdata", "kylin5"))); err != nil {
		t.Fatal(err)
	}
	body := f5.get("/cubes")
	if !strings.Contains(body, "/restore?cube=test_bank&amp;kind=model&amp;project=default") {
		t.Errorf("models page: the restore plan link of test_bank should ask for kind=model")
	}
	if _, err := f5.env.Backup(context.Background(), api.BackupRequest{Scope: scope.SystemScope()}, nil); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"cube", "model"} {
		body = f5.get("/restore?kind=" + kind + "&project=default&cube=test_bank&ref=latest")
		for _, want := range []string{"a model, into a project", ">Model <input", "metastore restore-model default latest --model test_bank"} {
			if !strings.Contains(body, want) {
				t.Errorf("restore page (kind=%s) lacks %q", kind, want)
			}
		}
		if strings.Contains(body, "restore-cube") || strings.Contains(body, "a cube, into") {
			t.Errorf("restore page (kind=%s) says cube on a Kylin 5 metastore", kind)
		}
	}
	resp, body := f5.do("GET", "/restore?kind=cube&project=default&cube=test_bnk&ref=latest", nil)
	if !strings.Contains(body, "model test_bnk") || strings.Contains(body, "cube test_bnk") || strings.Contains(body, "cube/test_bnk") {
		t.Errorf("restore page of an unknown model (%s) should say model:\n%.600s", resp.Status, body)
	}
}
