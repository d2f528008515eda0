package metagen

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := generateT(t, testResources, 7)
	b, _ := generateT(t, testResources, 7)
	sameTrees(t, a, b)

	p7, _ := buildPlan(testResources, 0, 7, "")
	p8, _ := buildPlan(testResources, 0, 8, "")
	if p7.uuid == p8.uuid {
		t.Errorf("seeds 7 and 8 plan the same metastore uuid")
	}

	// And churn on top: same folder content and seed, same changes.
	for _, dir := range []string{a, b} {
		if _, err := churnDir(context.Background(), dir, ChurnOptions{Fraction: 0.05, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	}
	sameTrees(t, a, b)
}

func TestGenerateWritesExactlyN(t *testing.T) {
	t.Parallel()
	for _, n := range []int{minResources, 777, testResources} {
		var dir string
		var st Stats
		if n == testResources {
			dir, st = sharedMetastore(t)
		} else {
			dir, st = generateT(t, n, 1)
		}
		if got := len(listTree(t, dir)); got != n || st.Resources != n {
			t.Errorf("generate(%d): %d files, stats say %d; want %d", n, got, st.Resources, n)
		}
	}
}

func TestGenerateProportions(t *testing.T) {
	_, st := sharedMetastore(t)
	count := map[string]int{}
	for _, ty := range st.Types {
		count[ty.Type] = ty.Count
	}
	share := func(types ...string) float64 {
		n := 0
		for _, ty := range types {
			n += count[ty]
		}
		return float64(n) / float64(st.Resources)
	}
	for _, c := range []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"jobs", share("execute", "execute_output"), 0.38, 0.55},
		{"dictionaries", share("dict"), 0.12, 0.28},
		{"snapshots", share("table_snapshot"), 0.02, 0.10},
		{"statistics", share("cube_statistics"), 0.03, 0.09},
		{"metadata", share("cube", "cube_desc", "model_desc", "table", "table_exd", "acl"), 0.12, 0.30},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %.1f%% of resources, want %.0f-%.0f%%", c.name, 100*c.got, 100*c.lo, 100*c.hi)
		}
	}
	for _, ty := range []string{"UUID", "project", "bad_query", "user", "user_group", "acl", "cube", "cube_desc", "model_desc", "table", "table_exd"} {
		if count[ty] == 0 {
			t.Errorf("no %s resources", ty)
		}
	}
}

func TestGeneratedResourcesAreConsistent(t *testing.T) {
	dir, _ := sharedMetastore(t)
	checkIntegrity(t, dir)

	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tablePathRE := regexp.MustCompile(`^/table(_exd)?/[A-Z]+\.[A-Z0-9_]+--[a-z0-9_]+\.json$`)
	for path, fst := range listTree(t, dir) {
		if fst.mtime < windowStart-400*day || fst.mtime > windowEnd {
			t.Errorf("%s: mtime %d outside 2022-2024", path, fst.mtime)
		}
		switch resourceType(path) {
		case "table", "table_exd":
			if !tablePathRE.MatchString(path) {
				t.Errorf("%s: not of the form /table/DB.T--P.json", path)
			}
		case "execute":
			if !uuidRE.MatchString(strings.TrimPrefix(path, "/execute/")) {
				t.Errorf("%s: not named by a uuid", path)
			}
		}
		if !isJSONResource(path) {
			continue
		}
		data := readRes(t, dir, path)
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: invalid JSON: %v", path, err)
			continue
		}
		// An entity's last_modified is its resource timestamp.
		if lm, ok := v["last_modified"].(float64); ok && int64(lm) != fst.mtime {
			t.Errorf("%s: last_modified %d, mtime %d", path, int64(lm), fst.mtime)
		}
	}
}

func TestBinaryResources(t *testing.T) {
	dir, _ := sharedMetastore(t)
	uuid := readRes(t, dir, "/UUID")
	if len(uuid) != 38 || binary.BigEndian.Uint16(uuid) != 36 {
		t.Errorf("/UUID = %q, want a 2-byte length and a 36-character uuid", uuid)
	}
	var dicts, snaps bytes.Buffer
	for path := range listTree(t, dir) {
		data := readRes(t, dir, path)
		switch resourceType(path) {
		case "dict", "table_snapshot":
			n := int(binary.BigEndian.Uint16(data))
			var hdr map[string]any
			if err := json.Unmarshal(data[2:2+n], &hdr); err != nil {
				t.Errorf("%s: header: %v", path, err)
				continue
			}
			uuid := path[strings.LastIndexByte(path, '/')+1 : strings.LastIndexByte(path, '.')]
			if hdr["uuid"] != uuid {
				t.Errorf("%s: header uuid %v", path, hdr["uuid"])
			}
			if resourceType(path) == "dict" {
				if !bytes.HasPrefix(data[2+n:], []byte("TrieDict")) {
					t.Errorf("%s: no TrieDict after the header", path)
				}
				dicts.Write(data)
			} else {
				snaps.Write(data)
			}
		case "cube_statistics":
			if !bytes.HasPrefix(data, []byte("SEQ\x06")) {
				t.Errorf("%s: not a SequenceFile", path)
			}
		}
	}
	// Binary content compresses like real data: neither random nor empty.
	for name, b := range map[string]*bytes.Buffer{"dictionaries": &dicts, "snapshots": &snaps} {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.DefaultCompression)
		w.Write(b.Bytes())
		w.Close()
		ratio := float64(b.Len()) / float64(z.Len())
		if ratio < 1.5 || ratio > 10 {
			t.Errorf("%s compress %.1fx with deflate, want 1.5-10x", name, ratio)
		}
	}
}

func TestBuildPlanRejectsBadSizes(t *testing.T) {
	for _, c := range []struct{ n, projects int }{
		{minResources - 1, 0},
		{1000, 100},
		{1000, -1},
	} {
		if _, err := buildPlan(c.n, c.projects, 1, ""); !errors.Is(err, ErrOptions) {
			t.Errorf("buildPlan(%d, %d) = %v, want %v", c.n, c.projects, err, ErrOptions)
		}
	}
}
