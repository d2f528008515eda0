package console

import (
	"context"
	"encoding/hex"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// Page sizes: what a page shows at most, whatever the metastore's size.
const (
	rowsPerPage    = 50
	changesPerPage = 50
	treePage       = 200
	planPerPage    = 100
	newestOnSystem = 8
	maxShownBytes  = 2 << 20
)

type systemData struct {
	Metastore    string
	MetastoreErr string
	Repository   string
	Snapshots    []api.SnapshotJSON
	LogErr       string
	Schedule     schedule.Status
}

func (c *Console) systemPage(w http.ResponseWriter, r *http.Request) {
	d := systemData{Repository: c.cfg.Repository, Schedule: c.scheduleStatus()}
	err := c.env.WithMetastore(r.Context(), func(_ metastore.Store, desc string) error {
		d.Metastore = desc
		return nil
	})
	if err != nil {
		d.MetastoreErr = c.errorText(err)
	}
	list, err := c.env.Log(r.Context(), api.LogRequest{N: newestOnSystem})
	switch {
	case api.ExitCode(err) == api.ExitRepo && strings.Contains(err.Error(), "no snapshot repository"):
		d.LogErr = "No backup yet: the first one creates the repository."
	case err != nil:
		d.LogErr = c.errorText(err)
	}
	d.Snapshots = api.Snapshots(list)
	c.render(w, r, http.StatusOK, "system", "System", d)
}

// scheduleStatus is the state of the scheduled backups; not Enabled when
// serve runs without --schedule.
func (c *Console) scheduleStatus() schedule.Status {
	if c.cfg.Schedule == nil {
		return schedule.Status{}
	}
	return c.cfg.Schedule()
}

// scheduleFragment is the System page's schedule panel alone (it reloads
// itself).
func (c *Console) scheduleFragment(w http.ResponseWriter, r *http.Request) {
	c.renderFragment(w, http.StatusOK, "schedule", c.scheduleStatus())
}

type countsData struct {
	Layout string
	Total  int
	Types  []snapshot.TypeCount
}

// systemCounts counts the live metastore's resources per type (a fragment
// the System page loads after it is shown: it lists every key).
func (c *Console) systemCounts(w http.ResponseWriter, r *http.Request) {
	var d countsData
	err := c.env.WithMetastore(r.Context(), func(st metastore.Store, _ string) error {
		layout, err := scope.DetectLayout(r.Context(), st)
		if err != nil {
			return err
		}
		d.Layout = map[scope.Layout]string{scope.Layout4: "Kylin 2.x-4.x", scope.Layout5: "Kylin 5", scope.LayoutTyped: "Kylin 5 (one table per metadata type)"}[layout]
		c.sawLayout(layout)
		n := map[string]int{}
		err = st.List(r.Context(), "/", func(p string) error {
			n[scope.TypeOf(p)]++
			d.Total++
			return nil
		})
		for t, k := range n {
			d.Types = append(d.Types, snapshot.TypeCount{Type: t, Resources: k})
		}
		sort.Slice(d.Types, func(i, j int) bool { return d.Types[i].Type < d.Types[j].Type })
		return err
	})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.renderFragment(w, http.StatusOK, "counts", d)
}

// latestByScope maps each scope to its newest snapshot other than a safety
// snapshot.
func (c *Console) latestByScope(ctx context.Context) (map[string]api.SnapshotJSON, error) {
	list, err := c.env.Log(ctx, api.LogRequest{NoSafety: true})
	if err != nil {
		if api.ExitCode(err) == api.ExitRepo {
			return map[string]api.SnapshotJSON{}, nil // no repository yet
		}
		return nil, err
	}
	m := map[string]api.SnapshotJSON{}
	for _, in := range list {
		if _, ok := m[in.Scope.String()]; !ok {
			m[in.Scope.String()] = api.Snapshot(in)
		}
	}
	return m, nil
}

type projectRow struct {
	Name   string
	Latest *api.SnapshotJSON
}

type listData[T any] struct {
	Query  string
	Rows   []T
	Pager  pager
	Models bool // Kylin 5: cubes are models
}

func (c *Console) projectsPage(w http.ResponseWriter, r *http.Request) {
	var names []string
	err := c.env.WithMetastore(r.Context(), func(st metastore.Store, _ string) error {
		var err error
		names, err = scope.Projects(r.Context(), st)
		return err
	})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	q := strings.TrimSpace(r.FormValue("q"))
	names = filter(names, q, func(s string) string { return s })
	latest, err := c.latestByScope(r.Context())
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := listData[projectRow]{Query: q, Pager: newPager(r, len(names), rowsPerPage)}
	lo, hi := d.Pager.bounds()
	for _, n := range names[lo:hi] {
		row := projectRow{Name: n}
		if s, ok := latest[scope.ProjectScope(n).String()]; ok {
			row.Latest = &s
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "projects", "Projects", d)
}

type cubeRow struct {
	scope.CubeEntry
	Status string
	Latest *api.SnapshotJSON
}

func (c *Console) cubesPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.FormValue("q"))
	var d listData[cubeRow]
	err := c.env.WithMetastore(r.Context(), func(st metastore.Store, _ string) error {
		layout, err := scope.DetectLayout(r.Context(), st)
		if err != nil {
			return err
		}
		d.Models = layout != scope.Layout4
		c.sawLayout(layout)
		all, err := scope.CubeList(r.Context(), st)
		if err != nil {
			return err
		}
		all = filter(all, q, func(e scope.CubeEntry) string { return e.Name + " " + e.Project })
		d.Query, d.Pager = q, newPager(r, len(all), rowsPerPage)
		lo, hi := d.Pager.bounds()
		for _, e := range all[lo:hi] {
			status, err := scope.CubeStatus(r.Context(), st, e)
			if err != nil {
				return err
			}
			d.Rows = append(d.Rows, cubeRow{CubeEntry: e, Status: status})
		}
		return nil
	})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	latest, err := c.latestByScope(r.Context())
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for i := range d.Rows {
		if s, ok := latest[scope.CubeScope(d.Rows[i].Name).String()]; ok {
			d.Rows[i].Latest = &s
		}
	}
	title := "Cubes"
	if d.Models {
		title = "Models"
	}
	c.render(w, r, http.StatusOK, "cubes", title, d)
}

