package scope_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// sample5Copy copies the Kylin 5 sample metastore into memory, plus extra
// resources, so that a test can add what the sample lacks.
func sample5Copy(t *testing.T, extra ...metastore.Resource) *memory.Store {
	t.Helper()
	ctx := context.Background()
	m := metastoretest.MemoryCopy(t, sample(t, sample5))
	for _, r := range extra {
		if err := m.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

const testBankID = "b780e4e4-69af-449e-b09f-05c90dfa04b6"

// Kylin 5 globals that the sample lacks, for the tests of where they
// belong: the legacy single user group file, and logical views of two
// projects and one that cannot be parsed.
var globals5 = []metastore.Resource{
	{Path: "/_global/user_group", Data: []byte(`{"groups":["ALL_USERS","ROLE_ADMIN"]}`), Timestamp: 1},
	{Path: "/_global/logical_view/V_GC", Data: []byte(`{"table_name":"V_GC","created_sql":"select 1","created_project":"gc_test"}`), Timestamp: 1},
	{Path: "/_global/logical_view/V_DEFAULT", Data: []byte(`{"table_name":"V_DEFAULT","created_project":"default"}`), Timestamp: 1},
	{Path: "/_global/logical_view/V_BROKEN", Data: []byte(`{"created_project":"gc_test",`), Timestamp: 1},
}

// TestModelScope5 is the model scope of Kylin 5 (scope's doc, "Kylin 5"),
// on the Kylin 5 sample: a model named by alias, PROJECT.alias, uuid or
// PROJECT.uuid holds /UUID, its project file, model_desc, index_plan,
// dataflow, the tables it uses and their table_exd when they exist;
// WithSegments adds the dataflow_details of the segments its dataflow
// lists, those that exist (never one of a segment it does not list); no
// global user group file or logical view is in a model scope.
func TestModelScope5(t *testing.T) {
	src := sample5Copy(t, globals5...)
	testBank := []string{
		"/UUID",
		"/_global/project/default.json",
		"/default/dataflow/" + testBankID + ".json",
		"/default/index_plan/" + testBankID + ".json",
		"/default/model_desc/" + testBankID + ".json",
		"/default/table/DEFAULT.TEST_BANK_INCOME.json",
		"/default/table/DEFAULT.TEST_BANK_LOCATION.json",
	}
	testBankSegs := append(slices.Clone(testBank),
		"/default/dataflow_details/"+testBankID+"/0db919f3-1359-496c-aab5-b6f3951adc0e.json",
		"/default/dataflow_details/"+testBankID+"/73570f31-05a5-448f-973c-44209830dd01.json",
		"/default/dataflow_details/"+testBankID+"/d2edf0c5-5eb2-4968-9ad5-09efbf659324.json",
		"/default/dataflow_details/"+testBankID+"/ff839b0b-2c23-4420-b332-0df70e36c343.json")
	slices.Sort(testBankSegs)
	const partial = "82fa7671-a935-45f5-8779-85703601f49a" // no dataflow_details
	const m1 = "e0e90065-e7c3-49a0-a801-20465ca64799"
	// Its one segment has no details; the one detail it has is of a
	// segment the dataflow does not list.
	const orphan = "acfde546-2cc9-4eec-bc92-e3bd46d4e2bf"
	gcM1 := []string{
		"/UUID",
		"/_global/project/gc_test.json",
		"/gc_test/dataflow/" + m1 + ".json",
		"/gc_test/index_plan/" + m1 + ".json",
		"/gc_test/model_desc/" + m1 + ".json",
		"/gc_test/table/DEFAULT.TEST_KYLIN_FACT.json",
		"/gc_test/table_exd/DEFAULT.TEST_KYLIN_FACT.json",
	}
	gcM1Segs := append(slices.Clone(gcM1), "/gc_test/dataflow_details/"+m1+"/4f68d257-45ff-40bf-bf31-f7d2bd942b1d.json")
	slices.Sort(gcM1Segs)
	orphanScope := []string{
		"/UUID",
		"/_global/project/table_index.json",
		"/table_index/dataflow/" + orphan + ".json",
		"/table_index/index_plan/" + orphan + ".json",
		"/table_index/model_desc/" + orphan + ".json",
		"/table_index/table/DEFAULT.TEST_KYLIN_FACT.json",
		"/table_index/table/DEFAULT.TEST_ORDER.json",
	}
	for _, c := range []struct {
		name, model string
		segments    bool
		want        []string
		project, id string
	}{
		{name: "alias", model: "test_bank", want: testBank, project: "default", id: testBankID},
		{name: "project.alias", model: "default.test_bank", want: testBank, project: "default", id: testBankID},
		{name: "uuid", model: testBankID, want: testBank, project: "default", id: testBankID},
		{name: "project.uuid", model: "default." + testBankID, want: testBank, project: "default", id: testBankID},
		{name: "with segments", model: "test_bank", segments: true, want: testBankSegs, project: "default", id: testBankID},
		{name: "orphan detail", model: "table_index." + orphan, segments: true, want: orphanScope, project: "table_index", id: orphan},
		{name: "table_exd with segments", model: "gc_test.m1", segments: true, project: "gc_test", id: m1, want: gcM1Segs},
		{name: "no segment details", model: "ut_inner_join_cube_partial", project: "default", id: partial, want: []string{
			"/UUID",
			"/_global/project/default.json",
			"/default/dataflow/" + partial + ".json",
			"/default/index_plan/" + partial + ".json",
			"/default/model_desc/" + partial + ".json",
			"/default/table/DEFAULT.TEST_ACCOUNT.json",
			"/default/table/DEFAULT.TEST_CATEGORY_GROUPINGS.json",
			"/default/table/DEFAULT.TEST_COUNTRY.json",
			"/default/table/DEFAULT.TEST_KYLIN_FACT.json",
			"/default/table/DEFAULT.TEST_ORDER.json",
			"/default/table/EDW.TEST_CAL_DT.json",
			"/default/table/EDW.TEST_SELLER_TYPE_DIM.json",
			"/default/table/EDW.TEST_SITES.json",
		}},
		{name: "table_exd", model: "gc_test.m1", project: "gc_test", id: m1, want: gcM1},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := scope.Resolve(context.Background(), src, scope.CubeScope(c.model), scope.Options{WithSegments: c.segments})
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, c.model, res.Paths, c.want)
			if res.Project != c.project || res.ModelID != c.id || res.Layout != scope.Layout5 {
				t.Errorf("project %q, model id %q, layout %s; want %q, %q, layout5", res.Project, res.ModelID, res.Layout, c.project, c.id)
			}
		})
	}
}

