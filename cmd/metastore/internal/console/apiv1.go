package console

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/scope"
)

// The /api/v1 handlers answer with the document the command line prints
// with --json for the same request (README, "/api/v1"): the parameters are
// the command's flags and arguments by name.

// apiLog: GET /api/v1/log?scope=&n=&no_safety=&instance= is log --json.
func (c *Console) apiLog(w http.ResponseWriter, r *http.Request) {
	list, err := c.env.Log(r.Context(), api.LogRequest{Scope: r.FormValue("scope"), N: intParam(r, "n", 0), NoSafety: boolParam(r, "no_safety"),
		Instance: r.FormValue("instance")})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Snapshots(list))
}

// apiShow: GET /api/v1/show?ref=R is show --json R; with &path=P it is
// show --json R:P, and with &raw=1 the resource's bytes themselves.
func (c *Console) apiShow(w http.ResponseWriter, r *http.Request) {
	ref, p := r.FormValue("ref"), r.FormValue("path")
	if ref == "" {
		c.failErr(w, r, api.Usagef("ref is required"))
		return
	}
	if p == "" {
		sum, err := c.env.Show(r.Context(), ref)
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, api.Summary(sum))
		return
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // as show REF:PATH reads it
	}
	in, res, err := c.env.ShowResource(r.Context(), ref, p)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if boolParam(r, "raw") {
		name := p[strings.LastIndexByte(p, '/')+1:]
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Content-Length", strconv.Itoa(len(res.Data)))
		w.Write(res.Data)
		return
	}
	writeJSON(w, http.StatusOK, api.Resource(in.ID, res))
}

// apiLs: GET /api/v1/ls?ref=R&prefix=P is ls --json R P; offset and limit
// cut a page out of the same list.
func (c *Console) apiLs(w http.ResponseWriter, r *http.Request) {
	ref := r.FormValue("ref")
	if ref == "" {
		c.failErr(w, r, api.Usagef("ref is required"))
		return
	}
	_, entries, err := c.env.Ls(r.Context(), ref, r.FormValue("prefix"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	out := api.Entries(entries)
	if off := intParam(r, "offset", 0); off > 0 {
		out = out[min(off, len(out)):]
	}
	if lim := intParam(r, "limit", 0); lim > 0 && lim < len(out) {
		out = out[:lim]
	}
	writeJSON(w, http.StatusOK, out)
}

// apiDiff: GET /api/v1/diff?a=A&b=B is diff --json A B (without b: A with
// the live metastore); project, cube, type, prefix, stat, name_only, ignore
// and no_default_ignore are its flags.
func (c *Console) apiDiff(w http.ResponseWriter, r *http.Request) {
	req := api.DiffRequest{A: r.FormValue("a"), B: r.FormValue("b"), Project: r.FormValue("project"), Cube: r.FormValue("cube"),
		Types: listParam(r, "type"), Prefix: r.FormValue("prefix"), Stat: boolParam(r, "stat"), NameOnly: boolParam(r, "name_only"),
		Ignore: api.IgnoreList(boolParam(r, "no_default_ignore"), listParam(r, "ignore"))}
	if req.A == "" {
		c.failErr(w, r, api.Usagef("a is required: the snapshot to compare (with b, or with the live metastore)"))
		return
	}
	d, err := c.env.Diff(r.Context(), req)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d.JSON())
}

// apiHistory: GET /api/v1/history?path=P (or ?project=P) is history --json;
// patch, ignore and no_default_ignore are its flags.
func (c *Console) apiHistory(w http.ResponseWriter, r *http.Request) {
	h, err := c.env.History(r.Context(), api.HistoryRequest{Path: r.FormValue("path"), Project: r.FormValue("project"),
		Patch: boolParam(r, "patch"), Ignore: api.IgnoreList(boolParam(r, "no_default_ignore"), listParam(r, "ignore"))})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.JSON())
}

// apiRestorePlan: GET /api/v1/restore-plan?kind=system|project|cube&ref=R
// (&project=P, &cube=C, &after_truncate, &allow_foreign) is restore,
// restore-project or restore-cube --dry-run --json.
func (c *Console) apiRestorePlan(w http.ResponseWriter, r *http.Request) {
	req, _, err := c.restoreRequest(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	req.DryRun = true
	res, err := c.env.Restore(r.Context(), req, nil)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.writeRestoreJSON(w, res)
}

// apiSchedule: GET /api/v1/schedule is the state of the scheduled backups
// (serve --schedule): the schedule, the next run, the last run and the last
// failure; {"enabled": false} without a schedule. The command line has no
// equivalent: the schedule lives in the running serve.
func (c *Console) apiSchedule(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, c.scheduleStatus())
}

// apiRestore: POST /api/v1/restore (the restore-plan parameters) is
// restore --json; only with serve --allow-restore.
func (c *Console) apiRestore(w http.ResponseWriter, r *http.Request) {
	req, ok := c.restoreToDo(w, r, "")
	if !ok {
		return
	}
	c.logf("API restore: %s", req.Command())
	res, err := c.env.Restore(r.Context(), req, nil)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.writeRestoreJSON(w, res)
}

// backupBody is the JSON body POST /api/v1/backup also accepts.
type backupBody struct {
	Scope           string   `json:"scope"`
	Message         string   `json:"message"`
	Tags            []string `json:"tags"`
	SkipIfUnchanged bool     `json:"skip_if_unchanged"`
	WithSegments    bool     `json:"with_segments"`
}

// apiBackup: POST /api/v1/backup with scope (system, project/P or cube/C),
// message, tag, skip_if_unchanged and with_segments, as form values or a
// JSON object, is backup, backup-project or backup-cube --json.
func (c *Console) apiBackup(w http.ResponseWriter, r *http.Request) {
	var b backupBody
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			c.failErr(w, r, api.Usagef("request body: %v", err))
			return
		}
	} else {
		b = backupBody{Scope: r.FormValue("scope"), Message: r.FormValue("message"), Tags: listParam(r, "tag"),
			SkipIfUnchanged: boolParam(r, "skip_if_unchanged"), WithSegments: boolParam(r, "with_segments")}
	}
	if b.Scope == "" {
		b.Scope = "system"
	}
	s, err := scope.Parse(b.Scope)
	if err != nil {
		c.failErr(w, r, api.UsageError{Msg: err.Error()})
		return
	}
	if b.WithSegments && s.Kind != scope.Cube {
		c.failErr(w, r, api.Usagef("with_segments applies to cube backups only"))
		return
	}
	c.logf("API backup of %s", s)
	res, err := c.env.Backup(r.Context(), api.BackupRequest{Scope: s, Message: b.Message, Tags: b.Tags,
		SkipIfUnchanged: b.SkipIfUnchanged, WithSegments: b.WithSegments}, nil)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res.JSON())
}
