package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// -update rewrites the golden files under testdata/ (registered only once,
// whichever test file of the package asks first).
var _ = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	return true
}()

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(name))
	if updating() {
		metastoretest.WriteFile(t, path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./snapshot -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (run with -update if the change is right):\n%s", path, got)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// kylin edits a metastore the way Kylin does: it rewrites whole resources
// and stamps them with the time of the write.
type kylin struct {
	t   *testing.T
	m   *memory.Store
	now int64
}

func (k *kylin) tick() int64 { k.now += 1000; return k.now }

func (k *kylin) read(p string) []byte {
	k.t.Helper()
	r, err := k.m.Read(context.Background(), p)
	if err != nil {
		k.t.Fatal(err)
	}
	return r.Data
}

func (k *kylin) put(p string, data []byte) {
	k.t.Helper()
	if err := k.m.Write(context.Background(), metastore.Resource{Path: p, Data: data, Timestamp: k.tick()}); err != nil {
		k.t.Fatal(err)
	}
}

// edit replaces each old text of the resource by its new text (each must
// occur exactly once; "\n" stands for the resource's own line ending) and
// writes it back.
func (k *kylin) edit(p string, oldNew ...string) {
	k.t.Helper()
	s := string(k.read(p))
	crlf := strings.Contains(s, "\r\n")
	for i := 0; i < len(oldNew); i += 2 {
		o, n := oldNew[i], oldNew[i+1]
		if crlf {
			o, n = strings.ReplaceAll(o, "\n", "\r\n"), strings.ReplaceAll(n, "\n", "\r\n")
		}
		if c := strings.Count(s, o); c != 1 {
			k.t.Fatalf("%s: %q occurs %d times", p, o, c)
		}
		s = strings.Replace(s, o, n, 1)
	}
	k.put(p, []byte(s))
}

func (k *kylin) del(p string) {
	k.t.Helper()
	if err := k.m.Delete(context.Background(), p); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kylin) touch(p string) { k.put(p, k.read(p)) }

// rewriteHeader returns a dictionary or snapshot with its writeUTF JSON
// header edited (old/new pairs) and the rest of the bytes kept.
func rewriteHeader(t *testing.T, data []byte, oldNew ...string) []byte {
	t.Helper()
	n := int(data[0])<<8 | int(data[1])
	h := string(data[2 : 2+n])
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(h, oldNew[i]) {
			t.Fatalf("header has no %q", oldNew[i])
		}
		h = strings.Replace(h, oldNew[i], oldNew[i+1], 1)
	}
	out := []byte{byte(len(h) >> 8), byte(len(h))}
	out = append(out, h...)
	return append(out, data[2+n:]...)
}

const (
	slrCube2   = "/cube/test_kylin_cube_with_slr_ready_2_segments.json"
	slrNewCube = "/cube/test_kylin_cube_with_slr_1_new_segment.json"
	slrDesc    = "/cube_desc/test_kylin_cube_with_slr_desc.json"
	priceDict  = "/dict/TEST_KYLIN_FACT/PRICE/927dde3f-6999-4434-b57c-adfa73160334.dict"
	siteDict   = "/dict/TEST_SITES/SITE_ID/652bd393-678a-4f16-a504-fd8ce1229355.dict"
	siteDict2  = "/dict/TEST_SITES/SITE_ID/5b2c5c7e-0d0e-4f3b-9a61-2f7d9d3c1e42.dict"
	buildJob   = "2c4b9f0e-8d51-4e0c-b1f7-6a3c2d9e4f10"
)

// kylinChanges are changes Kylin really makes, applied to the Kylin 3.1.3
// sample metastore.
var kylinChanges = []struct {
	name  string
	apply func(k *kylin)
}{
	{"segment_added", func(k *kylin) {
		// A build of the next month starts: Kylin appends a NEW segment.
		k.edit(slrCube2,
			`"last_modified" : 1404098141020,`, `"last_modified" : 1700000001000,`,
			"  } ],\n  \"status\" : \"READY\",", `  }, {
    "uuid" : "3aeca32a-a33e-4b69-83dd-xxe8b1f8dddd",
    "name" : "20131212000000_20140112000000",
    "storage_location_identifier" : null,
    "date_range_start" : 1386835200000,
    "date_range_end" : 1389513600000,
    "status" : "NEW",
    "size_kb" : 0,
    "source_records" : 0,
    "source_records_size" : 0,
    "last_build_time" : 0,
    "last_build_job_id" : null,
    "binary_signature" : null,
    "dictionaries" : null,
    "snapshots" : null
  } ],
  "status" : "READY",`)
	}},
	{"segment_built", func(k *kylin) {
		// The build finishes: the segment is READY, the cube enabled.
		k.edit(slrNewCube,
			`"last_modified" : 1404098141020,`, `"last_modified" : 1700000002000,`,
			`"status" : "NEW",`, `"status" : "READY",`,
			`"size_kb" : 0,`, `"size_kb" : 7801,`,
			`"source_records" : 0,`, `"source_records" : 10000,`,
			`"source_records_size" : 0,`, `"source_records_size" : 608012,`,
			`"last_build_time" : 0,`, `"last_build_time" : 1700000001999,`,
			`"last_build_job_id" : null,`, `"last_build_job_id" : "`+buildJob+`",`,
			`"status" : "DISABLED",`, `"status" : "READY",`)
	}},
	{"dimension_removed", func(k *kylin) {
		// SELLER_ID is dropped from the cube: dimension, rowkey column,
		// aggregation group.
		k.edit(slrDesc,
			`  }, {
    "name" : "SELLER_ID",
    "table" : "DEFAULT.TEST_KYLIN_FACT",
    "column" : "SELLER_ID",
    "derived" : null
  } ],`, `  } ],`,
			`{
      "column" : "seller_id",
      "encoding" : "int:4",
      "isShardBy" : true
    }, {
      "column" : "cal_dt",`, `{
      "column" : "cal_dt",`,
			`"meta_categ_name", "seller_id", "slr_segment_cd" ]`, `"meta_categ_name", "slr_segment_cd" ]`,
			`"mandatory_dims" : ["seller_id"],`, `"mandatory_dims" : [ ],`,
			`"last_modified" : 1448959801271,`, `"last_modified" : 1700000003000,`)
	}},
	{"column_added", func(k *kylin) {
		// Reloading the Hive table picks up a new column.
		k.edit("/table/EDW.TEST_SITES.json", `    "id" : "10",
    "name" : "SITES_UPD_USER",
    "datatype" : "string"
  } ],`, `    "id" : "10",
    "name" : "SITES_UPD_USER",
    "datatype" : "string"
  }, {
    "id" : "11",
    "name" : "SITE_REGION",
    "datatype" : "varchar(64)"
  } ],`, `"last_modified" : 0`, `"last_modified" : 1700000004000`)
	}},
	{"project_gains_cube", func(k *kylin) {
		// A new cube ssb_cube4 is saved into project default.
		desc := strings.ReplaceAll(string(k.read("/cube_desc/ssb_cube3.json")), "ssb_cube3", "ssb_cube4")
		desc = strings.Replace(desc, `"uuid" : "`, `"uuid" : "0c1d2e3f-`, 1)
		k.put("/cube_desc/ssb_cube4.json", []byte(desc))
		k.put("/cube/ssb_cube4.json", []byte(strings.ReplaceAll(strings.Replace(string(k.read("/cube/ssb_cube3.json")),
			"5641e82d6c72", "5641e82d6c73", 1), "ssb_cube3", "ssb_cube4")))
		k.edit("/project/default.json", `    {
      "name": "test_streaming_v2_user_info_cube",
      "type" : "CUBE",
      "realization" : "test_streaming_v2_user_info_cube"
    }
  ],`, `    {
      "name": "test_streaming_v2_user_info_cube",
      "type" : "CUBE",
      "realization" : "test_streaming_v2_user_info_cube"
    },
    {
      "name" : "ssb_cube4",
      "type" : "CUBE",
      "realization" : "ssb_cube4"
    }
  ],`)
	}},
	{"dictionary_replaced", func(k *kylin) {
		// A refresh rebuilds SITE_ID's dictionary under a new uuid, points
		// the segments at it, and the cleanup drops the old one; PRICE's
		// dictionary is rewritten in place (a restore from another backup).
		old := k.read(siteDict)
		k.put(siteDict2, rewriteHeader(k.t, old,
			`"uuid" : "652bd393-678a-4f16-a504-fd8ce1229355"`, `"uuid" : "5b2c5c7e-0d0e-4f3b-9a61-2f7d9d3c1e42"`,
			`"cardinality" : `, `"cardinality" : 1`))
		k.del(siteDict)
		k.put(slrCube2, bytes.ReplaceAll(k.read(slrCube2), []byte(siteDict), []byte(siteDict2)))
		k.put(priceDict, rewriteHeader(k.t, k.read(priceDict),
			`"cardinality" : 69`, `"cardinality" : 72`,
			`"size" : 419`, `"size" : 437`,
			`"last_modified" : 1414127594995`, `"last_modified" : 1700000005000`))
	}},
	{"job_added", func(k *kylin) {
		// A build job is submitted: the job, its output and its first step.
		k.put("/execute/"+buildJob, []byte(`{
  "uuid" : "`+buildJob+`",
  "last_modified" : 1700000006000,
  "version" : "3.1.3",
  "name" : "BUILD CUBE - test_kylin_cube_with_slr_ready_2_segments - 20131212000000_20140112000000 - GMT+08:00 2023-11-15 06:13:20",
  "tasks" : [ {
    "uuid" : "`+buildJob+`-00",
    "last_modified" : 0,
    "version" : "3.1.3",
    "name" : "Create Intermediate Flat Hive Table",
    "tasks" : null,
    "tasks_check" : null,
    "type" : "org.apache.kylin.source.hive.CreateFlatHiveTableStep",
    "params" : {
      "cubeName" : "test_kylin_cube_with_slr_ready_2_segments"
    },
    "priority" : 10
  } ],
  "tasks_check" : null,
  "type" : "org.apache.kylin.engine.mr.CubingJob",
  "params" : {
    "projectName" : "default",
    "cubeName" : "test_kylin_cube_with_slr_ready_2_segments",
    "segmentId" : "3aeca32a-a33e-4b69-83dd-xxe8b1f8dddd",
    "submitter" : "ADMIN",
    "jobType" : "BUILD"
  },
  "priority" : 50
}`))
		for _, id := range []string{buildJob, buildJob + "-00"} { // the job and its step
			k.put("/execute_output/"+id, []byte(`{
  "uuid" : "`+id+`",
  "last_modified" : 1700000006000,
  "version" : "3.1.3",
  "content" : null,
  "status" : "READY",
  "info" : { }
}`))
		}
	}},
	{"malformed_json", func(k *kylin) {
		// Someone edits a descriptor by hand and leaves a trailing comma.
		k.edit("/cube_desc/ssb_cube1.json",
			`"kylin.storage.hbase.compression-codec" : "lz4",`, `"kylin.storage.hbase.compression-codec" : "snappy",`,
			`"kylin.cube.aggrgroup.is-mandatory-only-valid" : "true"`, `"kylin.cube.aggrgroup.is-mandatory-only-valid" : "true",`)
	}},
	{"upgrade_noise", func(k *kylin) {
		// An upgrade rewrites resources: a new version field, a new save
		// time, different formatting, or the same bytes again.
		k.edit("/cube/ssb_cube3.json", `"last_modified" : 1457534216410,`, `"last_modified" : 1700000007000,
  "version" : "4.0.0.0",`)
		data := k.read("/model_desc/ssb.json")
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			k.t.Fatal(err)
		}
		compact, _ := json.Marshal(v)
		k.put("/model_desc/ssb.json", compact)
		k.touch("/table/SSB.PART.json")
	}},
}

