package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticHandler serves the vendored htmx, its SSE extension and the style
// sheet. Pages name them with their content's digest (asset), so a browser
// may keep them a day and still never uses a stale one after an upgrade.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

// asset is the URL of a static file, with its content's digest.
func asset(name string) (string, error) {
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "/static/" + name + "?v=" + hex.EncodeToString(sum[:6]), nil
}

// pages are the parsed templates: one set per page (the layout with the
// page's "content"), and the shared fragments.
type pages struct {
	base  *template.Template
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	// folderTime writes an imported folder's name time (Info.FolderTime,
	// no zone) as log and show do; "" when there is none.
	"folderTime": func(s string) string {
		t, err := time.Parse("2006-01-02T15:04:05", s)
		if err != nil {
			return ""
		}
		return t.Format(time.DateTime)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05 MST")
	},
	// at writes a time (or *time.Time) of the schedule in its own zone; a
	// dash for none.
	"at": func(v any) string {
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case *time.Time:
			if x != nil {
				t = *x
			}
		}
		if t.IsZero() {
			return "—"
		}
		return t.Format("2006-01-02 15:04:05 MST")
	},
	"ms": func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05.000")
	},
	"bytes": api.HumanBytes,
	"add":   func(a, b int) int { return a + b },
	"json":  func(v json.RawMessage) string { return string(v) },
	"join":  strings.Join,
	"num":   func(n any) string { return groupDigits(fmt.Sprint(n)) },
	// link builds a URL: link "/diff" "a" ID "b" "" drops empty values.
	"link": func(base string, kv ...any) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v := fmt.Sprint(kv[i+1])
			if v != "" && v != "false" && v != "0" {
				q.Add(fmt.Sprint(kv[i]), v)
			}
		}
		if len(q) == 0 {
			return template.URL(base)
		}
		return template.URL(base + "?" + q.Encode())
	},
	"pathEscape": url.PathEscape,
	"asset":      asset,
	"dir":        path.Dir,
	"scopeWords": scopeWords,
	// modifier shows a modifier field's value, with the time of a
	// millisecond timestamp, as history does on the command line.
	"modifier": func(field, value string) string {
		if field == "last_modified" || field == "config_last_modified" {
			if ms, err := strconv.ParseInt(value, 10, 64); err == nil && ms > 0 {
				return value + " (" + time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05.000") + ")"
			}
		}
		return value
	},
	// restoreLink is the restore plan of a snapshot at its own scope.
	"restoreLink": func(s api.SnapshotJSON) template.URL {
		kind, name, _ := strings.Cut(s.Scope, "/")
		q := url.Values{"kind": {kind}, "ref": {s.Short}}
		switch kind {
		case "project":
			q.Set("project", name)
		case "cube":
			q.Set("cube", name)
		}
		return template.URL("/restore?" + q.Encode())
	},
}

func loadPages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/page_*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{base: base, pages: map[string]*template.Template{}}
	for _, n := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(templateFS, n); err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(n), "page_"), ".html")
		p.pages[name] = t
	}
	return p, nil
}

// fragment renders a shared fragment (templates/parts.html).
func (p *pages) fragment(w io.Writer, name string, data any) error {
	return p.base.ExecuteTemplate(w, name, data)
}

// view is what the layout renders around a page.
type view struct {
	Title string
	Nav   string
	// Models names the cubes page "Models" (a Kylin 5 metastore).
	Models       bool
	Page         any
	Auth         bool
	AllowRestore bool
	Repository   string
}

// navOf names the navigation link a page belongs to.
func navOf(name string) string {
	switch name {
	case "system", "projects", "cubes":
		return name
	case "snapshots", "snapshot", "resource":
		return "snapshots"
	case "diff", "history", "restore":
		return name
	}
	return ""
}

// render writes page name with the layout, or its error.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t := c.pages.pages[name]
	if t == nil {
		c.fail(w, r, http.StatusInternalServerError, "no page "+name)
		return
	}
	var b bytes.Buffer
	v := view{Title: title, Nav: navOf(name), Page: data, Auth: c.cfg.Token != "", AllowRestore: c.cfg.AllowRestore, Repository: c.cfg.Repository,
		Models: c.models(r)}
	c.writeHTML(w, status, name, &b, t.ExecuteTemplate(&b, "layout", v))
}