// TestModelNames5 checks the errors of model names on Kylin 5: an alias or
// uuid of several models is ambiguous (the message lists PROJECT.alias
// names, which resolve), an unknown one is not found with close names.
func TestModelNames5(t *testing.T) {
	ctx := context.Background()
	// The same model (test_bank, one uuid) in a second project, as a
	// restore-model into another project leaves it.
	src := sample5Copy(t)
	err := src.List(ctx, "/default/", func(p string) error {
		if !strings.Contains(p, testBankID) && !strings.Contains(p, "/table/DEFAULT.TEST_BANK_") {
			return nil
		}
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		r.Path = "/gc_test/" + strings.TrimPrefix(p, "/default/")
		return src.Write(ctx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model   string
		err     error
		mention []string
	}{
		{"m1", scope.ErrAmbiguousCube, []string{"is the alias of 2 models", "gc_test.m1", "top_n.m1", "PROJECT.alias"}},
		{"test_bank", scope.ErrAmbiguousCube, []string{"default.test_bank", "gc_test.test_bank"}},
		{testBankID, scope.ErrAmbiguousCube, []string{"is the uuid of 2 models", "default.test_bank", "gc_test.test_bank"}},
		{"test_bnk", scope.ErrUnknownCube, []string{"closest: default.test_bank, gc_test.test_bank"}},
		{"b780e4e4-69af-449e-b09f-05c90dfa04b7", scope.ErrUnknownCube, nil},
		{"nosuch.test_bank", scope.ErrUnknownCube, nil},
	} {
		_, err := scope.Resolve(ctx, src, scope.CubeScope(c.model), scope.Options{})
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.model, err, c.err)
			continue
		}
		for _, m := range c.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: %v does not say %q", c.model, err, m)
			}
		}
	}
	// The choices an ambiguous name lists resolve, each to its project.
	for _, p := range []string{"default", "gc_test"} {
		for _, name := range []string{p + ".test_bank", p + "." + testBankID} {
			res, err := scope.Resolve(ctx, src, scope.CubeScope(name), scope.Options{})
			if err != nil || res.Project != p || !slices.Contains(res.Paths, "/"+p+"/model_desc/"+testBankID+".json") {
				t.Errorf("%s: %v, project %q", name, err, res.Project)
			}
		}
	}
}