// kylinPair backs the sample up, applies change, and backs it up again.
func kylinPair(t *testing.T, r *Repository, apply func(*kylin)) (*Snapshot, *Snapshot, *memory.Store) {
	t.Helper()
	needSample(t)
	m, _ := seeded(t)
	a := backup(t, r, m, scope.SystemScope())
	apply(&kylin{t: t, m: m, now: 1700000000000})
	b := backup(t, r, m, scope.SystemScope())
	return r.OpenInfo(a.Snapshot), r.OpenInfo(b.Snapshot), m
}

func needSample(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sample); err != nil {
		t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
	}
}

func details() DiffOptions { return DiffOptions{Details: true, Ignore: scope.SaveFields()} }

// TestDiffGolden diffs the Kylin 3.1.3 sample before and after each change
// Kylin makes, against testdata/diff/NAME.json; regenerate with
// go test ./snapshot -run Golden -update.
func TestDiffGolden(t *testing.T) {
	for _, tc := range kylinChanges {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			a, b, live := kylinPair(t, r, tc.apply)
			res, err := r.Diff(context.Background(), a, b, details())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "diff/"+tc.name+".json", marshal(t, res.Changes))

			// The live metastore compares the same as its snapshot.
			live2, err := r.Diff(context.Background(), a, live, details())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(live2.Changes, res.Changes) {
				t.Errorf("snapshot vs live:\n%s\nwant (snapshot vs snapshot):\n%s", marshal(t, live2.Changes), marshal(t, res.Changes))
			}
		})
	}
}

