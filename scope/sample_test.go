package scope_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// The Kylin sample metastores in the module's testdata (read-only).
var (
	sample3     = metastoretest.Sample("kylin-3.1.3")
	sample3Want = metastoretest.Sample("kylin-3.1.3.scopes.json")
	sample5     = metastoretest.Sample("kylin5")
)

// sample opens one of the Kylin sample metastores of the module's testdata
// (read-only) as a folder metastore.
func sample(t *testing.T, dir string) *folder.Store {
	t.Helper()
	needDir(t, dir)
	st, err := folder.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func needDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
	}
}

// expectedScopes is kylin-3.1.3.scopes.json.
type expectedScopes struct {
	Project map[string][]string `json:"project"`
	Cube    map[string][]string `json:"cube"`
}

func loadExpected(t *testing.T) expectedScopes {
	t.Helper()
	data, err := os.ReadFile(sample3Want)
	if err != nil {
		t.Fatalf("the expected scopes in testdata are missing: %v", err)
	}
	var want expectedScopes
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("parse %s: %v", sample3Want, err)
	}
	return want
}

// diffPaths returns the paths of want missing from got and the extra ones.
func diffPaths(got, want []string) (missing, extra []string) {
	g, w := map[string]bool{}, map[string]bool{}
	for _, p := range got {
		g[p] = true
	}
	for _, p := range want {
		w[p] = true
		if !g[p] {
			missing = append(missing, p)
		}
	}
	for _, p := range got {
		if !w[p] {
			extra = append(extra, p)
		}
	}
	return missing, extra
}

func checkPaths(t *testing.T, name string, got, want []string) {
	t.Helper()
	missing, extra := diffPaths(got, want)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: paths differ\nmissing: %q\nextra:   %q", name, missing, extra)
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("%s: paths not sorted and unique: %q", name, got)
	}
}

