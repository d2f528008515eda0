package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// The browser tests drive the console in a real browser: Debian's chromium,
// headless. They skip where no chromium is found, unless
// METASTORE_REQUIRE_BROWSER=1 (as .ci/run sets it). METASTORE_CHROMIUM names
// another browser binary; METASTORE_SCREENSHOTS a folder that keeps the
// screenshots (a temporary folder otherwise, named in the log).

// startBrowser starts a headless chromium with a fresh profile.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("METASTORE_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("METASTORE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium found and METASTORE_REQUIRE_BROWSER=1: install Debian's chromium package (or set METASTORE_CHROMIUM)")
		}
		t.Skip("no chromium found: install Debian's chromium package (or set METASTORE_CHROMIUM) to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		if os.Getenv("METASTORE_REQUIRE_BROWSER") != "1" && strings.Contains(err.Error(), "executable file not found") {
			t.Skipf("chromium did not start: %v", err)
		}
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// shooter keeps screenshots.
type shooter struct {
	t   *testing.T
	dir string
}

func newShooter(t *testing.T) *shooter {
	dir := os.Getenv("METASTORE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots in %s", abs)
	return &shooter{t: t, dir: abs}
}

func (s *shooter) shot(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "console-"+name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// tab opens a browser tab for one part of the test, with a deadline.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(func() { stop(); cancel() })
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// TestBrowser goes through the console as a person does: the three backup
// paths (System -> Backup, a project's and a cube's Actions -> Backup), each
// confirmed and followed to the dialog that names the repository and the
// snapshot; the snapshot browser; a diff; a history; a restore plan, and a
// restore behind its confirmation.
func TestBrowser(t *testing.T) {
	browser := startBrowser(t)
	shots := newShooter(t)
	f := newFixture(t, Config{AllowRestore: true})
	start := time.Now()

	// backupThrough confirms a Backup and returns the snapshot and the
	// restore command the final dialog names, checking that it names the
	// repository and stays until closed.
	backupThrough := func(t *testing.T, ctx context.Context, name string) (snapshot.Info, string) {
		do(t, ctx, visible("#confirm-backup"))
		shots.shot(ctx, name+"-confirm")
		do(t, ctx, click("#confirm-backup"), visible("#backup-result"))
		if repo := text(t, ctx, "#backup-result [data-field=repository]"); repo != f.repo {
			t.Errorf("the dialog names repository %q, want %q", repo, f.repo)
		}
		short := text(t, ctx, "#backup-result [data-field=snapshot]")
		cmd := text(t, ctx, "#backup-result [data-field=command]")
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(short) {
			t.Fatalf("the dialog names snapshot %q", short)
		}
		shots.shot(ctx, name)
		// The dialog stays until it is closed.
		do(t, ctx, chromedp.Sleep(300*time.Millisecond), visible("#backup-result"), click("#close-result"),
			chromedp.WaitNotVisible(chromedp.CSS("#backup-result")))
		return f.resolve(short), cmd
	}

	var system snapshot.Info
	t.Run("system backup", func(t *testing.T) {
		ctx := tab(t, browser)
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/system"), visible("#counts dl.typecounts"))
		if m := text(t, ctx, "[data-field=metastore]"); m != f.meta {
			t.Errorf("System page names metastore %q, want %q", m, f.meta)
		}
		do(t, ctx, click("#system-backup"))
		var cmd string
		system, cmd = backupThrough(t, ctx, "system-backup")
		if system.Scope != scope.SystemScope() {
			t.Errorf("System -> Backup recorded %s", system.Scope)
		}
		if want := "metastore restore " + system.ID.Short(); cmd != want {
			t.Errorf("restore command %q, want %q", cmd, want)
		}
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/system"), visible("#counts dl.typecounts"))
		shots.shot(ctx, "system")
	})
	// A project's and a cube's Actions -> Backup, from their pages.
	for _, tc := range []struct {
		name, page, row string
		scope           scope.Scope
		restore         string // the restore command, but for the snapshot id
	}{
		{"project", "projects", `tr[data-project="learn_kylin"] `, scope.ProjectScope("learn_kylin"), "metastore restore-project learn_kylin "},
		{"cube", "cubes", `tr[data-cube="kylin_sales_cube"] `, scope.CubeScope("kylin_sales_cube"), "metastore restore-cube learn_kylin "},
	} {
		t.Run(tc.name+" backup", func(t *testing.T) {
			ctx := tab(t, browser)
			do(t, ctx, chromedp.Navigate(f.srv.URL+"/"+tc.page), click(tc.row+"summary"), visible(tc.row+`button[data-action=backup]`))
			shots.shot(ctx, tc.page)
			do(t, ctx, click(tc.row+`button[data-action=backup]`))
			in, cmd := backupThrough(t, ctx, tc.name+"-backup")
			if in.Scope != tc.scope {
				t.Errorf("%s Actions -> Backup recorded %s", tc.name, in.Scope)
			}
			if want := tc.restore + in.ID.Short(); cmd != want {
				t.Errorf("restore command %q, want %q", cmd, want)
			}
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	// The cube changes in the live metastore; a second system backup.
	cube := filepath.Join(f.meta, "cube", "kylin_sales_cube.json")
	orig, _ := os.ReadFile(cube)
	changed := strings.Replace(string(orig), `"status" : "READY"`, `"status" : "DISABLED"`, 1)
	os.WriteFile(cube, []byte(changed), 0o644)
	second := f.backup("system")
	a, z := system.ID.Short(), second.ID.Short()

	t.Run("snapshots and browser", func(t *testing.T) {
		ctx := tab(t, browser)
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/snapshots"), visible("table.snapshots"))
		shots.shot(ctx, "snapshots")
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/snapshots/"+second.ID.String()), click(`summary[data-path="/cube"]`),
			visible(`a[data-path="/cube/kylin_sales_cube.json"]`), click(`a[data-path="/cube/kylin_sales_cube.json"]`),
			visible("#content"))
		if c := text(t, ctx, "#content"); !strings.Contains(c, `"name" : "kylin_sales_cube"`) || !strings.Contains(c, "DISABLED") {
			t.Errorf("resource content shown: %.200s", c)
		}
		shots.shot(ctx, "snapshot")
	})
	t.Run("diff", func(t *testing.T) {
		ctx := tab(t, browser)
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/diff"), chromedp.SetValue(chromedp.CSS("input[name=a]"), a),
			chromedp.SetValue(chromedp.CSS("input[name=b]"), z), click("#run-diff"), visible("#diff-result"))
		if c := text(t, ctx, "#diff-result [data-field=counts]"); c != "0 added, 1 modified, 0 touched, 0 deleted" {
			t.Errorf("diff counts %q", c)
		}
		ch := text(t, ctx, `.change[data-path="/cube/kylin_sales_cube.json"]`)
		if !strings.Contains(ch, "status") || !strings.Contains(ch, `"READY"`) || !strings.Contains(ch, `"DISABLED"`) {
			t.Errorf("the change does not show the field: %q", ch)
		}
		if st := text(t, ctx, "#diff-stat"); !strings.Contains(st, "cube") {
			t.Errorf("no per-type summary: %q", st)
		}
		shots.shot(ctx, "diff")
	})
	t.Run("history", func(t *testing.T) {
		ctx := tab(t, browser)
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/history"), chromedp.SetValue(chromedp.CSS("input[name=path]"), "/cube/kylin_sales_cube.json"),
			click("input[name=patch]"), click("#run-history"), visible("#history-result"))
		h := text(t, ctx, "#history-result")
		if !strings.Contains(h, z) || !strings.Contains(h, "DISABLED") || !strings.Contains(h, "console-test@test") {
			t.Errorf("history does not show the change, the snapshot and who took it: %.400s", h)
		}
		shots.shot(ctx, "history")
	})
	t.Run("restore plan and restore", func(t *testing.T) {
		ctx := tab(t, browser)
		do(t, ctx, chromedp.Navigate(f.srv.URL+"/restore?kind=project&project=learn_kylin&ref="+a), visible("#plan"))
		if c := text(t, ctx, "#restore-command"); c != "metastore restore-project learn_kylin "+a {
			t.Errorf("restore command %q", c)
		}
		if c := text(t, ctx, "#plan [data-field=counts]"); !strings.HasPrefix(c, "0 added, 1 changed, 0 deleted") {
			t.Errorf("plan counts %q", c)
		}
		shots.shot(ctx, "restore-plan")
		do(t, ctx, click("#restore-button"), visible("#confirm-restore"))
		if c := text(t, ctx, "#confirm-dialog"); !strings.Contains(c, "/cube/kylin_sales_cube.json") {
			t.Errorf("the confirmation does not repeat the plan: %.300s", c)
		}
		shots.shot(ctx, "restore-confirm")
		do(t, ctx, click("#confirm-restore"), visible("#restore-result"))
		safety := text(t, ctx, "#restore-result [data-field=safety]")
		if in := f.resolve(safety); in.Kind != snapshot.KindSafety {
			t.Errorf("the dialog names %s, a %s snapshot", safety, in.Kind)
		}
		if undo := text(t, ctx, "#restore-result [data-field=command]"); undo != "metastore restore-project learn_kylin "+safety+" --after-truncate" {
			t.Errorf("undo command %q", undo)
		}
		shots.shot(ctx, "restore-result")
		if now, _ := os.ReadFile(cube); string(now) != string(orig) {
			t.Error("the restore did not bring the cube back")
		}
	})
	t.Logf("browser walk-through took %v", time.Since(start).Round(time.Millisecond))
}