func TestDiffIdenticalSnapshotsReadNoFolder(t *testing.T) {
	r := newRepo(t)
	a, b, _ := kylinPair(t, r, func(*kylin) {})
	pairs, reads, err := r.treePairs(context.Background(), a.Info.tree, b.Info.tree, pathFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 0 || reads != 0 {
		t.Errorf("identical snapshots: %d pairs, %d trees read; want none", len(pairs), reads)
	}
}

func TestDiffSkipsUnchangedFolders(t *testing.T) {
	r := newRepo(t)
	a, b, _ := kylinPair(t, r, func(k *kylin) {
		k.edit("/table/SSB.PART.json", `"database" : "SSB"`, `"database" : "ssb"`)
	})
	pairs, reads, err := r.treePairs(context.Background(), a.Info.tree, b.Info.tree, pathFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// The root and /table, on both sides, each with its timestamps
	// mirror: nothing of /dict, /cube, ... is read.
	if len(pairs) != 1 || reads != 8 {
		t.Errorf("one changed table: %d pairs, %d trees read; want 1 pair, 8 trees", len(pairs), reads)
	}
	// A timestamp-only change is found through the mirror alone.
	a2, b2, _ := kylinPair(t, newRepo(t), func(k *kylin) { k.touch("/table/SSB.PART.json") })
	res, err := a2.repo.Diff(context.Background(), a2, b2, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != DiffTouched {
		t.Errorf("touched table: %+v", res.Changes)
	}
}

func TestDiffContentChangedTimestampKept(t *testing.T) {
	// A database row updated without its META_TABLE_TS: the timestamps
	// mirror is identical, the content is not.
	r := newRepo(t)
	a, b, _ := kylinPair(t, r, func(k *kylin) {
		res, _ := k.m.Read(context.Background(), "/table/SSB.PART.json")
		data := bytes.Replace(res.Data, []byte(`"SSB"`), []byte(`"ssb"`), 1)
		k.m.Write(context.Background(), metastore.Resource{Path: res.Path, Data: data, Timestamp: res.Timestamp})
	})
	res, err := r.Diff(context.Background(), a, b, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 {
		t.Fatalf("changes %+v", res.Changes)
	}
	c := res.Changes[0]
	if c.Action != DiffModified || c.OldTimestamp == 0 || c.OldTimestamp != c.NewTimestamp {
		t.Errorf("change %+v", c)
	}
}

func actions(cs []Change) string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c.Action)+" "+c.Path)
	}
	return strings.Join(s, "\n")
}

