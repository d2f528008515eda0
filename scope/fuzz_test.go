package scope_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
)

// The fuzz targets below put fuzzed JSON where Kylin keeps the resources
// that scope rules follow (projects, cubes, cube and model descriptors,
// hybrids, jobs; Kylin 5 projects, models, index plans and dataflows) and
// resolve every kind of scope over them. The promise: Resolve never panics,
// never lists a resource the metastore lacks, never leaves the scope's own
// rules (a scope is part of the system), and fails only with the documented
// errors: the scope does not exist (ErrUnknownProject, ErrUnknownCube) or is
// ambiguous (ErrAmbiguousCube). Malformed JSON is a warning, never an error.

// FuzzResolve fuzzes a Kylin 2.x-4.x metastore.
func FuzzResolve(f *testing.F) {
	f.Add(
		[]byte(`{"uuid":"p-1","name":"learn","realizations":[{"type":"CUBE","realization":"sales"},{"type":"HYBRID","realization":"h1"}],"tables":["DEFAULT.FACT","DEFAULT.DIM"],"models":["m1"]}`),
		[]byte(`{"uuid":"c-1","name":"sales","descriptor":"sales","segments":[{"uuid":"s-1","name":"20240101_20240201","status":"READY","dictionaries":{"DEFAULT.FACT/COL":"/dict/DEFAULT.FACT/COL/d1.dict"},"snapshots":{"DEFAULT.DIM":"/table_snapshot/DEFAULT.DIM/s1.snapshot"}}]}`),
		[]byte(`{"uuid":"d-1","name":"sales","model_name":"m1"}`),
		[]byte(`{"uuid":"m-1","name":"m1","fact_table":"DEFAULT.FACT","join_tables":[{"table":"DEFAULT.DIM"}],"lookups":[{"table":"dim"}]}`),
		[]byte(`{"realizations":[{"type":"CUBE","realization":"sales"}]}`),
		[]byte(`{"params":{"projectName":"learn","cubeName":"sales","segmentId":"s-1"},"tasks":[{"uuid":"j-1-00"}]}`),
	)
	// Paths that are no keys, and types that are not what Kylin writes.
	f.Add(
		[]byte(`{"realizations":[{"type":"CUBE","realization":"../../etc/passwd"}],"tables":["/abs","a/../b",""],"models":[null]}`),
		[]byte(`{"descriptor":"../x","segments":[{"dictionaries":{"a":"/dict/../../x","b":"relative","c":"/dict//x","d":"/dict/x\u0000y"},"snapshots":[1,2]}]}`),
		[]byte(`{"model_name":["not","a","string"]}`),
		[]byte(`{"fact_table":"DB.T/../../U","join_tables":[{"table":"."}],"lookups":"x"}`),
		[]byte(`{"realizations":[{"type":"HYBRID","realization":"h1"}]}`),
		[]byte(`{"params":{"projectName":1,"cubeName":null},"tasks":{}}`),
	)
	f.Add([]byte(`{`), []byte(`[]`), []byte(`null`), []byte("\xff\xfe"), []byte(`"s"`), []byte(``))
	f.Fuzz(func(t *testing.T, project, cube, cubeDesc, model, hybrid, job []byte) {
		src := memory.New()
		put := func(p string, data []byte) {
			if err := src.Write(context.Background(), metastore.Resource{Path: p, Data: data, Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		put("/UUID", []byte("\x00\x24d0c1fbd1-9a93-4e59-9d9d-7f2a5b8e1a11"))
		put("/project/learn.json", project)
		put("/cube/sales.json", cube)
		put("/cube_desc/sales.json", cubeDesc)
		put("/model_desc/m1.json", model)
		put("/hybrid/h1.json", hybrid)
		put("/execute/j-1", job)
		put("/execute_output/j-1-00", []byte(`{"status":"SUCCEED"}`))
		put("/table/DEFAULT.FACT.json", []byte(`{"name":"FACT"}`))
		put("/table/DEFAULT.DIM--learn.json", []byte(`{"name":"DIM"}`))
		put("/table_exd/DEFAULT.FACT.json", []byte(`{}`))
		put("/dict/DEFAULT.FACT/COL/d1.dict", []byte("dict"))
		put("/table_snapshot/DEFAULT.DIM/s1.snapshot", []byte("snap"))
		put("/cube_statistics/sales/s-1.seq", []byte("stats"))
		put("/acl/p-1", []byte(`{}`))
		checkScopes(t, src, []scope.Scope{
			scope.ProjectScope("learn"), scope.CubeScope("sales"), scope.CubeScope("h1"),
		}, scope.ProjectScope("absent"), scope.CubeScope("absent"))
	})
}

// FuzzResolve5 fuzzes a Kylin 5 metastore.
func FuzzResolve5(f *testing.F) {
	f.Add(
		[]byte(`{"uuid":"p-1","name":"p1"}`),
		[]byte(`{"uuid":"m-1","alias":"sales","fact_table":"SSB.LINEORDER","join_tables":[{"table":"SSB.CUSTOMER"}]}`),
		[]byte(`{"uuid":"m-1"}`),
		[]byte(`{"uuid":"m-1","segments":[]}`),
	)
	f.Add(
		[]byte(`{"uuid":"../../x"}`),
		[]byte(`{"uuid":"other","alias":"sales","fact_table":"../T","join_tables":[{"table":"A/B"},{"table":""}]}`),
		[]byte(`[`),
		[]byte(`{"uuid":1}`),
	)
	f.Add([]byte(`null`), []byte(`{"alias":"p1.sales"}`), []byte(`{}`), []byte("\x00"))
	f.Fuzz(func(t *testing.T, project, model, indexPlan, dataflow []byte) {
		src := memory.New()
		put := func(p string, data []byte) {
			if err := src.Write(context.Background(), metastore.Resource{Path: p, Data: data, Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		put("/_global/project/p1.json", project)
		put("/_global/project/p2.json", []byte(`{"uuid":"p-2"}`))
		put("/_global/user/ADMIN", []byte(`{}`))
		put("/_global/acl/p-1", []byte(`{}`))
		put("/p1/model_desc/m-1.json", model)
		put("/p1/index_plan/m-1.json", indexPlan)
		put("/p1/dataflow/m-1.json", dataflow)
		put("/p1/dataflow_details/m-1/seg.json", []byte(`{}`))
		put("/p1/table/SSB.LINEORDER.json", []byte(`{}`))
		put("/p1/table_exd/SSB.LINEORDER.json", []byte(`{}`))
		put("/p2/model_desc/m-2.json", model)
		checkScopes(t, src, []scope.Scope{
			scope.ProjectScope("p1"), scope.CubeScope("sales"), scope.CubeScope("p1.sales"),
		}, scope.ProjectScope("absent"), scope.CubeScope("absent"))
	})
}

// checkScopes resolves the system scope, each of scopes (which may or may
// not exist, given the fuzzed content), and the missing project and cube,
// and checks what Resolve promises.
func checkScopes(t *testing.T, src metastore.Source, scopes []scope.Scope, missingProject, missingCube scope.Scope) {
	t.Helper()
	ctx := context.Background()
	sys, err := scope.Resolve(ctx, src, scope.SystemScope(), scope.Options{})
	if err != nil {
		t.Fatalf("system scope: %v", err)
	}
	all := map[string]bool{}
	for _, p := range sys.Paths {
		all[p] = true
	}
	for _, s := range scopes {
		for _, seg := range []bool{false, true} {
			res, err := scope.Resolve(ctx, src, s, scope.Options{WithSegments: seg})
			if err != nil {
				if !errors.Is(err, scope.ErrUnknownProject) && !errors.Is(err, scope.ErrUnknownCube) && !errors.Is(err, scope.ErrAmbiguousCube) {
					t.Fatalf("%s: error %v is none of the documented ones", s, err)
				}
				continue
			}
			if !sort.StringsAreSorted(res.Paths) {
				t.Fatalf("%s: paths not sorted: %q", s, res.Paths)
			}
			for i, p := range res.Paths {
				if !all[p] {
					t.Fatalf("%s: lists %q, which the metastore does not have", s, p)
				}
				if i > 0 && res.Paths[i-1] == p {
					t.Fatalf("%s: lists %q twice", s, p)
				}
			}
			for _, w := range res.Warnings {
				if w.Path == "" || w.Message == "" {
					t.Fatalf("%s: warning without a path or a message: %+v", s, w)
				}
			}
		}
	}
	for _, c := range []struct {
		s    scope.Scope
		want error
	}{{missingProject, scope.ErrUnknownProject}, {missingCube, scope.ErrUnknownCube}} {
		_, err := scope.Resolve(ctx, src, c.s, scope.Options{})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.s.Name) {
			t.Fatalf("%s: error %v, want %v naming %q", c.s, err, c.want, c.s.Name)
		}
	}
}
