package scope_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

// salesMeta is a small flat-layout metastore with the traps the project
// rules must get right: a hybrid, missing and unparseable resources,
// project-qualified and legacy tables, a dictionary shared with another
// project, jobs with and without "projectName", and KE resources.
func salesMeta() memSource {
	return memSource{
		"/UUID": "meta-uuid",

		"/project/sales.json": `{
  "uuid": "p-sales",
  "realizations": [
    {"type": "CUBE", "realization": "c1"},
    {"type": "HYBRID", "realization": "h1"},
    {"type": "INVERTED_INDEX", "realization": "ii"},
    {"type": "CUBE", "realization": "c_gone"},
    {"type": "CUBE", "realization": "c_bad"}
  ],
  "models": ["m1", "m_extra", "m_missing"],
  "tables": ["DB.A", "DB.B", "DB.C", "db.lower"]
}`,
		"/project/other.json":  `{"uuid": "p-other", "realizations": [{"type": "CUBE", "realization": "c3"}], "models": ["m3"], "tables": ["DB.A"]}`,
		"/project/broken.json": `{"uuid": "p-broken", "realizations": [{"type": "CUBE", "realization": "c1"`,

		"/hybrid/h1.json": `{"realizations": [{"type": "CUBE", "realization": "c2"}, {"type": "CUBE", "realization": "c_missing"}]}`,

		"/cube/c1.json": `{"uuid": "u-c1", "descriptor": "d1", "segments": [{"uuid": "s1", "name": "seg1", "status": "READY",
			"dictionaries": {"DB.A/X": "/dict/DB.A/X/1.dict", "DB.A/Y": "/dict/DB.A/Y/gone.dict"},
			"snapshots": {"DB.B": "/table_snapshot/B.csv/1.snapshot"}}]}`,
		"/cube/c2.json": `{"uuid": "u-c2", "descriptor": "d2", "segments": [{"uuid": "s2", "status": "NEW",
			"dictionaries": {"DB.A/X": "/dict/DB.A/X/1.dict"}}]}`,
		"/cube/c3.json":       `{"uuid": "u-c3", "descriptor": "d3", "segments": [{"uuid": "s3", "status": "READY", "dictionaries": {"DB.A/X": "/dict/DB.A/X/1.dict"}}]}`,
		"/cube/c_bad.json":    `{"uuid": `,
		"/cube/c_orphan.json": `{"uuid": "u-orphan", "descriptor": "d3", "segments": null}`,
		"/cube/c_nodesc.json": `{"uuid": "u-nodesc"}`,

		"/cube_desc/d1.json": `{"model_name": "m1"}`,
		"/cube_desc/d2.json": `{"model_name": "m2"}`,
		"/cube_desc/d3.json": `{"model_name": "m3"}`,

		"/model_desc/m1.json":      `{"uuid": "u-m1", "fact_table": "DB.A", "lookups": [{"table": "DB.B"}]}`,
		"/model_desc/m2.json":      `{"uuid": "u-m2", "fact_table": "DB.A", "join_tables": [{"table": "DB.D"}]}`,
		"/model_desc/m3.json":      `{"uuid": "u-m3", "fact_table": "DB.A", "join_tables": null}`,
		"/model_desc/m_extra.json": `{"uuid": "u-mx", "fact_table": "DB.B"}`,

		"/table/DB.A--sales.json":     `{}`,
		"/table/DB.A--other.json":     `{}`,
		"/table/DB.A.json":            `{}`,
		"/table/DB.B.json":            `{}`,
		"/table/DB.D.json":            `{}`,
		"/table/DB.LOWER.json":        `{}`,
		"/table_exd/DB.A.json":        `{}`,
		"/table_exd/DB.B--sales.json": `{}`,
		"/table_exd/DB.A--other.json": `{}`,

		"/dict/DB.A/X/1.dict":              "dict",
		"/dict/DB.A/X/2.dict":              "unreferenced dict",
		"/table_snapshot/B.csv/1.snapshot": "snapshot",
		"/cube_statistics/c1/s1.seq":       "stats",
		"/cube_statistics/c3/s3.seq":       "stats",

		"/acl/p-sales":  `{}`,
		"/acl/u-c1":     `{}`,
		"/acl/u-m1":     `{}`,
		"/acl/u-mx":     `{}`,
		"/acl/p-other":  `{}`,
		"/acl/u-c3":     `{}`,
		"/acl/orphaned": `{}`,

		"/bad_query/sales.json": `{}`,
		"/bad_query/other.json": `{}`,

		"/execute/j1":           `{"uuid": "j1", "params": {"projectName": "sales", "cubeName": "c3"}, "tasks": [{"uuid": "j1-00"}]}`,
		"/execute/j2":           `{"uuid": "j2", "params": {"projectName": "other", "cubeName": "c1"}}`,
		"/execute/j3":           `{"uuid": "j3", "params": {"cubeName": "c2"}}`,
		"/execute/j4":           `{"uuid": "j4", "params": {"segmentId": "s1", "segmentName": "seg1"}}`,
		"/execute/j5":           `{"uuid": "j5", "params": {"projectName": "sales"`,
		"/execute/j6":           `not json at all`,
		"/execute/j7":           `{"uuid": "j7", "params": null}`,
		"/execute_output/j1":    `{}`,
		"/execute_output/j1-00": `{}`,
		"/execute_output/j1-01": `{}`,
		"/execute_output/j1-xx": `{}`,
		"/execute_output/j10":   `{}`,
		"/execute_output/j2":    `{}`,
		"/execute_output/j3-00": `{}`,
		"/execute_output/j4":    `{}`,

		"/kafka/DB.A.json":            `{}`,
		"/streaming/DB.B.json":        `{}`,
		"/streaming_v2/DB.D.json":     `{}`,
		"/streaming_v2/DB.Z.json":     `{}`,
		"/raw_table_desc/d1.json":     `{}`,
		"/raw_table_desc/c2.json":     `{}`,
		"/raw_table_desc/d3.json":     `{}`,
		"/raw_table_instance/c1.json": `{}`,
		"/scheduler/s1":               `{"project": "sales"}`,
		"/scheduler/s2":               `{"project": "other"}`,
		"/scheduler/s3":               `{"project": "sales"`,
		"/model_stats/m1.json":        `{}`,
		"/model_stats/m_extra.json":   `{}`,
		"/model_stats/m3.json":        `{}`,

		"/user/ADMIN":                `{}`,
		"/user_group/ALL":            `{}`,
		"/cube_stats_info/c1.json":   `{}`,
		"/cube_stats_info/c3.json":   `{}`,
		"/history/sales/x.json":      `{}`,
		"/history/other/y.json":      `{}`,
		"/history/salesman/z.json":   `{}`,
		"/history/2020/c2":           `{}`,
		"/query/ADMIN":               `[]`,
		"/ext_filter/f.json":         `{}`,
		"/temp_statement/S/t.json":   `{}`,
		"/cube_desc/unused.json.bad": `{`,
		"/table_acl/sales":           `{}`,
	}
}