func TestDiffFilters(t *testing.T) {
	r := newRepo(t)
	a, b, _ := kylinPair(t, r, func(k *kylin) {
		for _, tc := range kylinChanges {
			if tc.name != "segment_added" {
				tc.apply(k)
			}
		}
	})
	tests := []struct {
		name string
		opt  DiffOptions
		want string
	}{
		{"types", DiffOptions{Types: []string{"cube_desc", "model_desc"}}, `modified /cube_desc/ssb_cube1.json
added /cube_desc/ssb_cube4.json
modified /cube_desc/test_kylin_cube_with_slr_desc.json
modified /model_desc/ssb.json`},
		{"prefix is a folder, not a string prefix", DiffOptions{Prefix: "/cube"}, `modified /cube/ssb_cube3.json
added /cube/ssb_cube4.json
modified /cube/test_kylin_cube_with_slr_1_new_segment.json
modified /cube/test_kylin_cube_with_slr_ready_2_segments.json`},
		{"prefix without slash", DiffOptions{Prefix: "execute/"}, "added /execute/" + buildJob},
		{"prefix and type", DiffOptions{Prefix: "/dict/TEST_SITES", Types: []string{"dict"}}, "added " + siteDict2 + "\ndeleted " + siteDict},
		{"cube scope, segments included", DiffOptions{Scope: scope.CubeScope("test_kylin_cube_with_slr_ready_2_segments"), HasScope: true},
			"modified " + slrCube2 + "\nmodified " + slrDesc + "\nadded " + siteDict2 + "\ndeleted " + siteDict +
				"\nmodified /table/EDW.TEST_SITES.json"},
		{"project gaining a cube", DiffOptions{Scope: scope.ProjectScope("default"), HasScope: true, Types: []string{"cube", "cube_desc", "project"}},
			"added /cube/ssb_cube4.json\nadded /cube_desc/ssb_cube4.json\nmodified /project/default.json"},
		{"a cube only the new side has", DiffOptions{Scope: scope.CubeScope("ssb_cube4"), HasScope: true, Types: []string{"cube", "cube_desc"}},
			"added /cube/ssb_cube4.json\nadded /cube_desc/ssb_cube4.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, sides := range [][2]metastore.Source{{a, b}} {
				res, err := r.Diff(context.Background(), sides[0], sides[1], tt.opt)
				if err != nil {
					t.Fatal(err)
				}
				if got := actions(res.Changes); got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
			}
		})
	}
	_, err := r.Diff(context.Background(), a, b, DiffOptions{Scope: scope.CubeScope("no_such_cube"), HasScope: true})
	if !errors.Is(err, scope.ErrUnknownCube) {
		t.Errorf("unknown cube on both sides: %v, want ErrUnknownCube", err)
	}
}

