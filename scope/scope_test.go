package scope_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want scope.Scope
	}{
		{"system", scope.SystemScope()},
		{"project/learn_kylin", scope.ProjectScope("learn_kylin")},
		{"cube/kylin_sales_cube", scope.CubeScope("kylin_sales_cube")},
		{"cube/default.nmodel_basic", scope.CubeScope("default.nmodel_basic")},
		{"project/a-b_c.1", scope.ProjectScope("a-b_c.1")},
		{"cube/模型", scope.CubeScope("模型")},
	}
	for _, tt := range tests {
		got, err := scope.Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.in {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.in)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		"", "System", "systems", "system/", "project", "project/", "cube/", "model/x",
		"project/a/b", "cube/.hidden", "cube/x.lock", "cube/a..b", "cube/trailing.",
		"project/with space", "project/a:b", "project/a~1", "project/a^b", "project/a*b",
		"project/a?b", "project/a[b", "project/a\\b", "project/a@{b", "project/a\x00b", "cube/\xff",
	} {
		got, err := scope.Parse(in)
		if !errors.Is(err, scope.ErrInvalidScope) {
			t.Errorf("Parse(%q) = %v, %v; want an error wrapping ErrInvalidScope", in, got, err)
		}
	}
}

func TestScopeText(t *testing.T) {
	type doc struct {
		Scope scope.Scope  `json:"scope"`
		Lay   scope.Layout `json:"layout"`
	}
	b, err := json.Marshal(doc{scope.ProjectScope("p"), scope.Layout5})
	if got, want := string(b), `{"scope":"project/p","layout":"layout5"}`; err != nil || got != want {
		t.Errorf("json.Marshal = %s, %v; want %s", got, err, want)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"scope":"cube/c"}`), &d); err != nil || d.Scope != scope.CubeScope("c") {
		t.Errorf("json.Unmarshal = %v, %v; want cube/c", d.Scope, err)
	}
	if err := json.Unmarshal([]byte(`{"scope":"cube/"}`), &d); !errors.Is(err, scope.ErrInvalidScope) {
		t.Errorf("json.Unmarshal(cube/) error = %v, want ErrInvalidScope", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[scope.Kind]string{scope.System: "system", scope.Project: "project", scope.Cube: "cube", 9: "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int8(k), got, want)
		}
	}
	for l, want := range map[scope.Layout]string{scope.Layout4: "layout4", scope.Layout5: "layout5", 9: "Layout(9)"} {
		if got := l.String(); got != want {
			t.Errorf("Layout(%d).String() = %q, want %q", int8(l), got, want)
		}
	}
}

func TestTypeOf(t *testing.T) {
	checkEach(t, "TypeOf", scope.TypeOf, []pair[string, string]{
		{"/UUID", "UUID"},
		{"/cube/kylin_sales_cube.json", "cube"},
		{"/cube_desc/x.json", "cube_desc"},
		{"/dict/DEFAULT.T/COL/u.dict", "dict"},
		{"/dict/PREDEFINED/date(yyyy-mm-dd)/u.dict", "dict"},
		{"/table_snapshot/T.csv/u.snapshot", "table_snapshot"},
		{"/cube_statistics/c/s.seq", "cube_statistics"},
		{"/execute/0b2c", "execute"},
		{"/execute_output/0b2c-01", "execute_output"},
		{"/temp_statement/S/t.json", "temp_statement"},
		{"/history/P/x.json", "history"},
		{"/some_new_type/x.json", "some_new_type"},
		{"/_global/project/default.json", "project"},
		{"/_global/user/ADMIN", "user"},
		{"/_global/trash_record", "trash_record"},
		{"/default/model_desc/u.json", "model_desc"},
		{"/default/dataflow_details/u/v.json", "dataflow_details"},
		{"/ssb/table/SSB.PART.json", "table"},
		{"/", ""},
		{"", ""},
	})
}

// pair is a case of a function of one argument: what it is given and what
// it should return.
type pair[In, Out any] struct {
	in  In
	out Out
}

// checkEach reports every case whose input f, called name, maps to another
// output than the case's.
func checkEach[In any, Out comparable](t *testing.T, name string, f func(In) Out, cases []pair[In, Out]) {
	t.Helper()
	for _, c := range cases {
		if got := f(c.in); got != c.out {
			t.Errorf("%s(%#v) = %#v, want %#v", name, c.in, got, c.out)
		}
	}
}

func TestRetarget(t *testing.T) {
	// Every case moves project "from" to project "to".
	tests := []struct {
		layout     scope.Layout
		path, want string
	}{
		{scope.Layout4, "/table/DB.T--from.json", "/table/DB.T--to.json"},
		{scope.Layout4, "/table_exd/DB.T--from.json", "/table_exd/DB.T--to.json"},
		{scope.Layout4, "/table/DB.T.json", "/table/DB.T.json"},
		{scope.Layout4, "/table/DB.T--other.json", "/table/DB.T--other.json"},
		{scope.Layout4, "/table/--from.json", "/table/--from.json"},
		{scope.Layout4, "/table/x/DB.T--from.json", "/table/x/DB.T--from.json"},
		{scope.Layout4, "/project/from.json", "/project/from.json"},
		{scope.Layout4, "/kafka/DB.T--from.json", "/kafka/DB.T--from.json"},
		{scope.Layout4, "/from/table/DB.T.json", "/from/table/DB.T.json"},
		{scope.Layout5, "/from/model_desc/u.json", "/to/model_desc/u.json"},
		{scope.Layout5, "/from/table/SSB.PART.json", "/to/table/SSB.PART.json"},
		{scope.Layout5, "/fromage/model_desc/u.json", "/fromage/model_desc/u.json"},
		{scope.Layout5, "/_global/project/from.json", "/_global/project/from.json"},
		{scope.Layout5, "/other/model_desc/u.json", "/other/model_desc/u.json"},
	}
	for _, tt := range tests {
		if got := scope.Retarget(tt.layout, tt.path, "from", "to"); got != tt.want {
			t.Errorf("Retarget(%v, %q, \"from\", \"to\") = %q, want %q", tt.layout, tt.path, got, tt.want)
		}
	}
}

func TestProjectFile(t *testing.T) {
	for _, tt := range []struct {
		l    scope.Layout
		want string
	}{{scope.Layout4, "/project/p.json"}, {scope.Layout5, "/_global/project/p.json"}} {
		if got := scope.ProjectFile(tt.l, "p"); got != tt.want || !scope.IsProjectFile(got) {
			t.Errorf("ProjectFile(%v, p) = %q (IsProjectFile %v), want %q", tt.l, got, scope.IsProjectFile(got), tt.want)
		}
	}
	for _, k := range []string{"/projects/p.json", "/p/project/x.json", "/cube/p.json", "/_global/user/p"} {
		if scope.IsProjectFile(k) {
			t.Errorf("IsProjectFile(%q) = true", k)
		}
	}
}

func TestSharedByNature(t *testing.T) {
	for k, want := range map[string]bool{
		"/model_desc/m.json": true, "/table/DB.T--p.json": true, "/table_exd/DB.T.json": true,
		"/project/p.json": true, "/p/model_desc/u.json": true, "/_global/project/p.json": true,
		"/cube/c.json": false, "/cube_desc/c.json": false, "/dict/T/C/x.dict": false, "/UUID": false,
	} {
		if got := scope.SharedByNature(k); got != want {
			t.Errorf("SharedByNature(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestDetectLayoutProjectsCubes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		src      memSource
		layout   scope.Layout
		projects []string
		cubes    []string
	}{
		{"empty", memSource{}, scope.Layout4, nil, nil},
		{"flat", salesMeta(), scope.Layout4, []string{"broken", "other", "sales"},
			[]string{"c1", "c2", "c3", "c_bad", "c_nodesc", "c_orphan"}},
		{"kylin5", memSource{
			"/_global/project/a.json":     `{}`,
			"/_global/project/b.json":     `{}`,
			"/_global/project/b.json.bak": `{}`,
			"/a/model_desc/1.json":        `{"alias": "shared"}`,
			"/a/model_desc/2.json":        `{"alias": "only_a"}`,
			"/a/model_desc/3.json":        `{"alias": `,
			"/b/model_desc/1.json":        `{"alias": "shared"}`,
			"/b/model_desc/x/deeper.json": `{"alias": "no"}`,
			"/c/model_desc/9.json":        `{"alias": "no project file"}`,
			"/_global/user/ADMIN":         `{}`,
		}, scope.Layout5, []string{"a", "b"}, []string{"a.shared", "b.shared", "only_a"}},
	}
	for _, tt := range tests {
		layout, err := scope.DetectLayout(ctx, tt.src)
		if err != nil || layout != tt.layout {
			t.Errorf("%s: DetectLayout = %v, %v; want %v", tt.name, layout, err, tt.layout)
		}
		projects, err := scope.Projects(ctx, tt.src)
		if err != nil || !slices.Equal(projects, tt.projects) {
			t.Errorf("%s: Projects = %q, %v; want %q", tt.name, projects, err, tt.projects)
		}
		cubes, err := scope.Cubes(ctx, tt.src)
		if err != nil || !slices.Equal(cubes, tt.cubes) {
			t.Errorf("%s: Cubes = %q, %v; want %q", tt.name, cubes, err, tt.cubes)
		}
		for _, c := range append(tt.cubes, "shared", "nope", "a", "../x") {
			ok, err := scope.HasCube(ctx, tt.src, c)
			if want := slices.Contains(tt.cubes, c); err != nil || ok != want {
				t.Errorf("%s: HasCube(%q) = %v, %v; want %v", tt.name, c, ok, err, want)
			}
		}
	}
}

func TestResolve5(t *testing.T) {
	src := memSource{
		"/UUID":                          "u",
		"/_global/project/a.json":        `{"uuid": "pa"}`,
		"/_global/project/b.json":        `not json`,
		"/_global/acl/pa":                `{}`,
		"/_global/acl/pb":                `{}`,
		"/_global/user/ADMIN":            `{}`,
		"/_global/user_group/ALL":        `{}`,
		"/_global/resource_group/r.json": `{}`,
		"/a/model_desc/m1.json":          `{"uuid": "m1", "alias": "sales", "fact_table": "DB.F", "join_tables": [{"table": "DB.D"}, {"table": "DB.GONE"}]}`,
		"/a/index_plan/m1.json":          `{}`,
		"/a/dataflow_details/m1/s.json":  `{}`,
		"/a/table/DB.F.json":             `{}`,
		"/a/table/DB.D.json":             `{}`,
		"/a/table_exd/DB.D.json":         `{}`,
		"/a/table/DB.OTHER.json":         `{}`,
		"/a/rule/x.json":                 `{}`,
		"/ab/model_desc/x.json":          `{}`,
		"/b/model_desc/m2.json":          `{"uuid": "other", "alias": "b_model", "fact_table": "DB.F"}`,
	}
	ctx := context.Background()
	res, err := scope.Resolve(ctx, src, scope.CubeScope("sales"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "cube/sales", res.Paths, []string{
		"/UUID", "/_global/project/a.json",
		"/a/index_plan/m1.json", "/a/model_desc/m1.json",
		"/a/table/DB.D.json", "/a/table/DB.F.json", "/a/table_exd/DB.D.json",
	})
	want := []scope.Warning{
		{Path: "/a/dataflow/m1.json", Message: "does not exist (referenced by /a/model_desc/m1.json)"},
		{Path: "/a/table/DB.GONE.json", Message: "does not exist (referenced by /a/model_desc/m1.json)"},
	}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("cube/sales warnings:\ngot  %v\nwant %v", res.Warnings, want)
	}
	if res.Project != "a" || res.Model != "sales" || !slices.Equal(res.Tables, []string{"DB.D", "DB.F", "DB.GONE"}) {
		t.Errorf("cube/sales: project %q model %q tables %q", res.Project, res.Model, res.Tables)
	}

	res, err = scope.Resolve(ctx, src, scope.CubeScope("b_model"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want = []scope.Warning{
		{Path: "/b/dataflow/m2.json", Message: "does not exist (referenced by /b/model_desc/m2.json)"},
		{Path: "/b/index_plan/m2.json", Message: "does not exist (referenced by /b/model_desc/m2.json)"},
		{Path: "/b/model_desc/m2.json", Message: `uuid "other" differs from the key; following the key "m2"`},
		{Path: "/b/table/DB.F.json", Message: "does not exist (referenced by /b/model_desc/m2.json)"},
	}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("cube/b_model warnings:\ngot  %v\nwant %v", res.Warnings, want)
	}

	res, err = scope.Resolve(ctx, src, scope.ProjectScope("a"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/a", res.Paths, []string{
		"/UUID", "/_global/acl/pa", "/_global/project/a.json", "/_global/user/ADMIN", "/_global/user_group/ALL",
		"/a/dataflow_details/m1/s.json", "/a/index_plan/m1.json", "/a/model_desc/m1.json",
		"/a/rule/x.json", "/a/table/DB.D.json", "/a/table/DB.F.json", "/a/table/DB.OTHER.json", "/a/table_exd/DB.D.json",
	})
	res, err = scope.Resolve(ctx, src, scope.ProjectScope("b"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/b", res.Paths, []string{
		"/UUID", "/_global/project/b.json", "/_global/user/ADMIN", "/_global/user_group/ALL", "/b/model_desc/m2.json",
	})
	if len(res.Warnings) != 1 || res.Warnings[0].Path != "/_global/project/b.json" {
		t.Errorf("project/b warnings: %v", res.Warnings)
	}
	if _, err := scope.Resolve(ctx, src, scope.ProjectScope("c"), scope.Options{}); !errors.Is(err, scope.ErrUnknownProject) {
		t.Errorf("project/c error = %v, want ErrUnknownProject", err)
	}
	if _, err := scope.Resolve(ctx, src, scope.CubeScope("sale"), scope.Options{}); !errors.Is(err, scope.ErrUnknownCube) ||
		err.Error() != `resolve model sale: model "sale" not found (closest: sales)` { // Kylin 5 has models
		t.Errorf("cube/sale error = %v, want ErrUnknownCube suggesting sales", err)
	}
}