// TestGlobals5 checks the home of Kylin 5's global resources beyond users
// and groups: the legacy single file "/_global/user_group" belongs to every
// project scope (as "/user_group" does on Kylin 2.x-4.x) and the system
// scope; "/_global/logical_view/NAME" to the project scope its
// "created_project" names and the system scope; neither to a model scope.
func TestGlobals5(t *testing.T) {
	ctx := context.Background()
	src := sample5Copy(t, globals5...)
	for _, c := range []struct {
		scope     scope.Scope
		want, not []string
		warn      string
	}{
		{scope.SystemScope(), []string{"/_global/user_group", "/_global/logical_view/V_GC", "/_global/logical_view/V_DEFAULT", "/_global/logical_view/V_BROKEN"}, nil, ""},
		{scope.ProjectScope("gc_test"), []string{"/_global/user_group", "/_global/logical_view/V_GC"}, []string{"/_global/logical_view/V_DEFAULT", "/_global/logical_view/V_BROKEN"}, "/_global/logical_view/V_BROKEN"},
		{scope.ProjectScope("default"), []string{"/_global/user_group", "/_global/logical_view/V_DEFAULT"}, []string{"/_global/logical_view/V_GC", "/_global/logical_view/V_BROKEN"}, ""},
		{scope.ProjectScope("top_n"), []string{"/_global/user_group"}, []string{"/_global/logical_view/V_GC", "/_global/logical_view/V_DEFAULT"}, ""},
		{scope.CubeScope("gc_test.m1"), nil, []string{"/_global/user_group", "/_global/logical_view/V_GC"}, ""},
	} {
		res, err := scope.Resolve(ctx, src, c.scope, scope.Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.scope, err)
		}
		for _, p := range c.want {
			if !slices.Contains(res.Paths, p) {
				t.Errorf("%s lacks %s", c.scope, p)
			}
		}
		for _, p := range c.not {
			if slices.Contains(res.Paths, p) {
				t.Errorf("%s holds %s", c.scope, p)
			}
		}
		warned := ""
		for _, w := range res.Warnings {
			if strings.HasPrefix(w.Path, "/_global/") {
				warned = w.Path
			}
		}
		if warned != c.warn {
			t.Errorf("%s: warning about %q, want %q (%v)", c.scope, warned, c.warn, res.Warnings)
		}
	}
}

// TestUnparsableDataflow5 checks that a model whose dataflow cannot be
// parsed keeps its scope (the dataflow included) but, with WithSegments,
// gets no segment details, and a warning on the dataflow that says so.
func TestUnparsableDataflow5(t *testing.T) {
	dfKey := "/default/dataflow/" + testBankID + ".json"
	src := sample5Copy(t, metastore.Resource{Path: dfKey, Data: []byte(`{"segments":[`), Timestamp: 1})
	res, err := scope.Resolve(context.Background(), src, scope.CubeScope("test_bank"), scope.Options{WithSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Paths {
		if strings.Contains(p, "/dataflow_details/") {
			t.Errorf("segment details %s in the scope of a model whose dataflow cannot be parsed", p)
		}
	}
	if !slices.Contains(res.Paths, dfKey) {
		t.Errorf("%s missing from %q", dfKey, res.Paths)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Path != dfKey || !strings.Contains(res.Warnings[0].Message, "the model's segments are left out") {
		t.Errorf("warnings %v, want one on %s that says the model's segments are left out", res.Warnings, dfKey)
	}
}