func TestStat(t *testing.T) {
	cs := []Change{
		{Type: "cube", Action: DiffModified}, {Type: "dict", Action: DiffAdded}, {Type: "cube", Action: DiffAdded},
		{Type: "dict", Action: DiffDeleted}, {Type: "table", Action: DiffTouched},
	}
	want := []TypeStat{
		{Type: "cube", Added: 1, Modified: 1}, {Type: "dict", Added: 1, Deleted: 1}, {Type: "table", Touched: 1},
	}
	if got := Stat(cs); !reflect.DeepEqual(got, want) {
		t.Errorf("Stat = %+v, want %+v", got, want)
	}
}

func TestDiffLiveTrustsTheChangeCache(t *testing.T) {
	needSample(t)
	dir := filepath.Join(t.TempDir(), "meta")
	st := newFolder(t, dir)
	m, _ := seeded(t)
	for p, res := range dump(t, m) {
		if err := st.Write(context.Background(), res); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	st = st.WithRacyWindow(0)
	r := newRepo(t)
	res, err := r.Backup(context.Background(), st, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	snap := r.OpenInfo(res.Snapshot)
	live := metastoretest.Counting(st)
	d, err := r.Diff(context.Background(), snap, live, DiffOptions{Source: st.Describe()})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 0 || len(live.Reads()) != 0 {
		t.Errorf("unchanged folder: %d changes, %d resources read; want none", len(d.Changes), len(live.Reads()))
	}
	// An edit that keeps the size is still found.
	p := filepath.Join(dir, "table", "SSB.PART.json")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(data, []byte(`"SSB"`), []byte(`"ssb"`), 1), 0o644)
	d, err = r.Diff(context.Background(), snap, live, DiffOptions{Source: st.Describe()})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(d.Changes); got != "modified /table/SSB.PART.json" {
		t.Errorf("changes after an edit: %q", got)
	}
}

func TestDiffBinaryAndText(t *testing.T) {
	tests := []struct {
		name, path string
		old, new   string
		check      func(*testing.T, Change)
	}{
		{"uuid", "/UUID", "\x00\x03abc", "\x00\x03abd", func(t *testing.T, c Change) {
			if c.Binary == nil || c.Binary.OldUUID != "abc" || c.Binary.NewUUID != "abd" || c.Fields != nil {
				t.Errorf("%+v", c.Binary)
			}
		}},
		{"unreadable dictionary", "/dict/T/C/x.dict", "\x00\x01{", "\x00\x02{}", func(t *testing.T, c Change) {
			if c.Binary == nil || !strings.Contains(c.Binary.Unreadable, "old:") || c.Binary.NewHeader == nil {
				t.Errorf("%+v", c.Binary)
			}
		}},
		{"binary by content", "/query/x", "a\x00b", "a\x00c", func(t *testing.T, c Change) {
			if c.Binary == nil || c.Binary.Kind != "" || c.Text != nil {
				t.Errorf("%+v %+v", c.Binary, c.Text)
			}
		}},
		{"plain text is not called malformed", "/query/notes", "a\nb\n", "a\nc\n", func(t *testing.T, c Change) {
			if c.Malformed != "" || len(c.Text) != 2 {
				t.Errorf("%q %+v", c.Malformed, c.Text)
			}
		}},
		{"malformed json names the side", "/cube/x.json", `{"a":1}`, `{"a":`, func(t *testing.T, c Change) {
			if !strings.HasPrefix(c.Malformed, "new version is not valid JSON") || len(c.Text) != 2 {
				t.Errorf("%q %+v", c.Malformed, c.Text)
			}
		}},
		{"only ignored fields", "/cube/x.json", `{"a":1,"last_modified":1}`, `{"last_modified":2, "a":1}`, func(t *testing.T, c Change) {
			if !c.Trivial || c.Fields != nil {
				t.Errorf("trivial %v fields %+v", c.Trivial, c.Fields)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := memory.New(), memory.New()
			ctx := context.Background()
			a.Write(ctx, metastore.Resource{Path: tt.path, Data: []byte(tt.old), Timestamp: 1})
			b.Write(ctx, metastore.Resource{Path: tt.path, Data: []byte(tt.new), Timestamp: 2})
			res, err := newRepo(t).Diff(ctx, a, b, details())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) != 1 || res.Changes[0].Action != DiffModified {
				t.Fatalf("changes %+v", res.Changes)
			}
			c := res.Changes[0]
			if c.OldID != BlobID([]byte(tt.old)).String() || c.NewID != BlobID([]byte(tt.new)).String() {
				t.Errorf("ids %s %s", c.OldID, c.NewID)
			}
			tt.check(t, c)
		})
	}
}

func ExampleRepository_Diff() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	repo, _ := Create(filepath.Join(dir, "snapshots.git"), Options{User: "admin", Host: "kylin1"})
	defer repo.Close()

	meta := memory.New()
	meta.Write(ctx, metastore.Resource{Path: "/cube/sales.json", Timestamp: 1700000000000,
		Data: []byte(`{"name":"sales","segments":[{"name":"20240101_20240201","status":"NEW"}],"last_modified":1700000000000}`)})
	b, _ := repo.Backup(ctx, meta, BackupOptions{Scope: scope.SystemScope(), Message: "nightly"})

	// The build finishes.
	meta.Write(ctx, metastore.Resource{Path: "/cube/sales.json", Timestamp: 1700000099999,
		Data: []byte(`{"name":"sales","segments":[{"name":"20240101_20240201","status":"READY"}],"last_modified":1700000099999}`)})

	res, err := repo.Diff(ctx, repo.OpenInfo(b.Snapshot), meta, DiffOptions{Details: true, Ignore: scope.SaveFields()})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range res.Changes {
		fmt.Println(c.Action, c.Path)
		for _, f := range c.Fields {
			fmt.Println("  ", f)
		}
	}
	// Output:
	// modified /cube/sales.json
	//    segments[name=20240101_20240201].status: "NEW" -> "READY"
}