// filter keeps the items whose key contains every word of q (any case).
func filter[T any](items []T, q string, key func(T) string) []T {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return items
	}
	var out []T
next:
	for _, it := range items {
		k := strings.ToLower(key(it))
		for _, w := range words {
			if !strings.Contains(k, w) {
				continue next
			}
		}
		out = append(out, it)
	}
	return out
}

type scopeCount struct {
	Scope string
	Count int
}

type snapshotsData struct {
	Scope     string
	NoSafety  bool
	Scopes    []scopeCount
	Total     int
	Snapshots []api.SnapshotJSON
	Pager     pager
	NoRepo    bool
}

// snapshotsPage is the timeline: every snapshot, or those of one scope,
// newest first, tags and safety snapshots marked.
func (c *Console) snapshotsPage(w http.ResponseWriter, r *http.Request) {
	d := snapshotsData{Scope: r.FormValue("scope"), NoSafety: boolParam(r, "no_safety")}
	all, err := c.env.Log(r.Context(), api.LogRequest{})
	if err != nil {
		if api.ExitCode(err) == api.ExitRepo && strings.Contains(err.Error(), "no snapshot repository") {
			d.NoRepo = true
			c.render(w, r, http.StatusOK, "snapshots", "Snapshots", d)
			return
		}
		c.failErr(w, r, err)
		return
	}
	counts := map[string]int{}
	for _, in := range all {
		counts[in.Scope.String()]++
	}
	for s, n := range counts {
		d.Scopes = append(d.Scopes, scopeCount{s, n})
	}
	sort.Slice(d.Scopes, func(i, j int) bool { return scopeOrder(d.Scopes[i].Scope) < scopeOrder(d.Scopes[j].Scope) })
	d.Total = len(all)
	list := all
	if d.Scope != "" || d.NoSafety {
		list, err = c.env.Log(r.Context(), api.LogRequest{Scope: d.Scope, NoSafety: d.NoSafety})
		if err != nil {
			c.failErr(w, r, err)
			return
		}
	}
	d.Pager = newPager(r, len(list), rowsPerPage)
	lo, hi := d.Pager.bounds()
	d.Snapshots = api.Snapshots(list[lo:hi])
	c.render(w, r, http.StatusOK, "snapshots", "Snapshots", d)
}

