package scope_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// The model nmodel_basic of project default in Kylin 5.0.2's sample
// metastore (testdata/kylin5-typed): 11 computed columns, 8 table
// relations, one segment with its layout, no layout details.
const (
	typedBasic = "89af4ee2-2cdb-4b07-b39e-4c29856309aa"
	// ut_inner_join_cube_partial of storage_v3_test: two segments and
	// three layout details.
	typedPartial = "7d840904-7b34-4edd-aabd-79df992ef32e"
)

// typedFieldIndex is the sample with an index of its JSON fields, as the
// per-type tables keep them in columns (metastore.FieldLister); it counts
// the resources read.
type typedFieldIndex struct {
	metastore.Source
	index map[string][]string // "/TYPE/|field|value" -> keys
	reads atomic.Int64
}

func (s *typedFieldIndex) Read(ctx context.Context, p string) (metastore.Resource, error) {
	s.reads.Add(1)
	return s.Source.Read(ctx, p)
}

func (s *typedFieldIndex) ListField(ctx context.Context, folder, field, value string, fn func(string) error) (bool, error) {
	if field == "segment_uuids" {
		return false, nil // no column holds it
	}
	for _, k := range s.index[folder+"|"+field+"|"+value] {
		if err := fn(k); err != nil {
			return true, err
		}
	}
	return true, nil
}