// synthetic fills m with n small resources spread over the folders of a
// busy Kylin 3 metastore (jobs and their outputs, dictionaries, table
// snapshots, statistics, cubes, models, tables, ACLs) and returns their keys.
func synthetic(tb testing.TB, m *memory.Store, n int) []string {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
	}
	var keys []string
	add := func(p string, size int) {
		data := make([]byte, size)
		for i := range data {
			data[i] = 'a' + byte(rng.IntN(26))
		}
		copy(data, `{"uuid":"`+p+`"}`)
		if err := m.Write(ctx, metastore.Resource{Path: p, Data: data, Timestamp: 1600000000000 + int64(len(keys))}); err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, p)
	}
	for i := 0; len(keys) < n; i++ {
		switch i % 20 {
		case 0, 1, 2:
			job := uuid()
			add("/execute/"+job, 1200)
			add("/execute_output/"+job, 150)
			for s := 0; s < 4; s++ {
				add(fmt.Sprintf("/execute_output/%s-%02d", job, s), 300)
			}
		case 3, 4, 5, 6:
			add(fmt.Sprintf("/dict/DB.T%d/COL%d/%s.dict", rng.IntN(200), rng.IntN(12), uuid()), 600)
		case 7:
			add(fmt.Sprintf("/table_snapshot/DB.T%d/%s.snapshot", rng.IntN(200), uuid()), 900)
		case 8, 9:
			add(fmt.Sprintf("/cube_statistics/cube%d/%s.seq", rng.IntN(1000), uuid()), 400)
		case 10:
			add(fmt.Sprintf("/cube/cube%d.json", i), 2500)
			add(fmt.Sprintf("/cube_desc/cube%d.json", i), 3000)
		case 11:
			add(fmt.Sprintf("/model_desc/model%d.json", i), 2000)
			add(fmt.Sprintf("/table/DB.T%d--p%d.json", i, i%20), 1500)
			add(fmt.Sprintf("/table_exd/DB.T%d--p%d.json", i, i%20), 400)
		case 12:
			add("/acl/"+uuid(), 300)
		default:
			add(fmt.Sprintf("/execute_output/%s", uuid()), 200)
		}
	}
	for _, k := range keys[n:] {
		m.Delete(ctx, k)
	}
	return keys[:n]
}

