package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// backupTarget is what a Backup button backs up: the scope, and for a cube
// the project it belongs to (for the restore command shown after).
type backupTarget struct {
	Scope      string
	Project    string
	Words      string
	Repository string
}

func (c *Console) backupTarget(r *http.Request) (backupTarget, scope.Scope, error) {
	raw := r.FormValue("scope")
	if raw == "" {
		raw = "system"
	}
	s, err := scope.Parse(raw)
	if err != nil {
		return backupTarget{}, s, api.UsageError{Msg: err.Error()}
	}
	return backupTarget{Scope: s.String(), Project: r.FormValue("project"), Words: scopeWords(s.String()), Repository: c.cfg.Repository}, s, nil
}

// backupConfirm is the dialog that asks before a backup.
func (c *Console) backupConfirm(w http.ResponseWriter, r *http.Request) {
	t, _, err := c.backupTarget(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.renderFragment(w, http.StatusOK, "backup-confirm", t)
}

type jobDialogData struct {
	ID    string
	Title string
}

type backupResultData struct {
	api.BackupJSON
	Words   string
	Command string
}

type jobErrorData struct {
	Title   string
	Message string
	// Safety and Undo: a restore that failed after saving the target's
	// state (api.RestoreFailed).
	Safety string
	Undo   string
}

// jobError describes a job's failure: for a restore that failed half-way,
// the error, the safety snapshot and the command that undoes it apart.
func (c *Console) jobError(title string, err error) jobErrorData {
	d := jobErrorData{Title: title, Message: c.errorText(err)}
	var f *api.RestoreFailed
	if errors.As(err, &f) {
		d.Message, d.Safety, d.Undo = c.errorText(f.Err), f.Safety.ID.Short(), c.scrub(f.Undo)
	}
	return d
}

// backupStart starts a backup and answers the dialog that follows its
// progress; the dialog ends naming the repository, the snapshot and the
// command that restores it.
func (c *Console) backupStart(w http.ResponseWriter, r *http.Request) {
	t, s, err := c.backupTarget(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	message, tags := strings.TrimSpace(r.FormValue("message")), strings.Fields(r.FormValue("tag"))
	title := "Backup of " + t.Words
	models := s.Kind == scope.Cube && c.models(r)
	j := c.jobs.start(title, func(ctx context.Context, j *job) template.HTML {
		c.logf("backup of %s started", s)
		b, err := c.env.Backup(ctx, api.BackupRequest{Scope: s, Message: message, Tags: tags, Model: models}, j)
		if err != nil {
			c.logf("backup of %s failed: %v", s, err)
			return c.fragmentHTML("job-error", c.jobError(title+" failed", err))
		}
		doc := b.JSON()
		c.logf("backup of %s saved as snapshot %s in %s", s, doc.Snapshot.Short, doc.Repository)
		restore := api.RestoreCommand(s, doc.Snapshot.Short, t.Project)
		if models {
			restore = strings.Replace(restore, "restore-cube", "restore-model", 1)
		}
		return c.fragmentHTML("backup-result", backupResultData{BackupJSON: doc, Words: t.Words, Command: c.command(restore)})
	})
	c.renderFragment(w, http.StatusAccepted, "job-dialog", jobDialogData{ID: j.id, Title: title})
}

// restoreForm is the restore page's form.
type restoreForm struct {
	Kind          string
	Project       string
	Cube          string
	Ref           string
	AfterTruncate bool
	AllowForeign  bool
}

// restoreRequest is restoreRequest for this console: on a Kylin 5
// metastore a cube is a model, and the commands shown say restore-model.
func (c *Console) restoreRequest(r *http.Request) (api.RestoreRequest, restoreForm, error) {
	req, f, err := restoreRequest(r)
	if err == nil && req.Kind == scope.Cube && !req.Model {
		req.Model = c.models(r)
	}
	return req, f, err
}

func restoreRequest(r *http.Request) (api.RestoreRequest, restoreForm, error) {
	f := restoreForm{Kind: r.FormValue("kind"), Project: strings.TrimSpace(r.FormValue("project")), Cube: strings.TrimSpace(r.FormValue("cube")),
		Ref: strings.TrimSpace(r.FormValue("ref")), AfterTruncate: boolParam(r, "after_truncate"), AllowForeign: boolParam(r, "allow_foreign")}
	if f.Ref == "" {
		f.Ref = snapshot.Latest
	}
	req := api.RestoreRequest{Ref: f.Ref, AfterTruncate: f.AfterTruncate, AllowForeign: f.AllowForeign}
	switch f.Kind {
	case "", "system":
		f.Kind, req.Kind = "system", scope.System
	case "project":
		req.Kind, req.Name = scope.Project, f.Project
	case "cube", "model":
		// "model" is Kylin 5's name: the CLI equivalent says restore-model.
		req.Kind, req.Project, req.Cube, req.Model = scope.Cube, f.Project, f.Cube, f.Kind == "model"
		f.Kind = "cube"
	default:
		return req, f, api.Usagef("kind must be system, project, cube or model (got %q)", f.Kind)
	}
	return req, f, nil
}

type restoreData struct {
	Form          restoreForm
	Projects      []string
	Planned       bool
	Plan          api.RestoreJSON // the plan's description; its items are in plan
	Items         []api.PlanItemJSON
	Unchanged     int
	ShowAll       bool
	Pager         pager
	Command       string
	DryRunCommand string
	Digest        string
	Error         string
	More          int // items the confirmation leaves out

	// plan is the dry run's plan, one item per resource in scope: only
	// the items shown become PlanItemJSON (a million for a big system).
	plan []snapshot.PlanItem
}

// confirmItems is how many resources a restore confirmation lists.
const confirmItems = 200

// planDigest identifies a plan: the restore runs only if its dry run still
// gives the plan the user confirmed.
// The items are hashed one at a time, never encoded as one document.
func planDigest(doc api.RestoreJSON, plan []snapshot.PlanItem) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.Encode([]any{doc.Snapshot.ID, doc.Scope, doc.Project, doc.Target, len(plan)})
	for _, it := range plan {
		enc.Encode(api.PlanItem(it))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// restorePage plans a restore (a dry run) and shows the plan and the
// command that carries it out.
func (c *Console) restorePage(w http.ResponseWriter, r *http.Request) {
	req, f, err := c.restoreRequest(r)
	d := restoreData{Form: f, ShowAll: boolParam(r, "all")}
	c.env.WithMetastore(r.Context(), func(st metastore.Store, _ string) error {
		d.Projects, _ = scope.Projects(r.Context(), st)
		return nil
	})
	if r.FormValue("kind") == "" && r.FormValue("ref") == "" {
		c.render(w, r, http.StatusOK, "restore", "Restore plan", d)
		return
	}
	if err == nil {
		err = c.plan(r.Context(), req, &d)
	}
	status := http.StatusOK
	if err != nil {
		status, d.Error = httpStatus(err), c.errorText(err)
	}
	if d.Planned {
		shown := func(it snapshot.PlanItem) bool { return d.ShowAll || it.Action != snapshot.Unchanged }
		total := 0
		for _, it := range d.plan {
			if shown(it) {
				total++
			}
		}
		d.Pager = newPager(r, total, planPerPage)
		lo, hi := d.Pager.bounds()
		k := 0
		for _, it := range d.plan {
			if !shown(it) {
				continue
			}
			if k >= lo && k < hi {
				d.Items = append(d.Items, api.PlanItem(it))
			}
			if k++; k >= hi {
				break
			}
		}
	}
	c.render(w, r, status, "restore", "Restore plan", d)
}

// plan runs the dry run of req into d.
func (c *Console) plan(ctx context.Context, req api.RestoreRequest, d *restoreData) error {
	req.DryRun = true
	res, err := c.env.Restore(ctx, req, nil)
	if err != nil {
		return err
	}
	d.Planned, d.Plan, d.plan = true, res.Document(), res.Result.Plan
	d.Unchanged = d.Plan.Counts[string(snapshot.Unchanged)]
	d.DryRunCommand = c.command(req.Command())
	req.DryRun = false
	d.Command = c.command(req.Command())
	d.Digest = planDigest(d.Plan, d.plan)
	return nil
}

// restoreConfirm is the dialog that repeats the plan before a restore.
func (c *Console) restoreConfirm(w http.ResponseWriter, r *http.Request) {
	if !c.restoreAllowed(w, r, ", or run the command shown") {
		return
	}
	req, f, err := c.restoreRequest(r)
	d := restoreData{Form: f}
	if err == nil {
		err = c.plan(r.Context(), req, &d)
	}
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, it := range d.plan {
		if it.Action != snapshot.Unchanged {
			if len(d.Items) == confirmItems {
				d.More++
				continue
			}
			d.Items = append(d.Items, api.PlanItem(it))
		}
	}
	c.renderFragment(w, http.StatusOK, "restore-confirm", d)
}

// restoreAllowed reports whether serve runs with --allow-restore; if not,
// it answers 403, suggesting what else to do (orElse: ", or ...").
func (c *Console) restoreAllowed(w http.ResponseWriter, r *http.Request, orElse string) bool {
	if c.cfg.AllowRestore {
		return true
	}
	c.fail(w, r, http.StatusForbidden, "restoring from the console is off: start serve with --allow-restore"+orElse)
	return false
}

// restoreToDo returns the restore the request asks for, if restoring is
// allowed and the request is sound; if not (ok false), it has answered.
func (c *Console) restoreToDo(w http.ResponseWriter, r *http.Request, orElse string) (req api.RestoreRequest, ok bool) {
	if !c.restoreAllowed(w, r, orElse) {
		return req, false
	}
	req, _, err := c.restoreRequest(r)
	if err != nil {
		c.failErr(w, r, err)
		return req, false
	}
	return req, true
}

type restoreResultData struct {
	api.RestoreJSON
	Changes  int
	Undo     string
	Words    string
	Reminder string
}

// restoreStart restores after the confirmation, if the plan is still the
// one confirmed, and answers the dialog that follows its progress; it ends
// naming the safety snapshot and the command that undoes the restore.
func (c *Console) restoreStart(w http.ResponseWriter, r *http.Request) {
	req, ok := c.restoreToDo(w, r, ", or run the command shown")
	if !ok {
		return
	}
	digest := r.FormValue("digest")
	what := "the whole metastore"
	switch req.Kind {
	case scope.Project:
		what = "project " + req.Name
	case scope.Cube:
		what = "a cube into project " + req.Project
	}
	title := "Restore of " + what
	j := c.jobs.start(title, func(ctx context.Context, j *job) template.HTML {
		fail := func(err error) template.HTML {
			c.logf("restore (%s) failed: %v", req.Command(), err)
			return c.fragmentHTML("job-error", c.jobError(title+" failed", err))
		}
		var d restoreData
		j.Start("checking the plan", -1)
		if err := c.plan(ctx, req, &d); err != nil {
			return fail(err)
		}
		j.Done()
		if d.Digest != digest {
			return fail(fmt.Errorf("%w: the plan changed since you confirmed it (the metastore or the snapshot moved); review it again", snapshot.ErrConflict))
		}
		c.logf("restore started: %s", req.Command())
		res, err := c.env.Restore(ctx, req, j)
		if err != nil {
			return fail(err)
		}
		doc := res.Document()
		out := restoreResultData{RestoreJSON: doc, Undo: res.UndoCommand(), Words: what, Reminder: api.ReloadReminder}
		out.Changes = doc.Counts[string(snapshot.Added)] + doc.Counts[string(snapshot.Changed)] + doc.Counts[string(snapshot.Deleted)]
		if doc.Safety != nil {
			c.logf("restore applied; safety snapshot %s; undo: %s", doc.Safety.Short, out.Undo)
		}
		return c.fragmentHTML("restore-result", out)
	})
	c.renderFragment(w, http.StatusAccepted, "job-dialog", jobDialogData{ID: j.id, Title: title})
}

// refOption is a snapshot offered in a reference picker.
type refOption struct {
	Value string
	Label string
}

// refOptions offers the newest snapshots and the tags as references.
func (c *Console) refOptions(ctx context.Context) []refOption {
	list, err := c.env.Log(ctx, api.LogRequest{N: 200})
	if err != nil {
		return nil
	}
	opts := []refOption{{Value: snapshot.Latest, Label: "the newest snapshot of the system"}}
	seen := map[string]bool{}
	for _, in := range list {
		for _, t := range in.Tags {
			if !seen[t] {
				seen[t] = true
				opts = append(opts, refOption{Value: t, Label: "tag: " + in.ID.Short() + " " + in.Scope.String()})
			}
		}
	}
	for _, in := range list {
		label := in.Time.Local().Format("2006-01-02 15:04") + " " + in.Scope.String() + " " + in.Message
		if in.Kind == snapshot.KindSafety {
			label += " [safety]"
		}
		opts = append(opts, refOption{Value: in.ID.Short(), Label: label})
	}
	return opts
}

type diffForm struct {
	A, B            string
	Project, Cube   string
	Type, Prefix    string
	Stat            bool
	NoDefaultIgnore bool
	Ignore          string
}

type diffData struct {
	Form    diffForm
	Refs    []refOption
	Done    bool
	Doc     api.DiffJSON
	Changes []snapshot.Change
	Pager   pager
	Command string
	Error   string
}

// diffPage compares two snapshots, or a snapshot and the live metastore,
// field by field, with a summary per type.
func (c *Console) diffPage(w http.ResponseWriter, r *http.Request) {
	f := diffForm{A: strings.TrimSpace(r.FormValue("a")), B: strings.TrimSpace(r.FormValue("b")),
		Project: strings.TrimSpace(r.FormValue("project")), Cube: strings.TrimSpace(r.FormValue("cube")),
		Type: strings.TrimSpace(r.FormValue("type")), Prefix: strings.TrimSpace(r.FormValue("prefix")),
		Stat: boolParam(r, "stat"), NoDefaultIgnore: boolParam(r, "no_default_ignore"), Ignore: strings.TrimSpace(r.FormValue("ignore"))}
	d := diffData{Form: f, Refs: c.refOptions(r.Context())}
	if f.A == "" {
		c.render(w, r, http.StatusOK, "diff", "Diff", d)
		return
	}
	req := api.DiffRequest{A: f.A, B: f.B, Project: f.Project, Cube: f.Cube, Prefix: f.Prefix, Stat: f.Stat,
		Ignore: api.IgnoreList(f.NoDefaultIgnore, []string{f.Ignore})}
	if f.Type != "" {
		req.Types = []string{f.Type}
	}
	d.Command = c.command(req.Command())
	res, err := c.env.Diff(r.Context(), req)
	if err != nil {
		d.Error = c.errorText(err)
		c.render(w, r, httpStatus(err), "diff", "Diff", d)
		return
	}
	d.Done, d.Doc = true, res.JSON()
	d.Pager, d.Changes = pageOf(r, d.Doc.Changes, changesPerPage)
	c.render(w, r, http.StatusOK, "diff", "Diff", d)
}

type historyForm struct {
	Path    string
	Project string
	Patch   bool
}

type historyData struct {
	Form     historyForm
	Projects []string
	Done     bool
	Doc      api.HistoryJSON
	Entries  []api.HistoryEntryJSON
	Pager    pager
	Command  string
	Error    string
}

// historyPage lists the snapshots in which a resource, or any resource of
// a project, changed: who took them, when, and what fields changed.
func (c *Console) historyPage(w http.ResponseWriter, r *http.Request) {
	f := historyForm{Path: strings.TrimSpace(r.FormValue("path")), Project: strings.TrimSpace(r.FormValue("project")), Patch: boolParam(r, "patch")}
	d := historyData{Form: f}
	c.env.WithMetastore(r.Context(), func(st metastore.Store, _ string) error {
		d.Projects, _ = scope.Projects(r.Context(), st)
		return nil
	})
	if f.Path == "" && f.Project == "" {
		c.render(w, r, http.StatusOK, "history", "History", d)
		return
	}
	req := api.HistoryRequest{Path: f.Path, Project: f.Project, Patch: f.Patch, Ignore: api.IgnoreList(false, nil)}
	if f.Path != "" && f.Project != "" {
		req.Project = "" // a resource's history, when both are given
	}
	d.Command = c.command(req.Command())
	h, err := c.env.History(r.Context(), req)
	if err != nil {
		d.Error = c.errorText(err)
		c.render(w, r, httpStatus(err), "history", "History", d)
		return
	}
	d.Done, d.Doc = true, h.JSON()
	d.Pager, d.Entries = pageOf(r, d.Doc.Entries, rowsPerPage)
	c.render(w, r, http.StatusOK, "history", "History", d)
}