func TestSample3ExpectedScopes(t *testing.T) {
	needDir(t, sample3)
	want := loadExpected(t)
	src := sample(t, sample3)
	ctx := context.Background()

	for _, kind := range []struct {
		scope func(string) scope.Scope
		want  map[string][]string
	}{{scope.ProjectScope, want.Project}, {scope.CubeScope, want.Cube}} {
		for name, paths := range kind.want {
			sc := kind.scope(name)
			res, err := scope.Resolve(ctx, src, sc, scope.Options{})
			if err != nil {
				t.Fatalf("Resolve(%s): %v", sc, err)
			}
			checkPaths(t, sc.String(), res.Paths, paths)
			for _, w := range res.Warnings {
				t.Logf("%s warning: %s", sc, w)
			}
		}
	}

	// Every cube and project of the sample has an expected scope.
	cubes, err := scope.Cubes(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	var wantCubes []string
	for c := range want.Cube {
		wantCubes = append(wantCubes, c)
	}
	sort.Strings(wantCubes)
	if !slices.Equal(cubes, wantCubes) {
		t.Errorf("Cubes() = %q, want %q", cubes, wantCubes)
	}
	projects, err := scope.Projects(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"default"}; !slices.Equal(projects, want) {
		t.Errorf("Projects() = %q, want %q", projects, want)
	}
}

func TestSample3CubeDetails(t *testing.T) {
	needDir(t, sample3)
	src := sample(t, sample3)
	ctx := context.Background()
	tests := []struct {
		cube    string
		project string
		model   string
		tables  []string
	}{
		{"ci_inner_join_cube", "default", "ci_inner_join_model", []string{
			"DEFAULT.TEST_ACCOUNT", "DEFAULT.TEST_CATEGORY_GROUPINGS", "DEFAULT.TEST_COUNTRY",
			"DEFAULT.TEST_KYLIN_FACT", "DEFAULT.TEST_ORDER", "EDW.TEST_CAL_DT",
			"EDW.TEST_SELLER_TYPE_DIM", "EDW.TEST_SITES"}},
		{"ssb_cube1", "", "ssb", []string{"SSB.CUSTOMER", "SSB.DATES", "SSB.PART", "SSB.SUPPLIER", "SSB.V_LINEORDER"}},
		{"fifty_dim_full_build_cube", "default", "fifty_dim", []string{"DEFAULT.FIFTY_DIM"}},
	}
	for _, tt := range tests {
		res, err := scope.Resolve(ctx, src, scope.CubeScope(tt.cube), scope.Options{})
		if err != nil {
			t.Fatalf("Resolve(cube/%s): %v", tt.cube, err)
		}
		if res.Project != tt.project || res.Model != tt.model || !slices.Equal(res.Tables, tt.tables) {
			t.Errorf("cube/%s: got project %q model %q tables %q, want %q %q %q",
				tt.cube, res.Project, res.Model, res.Tables, tt.project, tt.model, tt.tables)
		}
		if res.Layout != scope.Layout4 {
			t.Errorf("cube/%s: layout %v, want layout4", tt.cube, res.Layout)
		}
	}
}

func TestSample3WithSegments(t *testing.T) {
	needDir(t, sample3)
	src := sample(t, sample3)
	ctx := context.Background()

	// The NEW segment of this cube has statistics and references existing
	// dictionaries and snapshots, all of which join the scope.
	res, err := scope.Resolve(ctx, src, scope.CubeScope("test_kylin_cube_with_slr_1_new_segment"), scope.Options{WithSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/cube_statistics/test_kylin_cube_with_slr_1_new_segment/198va32a-a33e-4b69-83dd-0bb8b1f8c53b.seq",
		"/dict/TEST_CATEGORY_GROUPINGS/CATEG_LVL2_NAME/16d8185c-ee6b-4f8c-a919-756d9809f937.dict",
		"/dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82-f2af-476e-85b9-f0805001014e.dict",
		"/table_snapshot/TEST_CAL_DT.csv/8ff1339e-f804-47f3-b42c-1d4fa4ff0cf7.snapshot",
	} {
		if !slices.Contains(res.Paths, p) {
			t.Errorf("WithSegments: %s missing from %q", p, res.Paths)
		}
	}
	for _, p := range res.Paths {
		if _, err := os.Stat(filepath.Join(sample3, p[1:])); err != nil {
			t.Errorf("WithSegments: listed %s, which does not exist", p)
		}
	}
	// Without the option, none of them.
	plain, err := scope.Resolve(ctx, src, scope.CubeScope("test_kylin_cube_with_slr_1_new_segment"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plain.Paths {
		if typ := scope.TypeOf(p); typ == "dict" || typ == "table_snapshot" || typ == "cube_statistics" {
			t.Errorf("segment resource %s without WithSegments", p)
		}
	}

	// A READY segment without statistics is a warning; the dictionaries
	// and snapshots its segment references all exist in the sample.
	res, err = scope.Resolve(ctx, src, scope.CubeScope("test_kylin_cube_with_slr_ready"), scope.Options{WithSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := []scope.Warning{{
		Path:    "/cube_statistics/test_kylin_cube_with_slr_ready/f24668f6-dcff-4cb6-a89b-77f1119df8fa.seq",
		Message: "does not exist (statistics of segment 20130331080000_20131212080000 of /cube/test_kylin_cube_with_slr_ready.json)",
	}}
	if !slices.Equal(res.Warnings, wantWarn) {
		t.Errorf("cube/test_kylin_cube_with_slr_ready warnings:\ngot  %v\nwant %v", res.Warnings, wantWarn)
	}
}

func TestSample3System(t *testing.T) {
	needDir(t, sample3)
	src := sample(t, sample3)
	res, err := scope.Resolve(context.Background(), src, scope.SystemScope(), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	_ = src.List(context.Background(), "/", func(p string) error {
		want = append(want, p)
		return nil
	})
	checkPaths(t, "system", res.Paths, want)
	if !slices.Contains(res.Paths, "/cube_desc/twenty_dim.json.bad") {
		t.Errorf("system scope lacks the unparseable /cube_desc/twenty_dim.json.bad")
	}
}

// TestResolveCost checks that cube and project scopes read and list only
// what their rules need.
func TestResolveCost(t *testing.T) {
	needDir(t, sample3)
	ctx := context.Background()

	cs := metastoretest.Counting(sample(t, sample3))
	if _, err := scope.Resolve(ctx, cs, scope.CubeScope("ci_inner_join_cube"), scope.Options{}); err != nil {
		t.Fatal(err)
	}
	// The cube, its descriptor, its model and the one project file.
	if got, want := cs.Reads(), []string{
		"/project/default.json", "/cube/ci_inner_join_cube.json",
		"/cube_desc/ci_inner_join_cube.json", "/model_desc/ci_inner_join_model.json",
	}; !slices.Equal(got, want) {
		t.Errorf("cube scope read %q, want %q", got, want)
	}
	for _, p := range cs.Lists() {
		// The project folders of the three layouts are listed (at most
		// one entry each) to detect the layout.
		if p == "/" || strings.HasSuffix(p, "/") && p != "/project/" && p != "/_global/project/" && p != "/PROJECT/" {
			t.Errorf("cube scope listed folder %q", p)
		}
	}

	cs = metastoretest.Counting(sample(t, sample3))
	if _, err := scope.Resolve(ctx, cs, scope.ProjectScope("default"), scope.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range cs.Lists() {
		if p == "/" {
			t.Errorf("project scope listed everything")
		}
	}
	for _, p := range cs.Reads() {
		switch scope.TypeOf(p) {
		case "project", "cube", "cube_desc", "model_desc", "hybrid", "execute", "scheduler":
		default:
			t.Errorf("project scope read %s, which it only needs to know exists", p)
		}
	}
}

func TestSample5(t *testing.T) {
	needDir(t, sample5)
	src := sample(t, sample5)
	ctx := context.Background()

	layout, err := scope.DetectLayout(ctx, src)
	if err != nil || layout != scope.Layout5 {
		t.Fatalf("DetectLayout = %v, %v; want layout5", layout, err)
	}
	projects, err := scope.Projects(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(projects) != 29 || projects[0] != "bad_query_test" || !slices.Contains(projects, "default") {
		t.Errorf("Projects() = %q, want the 29 of /_global/project", projects)
	}

	// A project: /UUID, its project file and its folder.
	res, err := scope.Resolve(ctx, src, scope.ProjectScope("gc_test"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, "project/gc_test", res.Paths, []string{
		"/UUID",
		"/_global/project/gc_test.json",
		"/gc_test/dataflow/e0e90065-e7c3-49a0-a801-20465ca64799.json",
		"/gc_test/dataflow_details/e0e90065-e7c3-49a0-a801-20465ca64799/4f68d257-45ff-40bf-bf31-f7d2bd942b1d.json",
		"/gc_test/index_plan/e0e90065-e7c3-49a0-a801-20465ca64799.json",
		"/gc_test/model_desc/6381db2-802f-4a25-98f0-bfe021c304ed.json",
		"/gc_test/model_desc/e0e90065-e7c3-49a0-a801-20465ca64799.json",
		"/gc_test/table/DEFAULT.TEST_KYLIN_FACT.json",
		"/gc_test/table_exd/DEFAULT.TEST_KYLIN_FACT.json",
	})

	// A model by its unique alias (its segments' details only with
	// WithSegments: TestModelScope5).
	res, err = scope.Resolve(ctx, src, scope.CubeScope("test_bank"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const id = "b780e4e4-69af-449e-b09f-05c90dfa04b6"
	checkPaths(t, "cube/test_bank", res.Paths, []string{
		"/UUID",
		"/_global/project/default.json",
		"/default/dataflow/" + id + ".json",
		"/default/index_plan/" + id + ".json",
		"/default/model_desc/" + id + ".json",
		"/default/table/DEFAULT.TEST_BANK_INCOME.json",
		"/default/table/DEFAULT.TEST_BANK_LOCATION.json",
	})
	if res.Project != "default" || res.Model != "test_bank" ||
		!slices.Equal(res.Tables, []string{"DEFAULT.TEST_BANK_INCOME", "DEFAULT.TEST_BANK_LOCATION"}) {
		t.Errorf("cube/test_bank: got project %q model %q tables %q", res.Project, res.Model, res.Tables)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("cube/test_bank: unexpected warnings %v", res.Warnings)
	}

	// "m1" is the alias of models in gc_test and top_n: ambiguous, but
	// "gc_test.m1" resolves, with its table_exd.
	_, err = scope.Resolve(ctx, src, scope.CubeScope("m1"), scope.Options{})
	if !errors.Is(err, scope.ErrAmbiguousCube) || !strings.Contains(err.Error(), "gc_test.m1") {
		t.Errorf("Resolve(cube/m1) error = %v, want ErrAmbiguousCube naming gc_test.m1", err)
	}
	res, err = scope.Resolve(ctx, src, scope.CubeScope("gc_test.m1"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Paths, "/gc_test/table_exd/DEFAULT.TEST_KYLIN_FACT.json") ||
		slices.Contains(res.Paths, "/gc_test/model_desc/6381db2-802f-4a25-98f0-bfe021c304ed.json") {
		t.Errorf("cube/gc_test.m1: paths %q", res.Paths)
	}

	// A model whose descriptor cannot be parsed cannot be found, and says
	// why.
	_, err = scope.Resolve(ctx, src, scope.CubeScope("AUTO_MODEL_TEST_COUNTRY_1"), scope.Options{})
	if !errors.Is(err, scope.ErrUnknownCube) {
		t.Errorf("Resolve(cube/AUTO_MODEL_TEST_COUNTRY_1) error = %v, want ErrUnknownCube", err)
	}

	// Every name Cubes returns resolves.
	cubes, err := scope.Cubes(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"test_bank", "gc_test.m1", "top_n.m1", "default.nmodel_basic"} {
		if !slices.Contains(cubes, c) {
			t.Errorf("Cubes() lacks %q: %q", c, cubes)
		}
	}
	if slices.Contains(cubes, "m1") {
		t.Errorf("Cubes() lists the ambiguous alias m1")
	}
	for _, c := range cubes {
		if _, err := scope.Resolve(ctx, src, scope.CubeScope(c), scope.Options{}); err != nil {
			t.Errorf("Resolve(cube/%s) for a name of Cubes(): %v", c, err)
		}
	}
}

// TestSample5BrokenModel: the unparseable model of broken_test may be the
// one looked for, and the error says so.
func TestSample5BrokenModel(t *testing.T) {
	needDir(t, sample5)
	src := sample(t, sample5)
	_, err := scope.Resolve(context.Background(), src, scope.CubeScope("broken_test.AUTO_MODEL_TEST_COUNTRY_1"), scope.Options{})
	var nf *scope.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != scope.Cube {
		t.Fatalf("got %v, want a cube NotFoundError", err)
	}
	want := []string{"/broken_test/model_desc/3f8941de-d01c-42b8-91b5-44646390864b.json"}
	if !slices.Equal(nf.Unparsed, want) {
		t.Errorf("Unparsed = %q, want %q (error %v)", nf.Unparsed, want, err)
	}
}

// TestSampleTyped checks Kylin 5.0.2's sample metastore in the per-type
// layout (KYLIN-5945): detected as such, its projects and model aliases
// listed, the system scope holding everything, and project and model
// scopes of its keys only, never misread as Kylin 2.x-4.x.
func TestSampleTyped(t *testing.T) {
	ctx := context.Background()
	src := sample(t, metastoretest.Sample("kylin5-typed"))
	layout, err := scope.DetectLayout(ctx, src)
	if err != nil || layout != scope.LayoutTyped {
		t.Fatalf("DetectLayout = %s, %v; want %s", layout, err, scope.LayoutTyped)
	}
	projects, err := scope.Projects(ctx, src)
	if err != nil || len(projects) != 35 || !slices.Contains(projects, "default") {
		t.Errorf("Projects = %d %v, %v; want the 35 stems of /PROJECT/", len(projects), projects, err)
	}
	cubes, err := scope.Cubes(ctx, src)
	if err != nil || !slices.Contains(cubes, "default.nmodel_basic") || !slices.Contains(cubes, "AUTO_MODEL_TEST_ACCOUNT_1") {
		t.Errorf("Cubes = %v, %v; want the model aliases, qualified by their JSON project where shared", cubes, err)
	}
	for _, c := range cubes {
		if strings.Contains(c, "/") {
			t.Errorf("Cubes lists %q", c)
		}
	}
	res, err := scope.Resolve(ctx, src, scope.SystemScope(), scope.Options{})
	if err != nil || len(res.Paths) != 857 || res.Layout != scope.LayoutTyped {
		t.Errorf("system scope: %d paths, layout %s, %v; want 857, %s", len(res.Paths), res.Layout, err, scope.LayoutTyped)
	}
	// Project and model scopes are resolved (TestProjectScopeTyped,
	// TestModelScopeTyped), never misread as another layout's.
	for _, s := range []scope.Scope{scope.ProjectScope("default"), scope.CubeScope("default.nmodel_basic")} {
		res, err := scope.Resolve(ctx, src, s, scope.Options{})
		if err != nil || res.Layout != scope.LayoutTyped || len(res.Paths) == 0 {
			t.Errorf("Resolve(%s) = %v, %v; want the scope on %s", s, res, err, scope.LayoutTyped)
			continue
		}
		for _, p := range res.Paths {
			if !strings.HasPrefix(p, "/") || strings.Count(p, "/") != 2 || strings.ToUpper(scope.TypeOf(p)) != scope.TypeOf(p) {
				t.Errorf("Resolve(%s) lists %s, not a key of the per-type layout", s, p)
			}
		}
	}
	if got := scope.TypeOf("/MODEL/x.json"); got != "MODEL" {
		t.Errorf("TypeOf(/MODEL/x.json) = %q", got)
	}
}