// scopeOrder sorts system first, then projects, then cubes.
func scopeOrder(s string) string {
	switch {
	case s == "system":
		return "0"
	case strings.HasPrefix(s, "project/"):
		return "1" + s
	}
	return "2" + s
}

type snapshotData struct {
	Summary api.SummaryJSON
	Tree    treeData
	Command string
}

type treeData struct {
	Ref     string
	Dir     string
	Entries []snapshot.DirEntry
	Total   int
	Next    int // offset of the next page; 0 for none
}

// snapshotPage describes a snapshot and shows its root folder; folders
// open lazily (treeFragment).
func (c *Console) snapshotPage(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	sum, err := c.env.Show(r.Context(), ref)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := snapshotData{Summary: api.Summary(sum), Command: c.command("metastore show " + api.Quote(sum.Info.ID.Short()))}
	if d.Tree, err = c.tree(r, sum.Info.ID.String(), "/", 0); err != nil {
		c.failErr(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "snapshot", "Snapshot "+sum.Info.ID.Short(), d)
}

func (c *Console) tree(r *http.Request, ref, dir string, offset int) (treeData, error) {
	_, entries, total, err := c.env.ReadDir(r.Context(), ref, dir, offset, treePage)
	if err != nil {
		return treeData{}, err
	}
	d := treeData{Ref: ref, Dir: dir, Entries: entries, Total: total}
	if offset+len(entries) < total {
		d.Next = offset + len(entries)
	}
	return d, nil
}

// treeFragment is one page of a folder of a snapshot.
func (c *Console) treeFragment(w http.ResponseWriter, r *http.Request) {
	d, err := c.tree(r, r.PathValue("ref"), r.FormValue("dir"), intParam(r, "offset", 0))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.renderFragment(w, http.StatusOK, "tree-items", d)
}

type resourceData struct {
	Snapshot  api.SnapshotJSON
	Path      string
	Size      int
	Timestamp int64
	ID        string
	Text      string
	Truncated bool
	Binary    bool
	Kind      string
	Header    string
	Hex       string
	Raw       template.URL
	Command   string
}

// resourcePage shows one resource of a snapshot: its text, or for binary
// content its kind, header and first bytes.
func (c *Console) resourcePage(w http.ResponseWriter, r *http.Request) {
	ref, p := r.PathValue("ref"), r.FormValue("path")
	in, res, err := c.env.ShowResource(r.Context(), ref, p)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	doc := api.Resource(in.ID, res)
	d := resourceData{Snapshot: api.Snapshot(in), Path: res.Path, Size: doc.Size, Timestamp: res.Timestamp, ID: doc.ID,
		Command: c.command("metastore show " + api.Quote(in.ID.Short()+":"+res.Path))}
	d.Raw = template.URL("/api/v1/show?" + urlValues("ref", in.ID.String(), "path", res.Path, "raw", "1"))
	if api.IsText(res.Data) {
		d.Text = string(res.Data)
		if len(d.Text) > maxShownBytes {
			d.Text, d.Truncated = d.Text[:maxShownBytes], true
		}
	} else {
		d.Binary = true
		d.Kind = string(scope.BinaryKindOf(res.Path))
		if h, err := scope.ReadBinaryHeader(res.Path, res.Data); err == nil && h != nil {
			switch {
			case len(h.JSON) > 0:
				d.Header = string(h.JSON)
			case h.UUID != "":
				d.Header = "metastore UUID " + h.UUID
			}
		}
		d.Hex = hex.Dump(res.Data[:min(len(res.Data), 512)])
	}
	if r.Header.Get("HX-Request") != "" {
		c.renderFragment(w, http.StatusOK, "resource", d)
		return
	}
	c.render(w, r, http.StatusOK, "resource", res.Path, d)
}