func typedIndexed(t *testing.T) *typedFieldIndex {
	t.Helper()
	ctx := context.Background()
	src := sample(t, metastoretest.Sample("kylin5-typed"))
	ix := &typedFieldIndex{Source: src, index: map[string][]string{}}
	err := src.List(ctx, "/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		var doc map[string]any
		if json.Unmarshal(r.Data, &doc) != nil {
			return nil
		}
		folder := p[:strings.LastIndexByte(p, '/')+1]
		for f, v := range doc {
			if s, ok := v.(string); ok {
				ix.index[folder+"|"+f+"|"+s] = append(ix.index[folder+"|"+f+"|"+s], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// typedProjectWant is the project scope of the per-type layout computed
// the simple way, reading every resource: its project file, every resource
// whose "project" is P (LOGICAL_VIEW: "created_project"), all users and
// groups, the OBJECT_ACL of the project's uuid.
func typedProjectWant(t *testing.T, src metastore.Source, project string) []string {
	t.Helper()
	ctx := context.Background()
	var want []string
	var projectUUID string
	err := src.List(ctx, "/", func(p string) error {
		typ := scope.TypeOf(p)
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		var doc map[string]any
		json.Unmarshal(r.Data, &doc)
		field := "project"
		switch typ {
		case "PROJECT":
			if p == "/PROJECT/"+project+".json" {
				want = append(want, p)
				projectUUID, _ = doc["uuid"].(string)
			}
			return nil
		case "USER_INFO", "USER_GROUP":
			want = append(want, p)
			return nil
		case "SYSTEM", "RESOURCE_GROUP", "HISTORY_SOURCE_USAGE", "USER_GLOBAL_ACL", "OBJECT_ACL":
			return nil
		case "LOGICAL_VIEW":
			field = "created_project"
		}
		if doc[field] == project {
			want = append(want, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := src.(metastore.Exister); ok != nil && projectUUID != "" {
		if found, _ := ok.Exists(ctx, "/OBJECT_ACL/"+projectUUID+".json"); found {
			want = append(want, "/OBJECT_ACL/"+projectUUID+".json")
		}
	}
	sort.Strings(want)
	return want
}

// TestProjectScopeTyped: a project scope of the per-type layout holds its
// project file and every resource whose JSON names the project (scope's
// doc, "Kylin 5's per-type layout"), the same whether the source can list
// by field (then it reads only the project file) or must read them all.
func TestProjectScopeTyped(t *testing.T) {
	ctx := context.Background()
	ix := typedIndexed(t)
	for _, project := range []string{"default", "storage_v3_test", "streaming_test", "ssb"} {
		want := typedProjectWant(t, ix.Source, project)
		for _, src := range []metastore.Source{ix.Source, ix} {
			ix.reads.Store(0)
			res, err := scope.Resolve(ctx, src, scope.ProjectScope(project), scope.Options{})
			if err != nil {
				t.Fatalf("Resolve(project/%s): %v", project, err)
			}
			if !slices.Equal(res.Paths, want) {
				t.Errorf("project/%s (%T): %d paths\n%q\nwant %d\n%q", project, src, len(res.Paths), res.Paths, len(want), want)
			}
			if src == ix && ix.reads.Load() != 1 {
				t.Errorf("project/%s through a FieldLister read %d resources, want 1 (the project file)", project, ix.reads.Load())
			}
		}
	}
	if len(typedProjectWant(t, ix.Source, "default")) < 100 {
		t.Errorf("the default project of the sample should hold more than 100 resources")
	}
	_, err := scope.Resolve(ctx, ix.Source, scope.ProjectScope("defualt"), scope.Options{})
	var nf *scope.NotFoundError
	if !asNotFound(err, &nf) || !slices.Contains(nf.Closest, "default") {
		t.Errorf("unknown project: %v; want a NotFoundError suggesting default", err)
	}
}

func asNotFound(err error, nf **scope.NotFoundError) bool {
	for err != nil {
		if e, ok := err.(*scope.NotFoundError); ok {
			*nf = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestModelScopeTyped: a model scope of the per-type layout holds the
// project file, MODEL, INDEX_PLAN and DATAFLOW of the model's uuid, its
// tables and their TABLE_EXD (keys "P.DB.T"), its TABLE_MODEL_RELATION
// and CC_MODEL_RELATION and the COMPUTE_COLUMN these name; WithSegments
// adds the SEGMENT and LAYOUT of each of the dataflow's segment_uuids and
// the LAYOUT_DETAILS of the model.
func TestModelScopeTyped(t *testing.T) {
	ctx := context.Background()
	ix := typedIndexed(t)
	tables := func(project string, names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, "/TABLE_INFO/"+project+"."+n+".json")
		}
		return out
	}
	joined := []string{"DEFAULT.TEST_KYLIN_FACT", "DEFAULT.TEST_ORDER", "EDW.TEST_SELLER_TYPE_DIM", "EDW.TEST_CAL_DT",
		"DEFAULT.TEST_CATEGORY_GROUPINGS", "EDW.TEST_SITES", "DEFAULT.TEST_COUNTRY", "DEFAULT.TEST_ACCOUNT"}
	basic := append([]string{"/PROJECT/default.json", "/MODEL/" + typedBasic + ".json", "/INDEX_PLAN/" + typedBasic + ".json",
		"/DATAFLOW/" + typedBasic + ".json"}, tables("default", joined...)...)
	for _, rel := range []string{"41c2a83e-0790-9a03-82b1-4d66166f40eb", "0fdf4cae-080e-fbaa-2fca-338e2bb5caae", "588b985e-4bda-d544-d5cb-f244974e0ab5",
		"46be4e53-654c-0ca9-4091-c26794ddfc3b", "831e66b8-1fba-c525-d0af-1b0cd8511c55", "f0cbec6f-2a6d-6035-9337-eddd0c75c864",
		"28283441-06f5-bb6b-42fe-9bfacc379748", "1ad2d0c1-6849-80ac-5ca2-e130737603b4", "f8ec2e41-3369-19e4-1481-6bdb6bc46481",
		"0ac8764e-6ef8-31f6-7d23-1d06fac27d7e", "03a09187-b469-3da9-9eed-21a34121ba6e"} {
		basic = append(basic, "/CC_MODEL_RELATION/"+rel+".json")
	}
	for _, cc := range []string{"c3c2f7cd-7791-0699-6765-5614f0aabc4e", "853ad3fd-3b83-cbdd-0f83-d6cc01311684", "17451a40-517b-c600-55ad-b0687d6acb0a",
		"8f5ccdd1-04f3-60b1-8b06-8afbcf69b485", "ad380864-bef1-6179-859b-2efddd2095a3", "928e946b-0b91-6fa2-78ca-62152b0d1a89",
		"062c8165-4c29-cf1a-ea4e-a037c2c43d7c", "0bb970a6-1959-38ea-d51c-447b94ae4d6b", "0fca1a9a-d114-fa1b-2109-e4eaac8e4889",
		"b3583860-650a-f3fe-2dd5-933066a0f71e", "2e7692d7-46ab-2ae6-153c-6aea8a42fd01"} {
		basic = append(basic, "/COMPUTE_COLUMN/"+cc+".json")
	}
	for _, rel := range []string{"1ee152ca-0c3c-c973-c98c-308410eedfc3", "b696894e-c04e-9b3c-574b-4f8665c2c39b", "0d37fd36-a7a1-e519-191b-05673aa88697",
		"d1990727-b362-11c7-7e98-b4d09a66f59e", "911a3c84-2213-27e0-d659-76d3509e241d", "e9cd11fe-5e3d-392c-a116-f475c5601df4",
		"25fb1707-bde2-4d8b-2e00-787417e32fdc", "e7976cdb-9839-3348-e5b5-532d5bd19216"} {
		basic = append(basic, "/TABLE_MODEL_RELATION/"+rel+".json")
	}
	basicSegs := []string{"/SEGMENT/ef5e0663-feba-4ed2-b71c-21958122bbff.json", "/LAYOUT/ef5e0663-feba-4ed2-b71c-21958122bbff.json"}
	partial := append([]string{"/PROJECT/storage_v3_test.json", "/MODEL/" + typedPartial + ".json", "/INDEX_PLAN/" + typedPartial + ".json",
		"/DATAFLOW/" + typedPartial + ".json", "/TABLE_MODEL_RELATION/0d37fd36-r7a1-e519-191b-056735a88697.json"}, tables("storage_v3_test", joined...)...)
	partialSegs := []string{"/SEGMENT/86b5daaa-e295-4e8c-b877-f97bda6acee5.json", "/LAYOUT/86b5daaa-e295-4e8c-b877-f97bda6acee5.json",
		"/SEGMENT/86b5daaa-e295-4e8c-b877-f97bda69be13.json", "/LAYOUT/86b5daaa-e295-4e8c-b877-f97bda69be13.json",
		"/LAYOUT_DETAILS/" + typedPartial + "-1.json", "/LAYOUT_DETAILS/" + typedPartial + "-20001.json", "/LAYOUT_DETAILS/" + typedPartial + "-30001.json"}
	for _, c := range []struct {
		name     string
		segments bool
		want     []string
	}{
		{"default.nmodel_basic", false, basic},
		{typedBasic, true, append(slices.Clone(basic), basicSegs...)},
		{"storage_v3_test.ut_inner_join_cube_partial", false, partial},
		{"storage_v3_test." + typedPartial, true, append(slices.Clone(partial), partialSegs...)},
	} {
		sort.Strings(c.want)
		for _, src := range []metastore.Source{ix.Source, ix} {
			res, err := scope.Resolve(ctx, src, scope.CubeScope(c.name), scope.Options{WithSegments: c.segments})
			if err != nil {
				t.Fatalf("Resolve(cube/%s): %v", c.name, err)
			}
			if !slices.Equal(res.Paths, c.want) {
				t.Errorf("cube/%s segments=%v (%T):\n%q\nwant\n%q", c.name, c.segments, src, res.Paths, c.want)
			}
			if res.Layout != scope.LayoutTyped || res.ModelID == "" || res.Project == "" {
				t.Errorf("cube/%s: layout %s, model %q, project %q", c.name, res.Layout, res.ModelID, res.Project)
			}
			for _, w := range res.Warnings {
				t.Errorf("cube/%s: warning %s", c.name, w)
			}
		}
	}
}