// TestResolveProject4 checks every rule of the project scope. Note
// "/table_exd/DB.A.json": the project form "/table_exd/DB.A--sales.json"
// does not exist, so the legacy form is taken, chosen apart from the table's
// own (project) form.
func TestResolveProject4(t *testing.T) {
	res, err := scope.Resolve(context.Background(), salesMeta(), scope.ProjectScope("sales"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/sales", res.Paths, []string{
		"/UUID",
		"/acl/p-sales", "/acl/u-c1", "/acl/u-m1", "/acl/u-mx",
		"/bad_query/sales.json",
		"/cube/c1.json", "/cube/c2.json", "/cube/c_bad.json",
		"/cube_desc/d1.json", "/cube_desc/d2.json",
		"/cube_stats_info/c1.json",
		"/cube_statistics/c1/s1.seq",
		"/dict/DB.A/X/1.dict",
		"/execute/j1", "/execute/j3", "/execute/j4",
		"/execute_output/j1", "/execute_output/j1-00", "/execute_output/j1-01",
		"/execute_output/j3-00", "/execute_output/j4",
		"/history/2020/c2", "/history/sales/x.json",
		"/hybrid/h1.json",
		"/kafka/DB.A.json",
		"/model_desc/m1.json", "/model_desc/m2.json", "/model_desc/m_extra.json",
		"/model_stats/m1.json", "/model_stats/m_extra.json",
		"/project/sales.json",
		"/raw_table_desc/c2.json", "/raw_table_desc/d1.json", "/raw_table_instance/c1.json",
		"/scheduler/s1",
		"/streaming/DB.B.json", "/streaming_v2/DB.D.json",
		"/table/DB.A--sales.json", "/table/DB.B.json", "/table/DB.D.json", "/table/DB.LOWER.json",
		"/table_exd/DB.A.json", "/table_exd/DB.B--sales.json",
		"/table_snapshot/B.csv/1.snapshot",
		"/user/ADMIN", "/user_group/ALL",
	})
	var got []string
	for _, w := range res.Warnings {
		got = append(got, w.Path)
	}
	want := []string{
		"/cube/c_bad.json",       // unparseable: descriptor unknown
		"/cube/c_gone.json",      // listed, missing
		"/cube/c_missing.json",   // listed by the hybrid, missing
		"/dict/DB.A/Y/gone.dict", // referenced by a segment, missing
		"/execute/j5",            // unparseable, mentions the project
		"/model_desc/m_missing.json",
		"/project/sales.json", // realization of unknown type
		"/scheduler/s3",       // unparseable, mentions the project
		"/table/DB.C.json",    // listed, missing
	}
	if !slices.Equal(got, want) {
		t.Errorf("warning paths:\ngot  %q\nwant %q\nwarnings: %v", got, want, res.Warnings)
	}
	for _, w := range res.Warnings {
		if w.Path == "/dict/DB.A/Y/gone.dict" && w.Message != "does not exist (referenced by segment seg1 of /cube/c1.json)" {
			t.Errorf("missing dictionary warning = %q", w.Message)
		}
	}
	if res.Project != "" || res.Model != "" || res.Tables != nil {
		t.Errorf("project scope set cube fields: %q %q %q", res.Project, res.Model, res.Tables)
	}
}

