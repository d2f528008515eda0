// Package console is the web console that metastore serve runs: pages for
// the system, its projects and cubes and the snapshots, backups at the three
// levels Kyligence's UI offers (with progress streamed as server-sent
// events), diff, history and restore plans, a JSON API under /api/v1 that
// answers exactly what the command line prints with --json, and Kyligence
// Enterprise's own backup REST paths.
//
// Every request is carried out by package api, as the command line carries
// it out: the handlers here only read parameters and render results. The
// pages are html/template with a vendored htmx (static/README.md).
//
// Security (see Config and security.go): loopback by default, a bearer
// token otherwise, the Host header checked against DNS rebinding, and every
// state-changing request checked by http.CrossOriginProtection.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
)

// Config sets up a console.
type Config struct {
	// Env carries out the requests (the metastore and repository of the
	// command's global flags). Env.Folders must be false, and
	// Env.CheckSeparate set (a backup or restore refuses a repository that
	// overlaps the metastore). Env.Command should complete commands as
	// Command does: the undo command of a restore comes from it.
	Env *api.Env
	// Repository is the repository's path, shown where backups go (it may
	// not exist before the first backup).
	Repository string
	// Command is how the command line is run against the same metastore
	// and repository ("metastore --repo /x/snapshots.git"): the prefix of
	// every command the console shows.
	Command string
	// AllowRestore lets the console restore (after a confirmation that
	// repeats the plan). Off, it only plans restores.
	AllowRestore bool
	// Token, if not empty, is required from every client: as a bearer token
	// (or the password of HTTP basic authentication), or entered once in
	// the login page, which sets a session cookie derived from it.
	Token string
	// Hosts are the host names the Host header may carry besides
	// "localhost", "*.localhost" and IP addresses (DNS rebinding defence).
	Hosts []string
	// Secrets are strings that must never appear in an answer (the
	// metastore's password): every error message is scrubbed of them.
	Secrets []string
	// Log receives one line per failed request and per job; nil for none.
	Log io.Writer
	// Context ends the console's background jobs when done (the server's
	// shutdown); context.Background() if nil.
	Context context.Context
	// Schedule, if not nil, tells the state of the scheduled backups
	// (serve --schedule), which the System page and GET /api/v1/schedule
	// show.
	Schedule func() schedule.Status
}

// Console is the console's HTTP handler.
type Console struct {
	cfg     Config
	env     *api.Env
	handler http.Handler
	pages   *pages
	jobs    *jobs
	logMu   sync.Mutex

	// nav remembers, for the navigation, whether the metastore is a Kylin 5
	// one (whose cubes are models); checked again after navTTL.
	navMu      sync.Mutex
	navModels  bool
	navChecked time.Time
}

// navTTL is how long the navigation trusts what it last saw of the
// metastore's layout.
const navTTL = 30 * time.Second

// New returns the console for cfg.
func New(cfg Config) (*Console, error) {
	if cfg.Env == nil {
		return nil, errors.New("console: no Env")
	}
	if cfg.Env.Folders {
		return nil, errors.New("console: Env.Folders must be off (no folder references from the web)")
	}
	if cfg.Env.CheckSeparate == nil {
		return nil, errors.New("console: Env.CheckSeparate must be set (a repository inside the metastore is refused)")
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Command == "" {
		cfg.Command = "metastore"
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, env: cfg.Env, pages: p, jobs: newJobs(cfg.Context)}
	mux := http.NewServeMux()
	c.routes(mux)
	c.handler = c.secure(mux)
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Wait waits for the background jobs (backups and restores started from
// the pages) to end.
func (c *Console) Wait() { c.jobs.wait() }

func (c *Console) routes(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)

	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/system", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /system", c.systemPage)
	mux.HandleFunc("GET /system/counts", c.systemCounts)
	mux.HandleFunc("GET /system/schedule", c.scheduleFragment)
	mux.HandleFunc("GET /projects", c.projectsPage)
	mux.HandleFunc("GET /cubes", c.cubesPage)
	mux.HandleFunc("GET /snapshots", c.snapshotsPage)
	mux.HandleFunc("GET /snapshots/{ref}", c.snapshotPage)
	mux.HandleFunc("GET /snapshots/{ref}/tree", c.treeFragment)
	mux.HandleFunc("GET /snapshots/{ref}/resource", c.resourcePage)
	mux.HandleFunc("GET /diff", c.diffPage)
	mux.HandleFunc("GET /history", c.historyPage)
	mux.HandleFunc("GET /restore", c.restorePage)
	mux.HandleFunc("GET /backup/confirm", c.backupConfirm)
	mux.HandleFunc("POST /backup", c.backupStart)
	mux.HandleFunc("GET /restore/confirm", c.restoreConfirm)
	mux.HandleFunc("POST /restore", c.restoreStart)
	mux.HandleFunc("GET /jobs/{id}", c.jobPage)
	mux.HandleFunc("GET /jobs/{id}/events", c.jobEvents)

	mux.HandleFunc("GET /api/v1/log", c.apiLog)
	mux.HandleFunc("GET /api/v1/show", c.apiShow)
	mux.HandleFunc("GET /api/v1/ls", c.apiLs)
	mux.HandleFunc("GET /api/v1/diff", c.apiDiff)
	mux.HandleFunc("GET /api/v1/history", c.apiHistory)
	mux.HandleFunc("GET /api/v1/restore-plan", c.apiRestorePlan)
	mux.HandleFunc("GET /api/v1/schedule", c.apiSchedule)
	mux.HandleFunc("POST /api/v1/backup", c.apiBackup)
	mux.HandleFunc("POST /api/v1/restore", c.apiRestore)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		c.apiError(w, r, http.StatusNotFound, api.Usagef("no API %s %s (see the README's /api/v1 section)", r.Method, r.URL.Path))
	})

	mux.HandleFunc("POST /kylin/api/metastore/backup", c.keSystemOrCubeBackup)
	mux.HandleFunc("POST /kylin/api/projects/{project}/backup", c.keProjectBackup)
}

// scrub removes the configured secrets from a message.
func (c *Console) scrub(msg string) string {
	for _, s := range c.cfg.Secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

// errorText is the message of err for an answer: scrubbed of secrets.
func (c *Console) errorText(err error) string { return c.scrub(err.Error()) }

func (c *Console) logf(format string, args ...any) {
	if c.cfg.Log == nil {
		return
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	fmt.Fprintf(c.cfg.Log, "%s %s\n", time.Now().Format(time.DateTime), c.scrub(fmt.Sprintf(format, args...)))
}

// command is the command line for args (a command as the api package
// writes it, "metastore restore ..."), with the console's global flags.
func (c *Console) command(cmd string) string {
	return c.cfg.Command + strings.TrimPrefix(cmd, "metastore")
}

// httpStatus maps an error to an HTTP status through its exit code.
func httpStatus(err error) int {
	if errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable
	}
	switch api.ExitCode(err) {
	case api.ExitUsage:
		return http.StatusBadRequest
	case api.ExitNotFound:
		return http.StatusNotFound
	case api.ExitRefused:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