// renderFragment writes a shared fragment (an htmx answer).
func (c *Console) renderFragment(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	c.writeHTML(w, status, name, &b, c.pages.fragment(&b, name, data))
}

// writeHTML answers with the page or fragment name, rendered into b, or
// with an internal error if rendering it failed (err).
func (c *Console) writeHTML(w http.ResponseWriter, status int, name string, b *bytes.Buffer, err error) {
	if err != nil {
		c.logf("render %s: %v", name, err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fragmentHTML renders a shared fragment into a string (a job's result).
func (c *Console) fragmentHTML(name string, data any) template.HTML {
	var b bytes.Buffer
	if err := c.pages.fragment(&b, name, data); err != nil {
		c.logf("render %s: %v", name, err)
		return template.HTML("<p class=\"error\">internal error rendering the result</p>")
	}
	return template.HTML(b.String())
}

// fail answers a failed request in the form its client reads: the
// API's error document, Kyligence's envelope, an htmx fragment or a page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	msg = c.scrub(msg)
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		writeJSON(w, status, api.ErrorJSON{Error: msg, ExitCode: exitCodeOf(status)})
	case strings.HasPrefix(r.URL.Path, "/kylin/"):
		writeJSON(w, status, keEnvelope{Code: keFailure, Msg: msg})
	case r.Header.Get("HX-Request") != "":
		c.renderFragment(w, status, "error-dialog", msg)
	default:
		c.render(w, r, status, "error", http.StatusText(status), msg)
	}
}

// failErr answers a failed request with err's message and status.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := httpStatus(err)
	if status >= 500 {
		c.logf("%s %s: %v", r.Method, r.URL.RequestURI(), err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		c.apiError(w, r, status, err)
		return
	}
	c.fail(w, r, status, err.Error())
}

// apiError answers the command line's --json error document for err
// (api.Error: with a failed restore's safety snapshot and undo command).
func (c *Console) apiError(w http.ResponseWriter, r *http.Request, status int, err error) {
	j := api.Error(err, api.ExitCode(err))
	j.Error, j.Undo = c.scrub(j.Error), c.scrub(j.Undo)
	writeJSON(w, status, j)
}

func exitCodeOf(status int) int {
	switch status {
	case http.StatusBadRequest:
		return api.ExitUsage
	case http.StatusNotFound:
		return api.ExitNotFound
	case http.StatusConflict, http.StatusUnauthorized, http.StatusForbidden:
		return api.ExitRefused
	}
	return api.ExitFailure
}

// writeJSON writes v as the command line's --json prints it: indented by
// two spaces, with a final newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// writeRestoreJSON answers a restore's document as writeJSON would, but
// writes the plan an item at a time (api.Restore.WriteJSON): a plan of a
// million resources is a document of 192 MB. The answer has begun when
// the document fails (a client gone): the failure is logged.
func (c *Console) writeRestoreJSON(w http.ResponseWriter, res *api.Restore) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if err := res.WriteJSON(w); err != nil {
		c.logf("restore document not sent whole: %v", err)
	}
}

// groupDigits writes 100000 as 100,000.
func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if _, err := strconv.ParseUint(s, 10, 64); err != nil || len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 && !(neg && b.Len() == 1) {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// models reports whether the metastore has Kylin 5's models rather than
// cubes, for the navigation: what a page last saw, or, after navTTL, what a
// quick look says (what was known before if the metastore cannot be read).
func (c *Console) models(r *http.Request) bool {
	c.navMu.Lock()
	defer c.navMu.Unlock()
	if time.Since(c.navChecked) < navTTL {
		return c.navModels
	}
	c.navChecked = time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	c.env.WithMetastore(ctx, func(st metastore.Store, _ string) error {
		layout, err := scope.DetectLayout(ctx, st)
		if err == nil {
			c.navModels = layout != scope.Layout4
		}
		return err
	})
	return c.navModels
}

// sawLayout records what a page saw of the metastore's layout.
func (c *Console) sawLayout(layout scope.Layout) {
	c.navMu.Lock()
	c.navModels, c.navChecked = layout != scope.Layout4, time.Now()
	c.navMu.Unlock()
}