func TestResolveProject4Other(t *testing.T) {
	// The dictionary shared with sales belongs to other as well; the jobs
	// of sales that name other's cube do not.
	res, err := scope.Resolve(context.Background(), salesMeta(), scope.ProjectScope("other"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/other", res.Paths, []string{
		"/UUID",
		"/acl/p-other", "/acl/u-c3",
		"/bad_query/other.json",
		"/cube/c3.json", "/cube_desc/d3.json",
		"/cube_stats_info/c3.json", "/cube_statistics/c3/s3.seq",
		"/dict/DB.A/X/1.dict",
		"/execute/j2", "/execute_output/j2",
		"/history/other/y.json",
		"/kafka/DB.A.json",
		"/model_desc/m3.json", "/model_stats/m3.json",
		"/project/other.json",
		"/raw_table_desc/d3.json",
		"/scheduler/s2",
		"/table/DB.A--other.json", "/table_exd/DB.A--other.json",
		"/user/ADMIN", "/user_group/ALL",
	})
	// No unparseable resource mentions "other" or c3.
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

func TestResolveProject4Unparseable(t *testing.T) {
	res, err := scope.Resolve(context.Background(), salesMeta(), scope.ProjectScope("broken"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/broken", res.Paths, []string{"/UUID", "/project/broken.json", "/user/ADMIN", "/user_group/ALL"})
	if len(res.Warnings) != 1 || res.Warnings[0].Path != "/project/broken.json" ||
		!strings.Contains(res.Warnings[0].Message, "cannot parse") {
		t.Errorf("warnings = %v, want one about /project/broken.json", res.Warnings)
	}
}

func TestResolveCube4(t *testing.T) {
	tests := []struct {
		cube      string
		opt       scope.Options
		paths     []string
		warnPaths []string
		project   string
		model     string
		tables    []string
	}{{
		cube: "c1",
		paths: []string{"/UUID", "/cube/c1.json", "/cube_desc/d1.json", "/model_desc/m1.json",
			"/project/sales.json", "/table/DB.A--sales.json", "/table/DB.B.json", "/table_exd/DB.A.json", "/table_exd/DB.B--sales.json"},
		// broken.json cannot be parsed and mentions c1.
		warnPaths: []string{"/project/broken.json"},
		project:   "sales", model: "m1", tables: []string{"DB.A", "DB.B"},
	}, {
		cube: "c1", opt: scope.Options{WithSegments: true},
		paths: []string{"/UUID", "/cube/c1.json", "/cube_desc/d1.json", "/cube_statistics/c1/s1.seq",
			"/dict/DB.A/X/1.dict", "/model_desc/m1.json", "/project/sales.json",
			"/table/DB.A--sales.json", "/table/DB.B.json", "/table_exd/DB.A.json", "/table_exd/DB.B--sales.json",
			"/table_snapshot/B.csv/1.snapshot"},
		warnPaths: []string{"/dict/DB.A/Y/gone.dict", "/project/broken.json"},
		project:   "sales", model: "m1", tables: []string{"DB.A", "DB.B"},
	}, {
		// Listed through a hybrid only: no project lists it as a CUBE.
		cube:  "c2",
		paths: []string{"/UUID", "/cube/c2.json", "/cube_desc/d2.json", "/model_desc/m2.json", "/table/DB.A.json", "/table/DB.D.json", "/table_exd/DB.A.json"},
		model: "m2", tables: []string{"DB.A", "DB.D"},
	}, {
		cube: "c3",
		paths: []string{"/UUID", "/cube/c3.json", "/cube_desc/d3.json", "/model_desc/m3.json",
			"/project/other.json", "/table/DB.A--other.json", "/table_exd/DB.A--other.json"},
		project: "other", model: "m3", tables: []string{"DB.A"},
	}, {
		// In no project: legacy table forms.
		cube:  "c_orphan",
		paths: []string{"/UUID", "/cube/c_orphan.json", "/cube_desc/d3.json", "/model_desc/m3.json", "/table/DB.A.json", "/table_exd/DB.A.json"},
		model: "m3", tables: []string{"DB.A"},
	}, {
		cube:      "c_bad",
		paths:     []string{"/UUID", "/cube/c_bad.json", "/project/sales.json"},
		warnPaths: []string{"/cube/c_bad.json"},
		project:   "sales",
	}, {
		cube:      "c_nodesc",
		paths:     []string{"/UUID", "/cube/c_nodesc.json"},
		warnPaths: []string{"/cube/c_nodesc.json"},
	}}
	for _, tt := range tests {
		name := "cube/" + tt.cube
		if tt.opt.WithSegments {
			name += "+segments"
		}
		t.Run(name, func(t *testing.T) {
			res, err := scope.Resolve(context.Background(), salesMeta(), scope.CubeScope(tt.cube), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, name, res.Paths, tt.paths)
			var warnPaths []string
			for _, w := range res.Warnings {
				warnPaths = append(warnPaths, w.Path)
			}
			if !slices.Equal(warnPaths, tt.warnPaths) {
				t.Errorf("warning paths: got %q, want %q (%v)", warnPaths, tt.warnPaths, res.Warnings)
			}
			if res.Project != tt.project || res.Model != tt.model || !slices.Equal(res.Tables, tt.tables) {
				t.Errorf("got project %q model %q tables %q, want %q %q %q",
					res.Project, res.Model, res.Tables, tt.project, tt.model, tt.tables)
			}
		})
	}
}

func TestResolveSeveralProjects(t *testing.T) {
	src := memSource{
		"/project/a.json": `{"realizations": [{"type": "CUBE", "realization": "c"}]}`,
		"/project/b.json": `{"realizations": [{"type": "cube", "realization": "c"}]}`,
		"/cube/c.json":    `{"descriptor": "c"}`,
	}
	res, err := scope.Resolve(context.Background(), src, scope.CubeScope("c"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project != "a" {
		t.Errorf("project = %q, want a", res.Project)
	}
	want := []scope.Warning{
		{Path: "/cube/c.json", Message: "listed by several projects (a, b); using a"},
		{Path: "/cube_desc/c.json", Message: "does not exist (referenced by /cube/c.json)"},
	}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings:\ngot  %v\nwant %v", res.Warnings, want)
	}
}

func TestResolveErrors(t *testing.T) {
	src := salesMeta()
	tests := []struct {
		scope   scope.Scope
		want    error
		message string
	}{
		{scope.ProjectScope("sale"), scope.ErrUnknownProject, `project "sale" not found (closest: sales)`},
		{scope.ProjectScope("SALES"), scope.ErrUnknownProject, `project "SALES" not found (closest: sales)`},
		{scope.ProjectScope("nothing_like_it"), scope.ErrUnknownProject, `project "nothing_like_it" not found`},
		{scope.CubeScope("c"), scope.ErrUnknownCube, `cube "c" not found (closest: c1, c2, c3)`},
		{scope.CubeScope("c_orphn"), scope.ErrUnknownCube, `cube "c_orphn" not found (closest: c_orphan)`},
		{scope.ProjectScope("../x"), scope.ErrInvalidScope, ""},
		{scope.Scope{Kind: scope.System, Name: "x"}, scope.ErrInvalidScope, ""},
		{scope.Scope{Kind: 7, Name: "x"}, scope.ErrInvalidScope, ""},
	}
	for _, tt := range tests {
		_, err := scope.Resolve(context.Background(), src, tt.scope, scope.Options{})
		if !errors.Is(err, tt.want) {
			t.Errorf("Resolve(%v) error = %v, want %v", tt.scope, err, tt.want)
			continue
		}
		if tt.message != "" && !strings.HasSuffix(err.Error(), tt.message) {
			t.Errorf("Resolve(%v) error = %q, want it to end with %q", tt.scope, err, tt.message)
		}
	}
}

// TestResolveNoSuggestions checks that a caller that does not want the
// closest names gets the same error without them.
func TestResolveNoSuggestions(t *testing.T) {
	for _, sc := range []scope.Scope{scope.ProjectScope("sale"), scope.CubeScope("c")} {
		_, err := scope.Resolve(context.Background(), salesMeta(), sc, scope.Options{NoSuggestions: true})
		var nf *scope.NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("Resolve(%v) error = %v, want a NotFoundError", sc, err)
		}
		if len(nf.Closest) != 0 || strings.Contains(err.Error(), "closest") {
			t.Errorf("Resolve(%v) with NoSuggestions: %v", sc, err)
		}
	}
}

// failingSource fails every read and listing.
type failingSource struct{}

var errBackend = errors.New("backend down")

func (failingSource) List(ctx context.Context, prefix string, fn func(string) error) error {
	return errBackend
}

func (failingSource) Read(ctx context.Context, path string) (metastore.Resource, error) {
	return metastore.Resource{}, errBackend
}

func TestResolveSourceError(t *testing.T) {
	for _, s := range []scope.Scope{scope.SystemScope(), scope.ProjectScope("p"), scope.CubeScope("c")} {
		if _, err := scope.Resolve(context.Background(), failingSource{}, s, scope.Options{}); !errors.Is(err, errBackend) {
			t.Errorf("Resolve(%v) error = %v, want the backend's", s, err)
		}
	}
}

func TestSystemScope(t *testing.T) {
	src := salesMeta()
	res, err := scope.Resolve(context.Background(), src, scope.SystemScope(), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Paths) != len(src) || res.Warnings != nil {
		t.Errorf("system scope: %d paths, %d warnings; want %d and none", len(res.Paths), len(res.Warnings), len(src))
	}
}

// TestProjectHasKylin3UserGroups checks the Kylin 3.x/4.x form of user
// groups: one resource "/user_group" holding every group.
func TestProjectHasKylin3UserGroups(t *testing.T) {
	m := memSource{
		"/project/p.json": `{"uuid": "u", "realizations": [], "models": [], "tables": []}`,
		"/user/ADMIN":     `{}`,
		"/user_group":     `{"groups": ["ALL_USERS"]}`,
	}
	res, err := scope.Resolve(context.Background(), m, scope.ProjectScope("p"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/p", res.Paths, []string{"/project/p.json", "/user/ADMIN", "/user_group"})
}