// BenchmarkDiff1Percent compares two system snapshots of a synthetic
// 100,000-resource metastore that differ in 1% of the resources (spread at
// random over every folder) with a full walk of one snapshot:
//
//	go test ./snapshot -run '^$' -bench Diff1Percent -benchtime 10x
func BenchmarkDiff1Percent(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	r, err := Create(filepath.Join(b.TempDir(), "snapshots.git"), Options{Now: clock(), User: "admin", Host: "kylin1"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m := memory.New()
	keys := synthetic(b, m, n)
	before, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, i := range rng.Perm(n)[:n/100] {
		res, _ := m.Read(ctx, keys[i])
		data := append([]byte{}, res.Data...)
		data[len(data)-1]++
		m.Write(ctx, metastore.Resource{Path: keys[i], Data: data, Timestamp: res.Timestamp + 1})
	}
	after, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		b.Fatal(err)
	}
	// Every run opens the repository afresh, as each command does, so that
	// no run finds trees in the object cache of an earlier one.
	fresh := func(b *testing.B) *Repository {
		rr, err := Open(r.Path(), Options{User: "admin", Host: "kylin1"})
		if err != nil {
			b.Fatal(err)
		}
		return rr
	}
	run := func(b *testing.B, prefix string) {
		runDiff1Percent(b, prefix, fresh, after.Snapshot, before.Snapshot, n)
	}
	run(b, "")
	// The same after a prune, which rewrites the repository into one pack
	// with deltas (the trees' versions, similar resources): reading must
	// stay as fast.
	if _, err := r.Prune(ctx, PruneOptions{}); err != nil {
		b.Fatal(err)
	}
	run(b, "pruned-")
}

func runDiff1Percent(b *testing.B, prefix string, fresh func(*testing.B) *Repository, after, before Info, n int) {
	ctx := context.Background()
	b.Run(prefix+"walk", func(b *testing.B) {
		for b.Loop() {
			rr := fresh(b)
			count := 0
			err := rr.OpenInfo(after).ListEntries(ctx, "/", func(metastore.Entry) error { count++; return nil })
			if err != nil || count != n {
				b.Fatalf("walked %d resources, %v", count, err)
			}
			rr.Close()
		}
	})
	for _, det := range []bool{false, true} {
		name := prefix + "diff"
		if det {
			name += "-details"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				rr := fresh(b)
				res, err := rr.Diff(ctx, rr.OpenInfo(before), rr.OpenInfo(after), DiffOptions{Details: det})
				if err != nil || len(res.Changes) != n/100 {
					b.Fatalf("%d changes, %v", len(res.Changes), err)
				}
				rr.Close()
			}
		})
	}
}
