package scope_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestMergeProject(t *testing.T) {
	cube := scope.ProjectAdditions{Realization: "c", Model: "m", Tables: []string{"db.a", "DB.B", "db.b", ""}}
	const cubeEntry = `{"name":"c","type":"CUBE","realization":"c"}`
	tests := []struct {
		name    string
		in      string
		add     scope.ProjectAdditions
		want    string
		changed bool
	}{{
		name:    "compact, empty realizations",
		in:      `{"name":"p","realizations":[],"models":["m"],"tables":["DB.A"]}`,
		add:     cube,
		want:    `{"name":"p","realizations":[` + cubeEntry + `],"models":["m"],"tables":["DB.A","DB.B"]}`,
		changed: true,
	}, {
		name: "pretty, spacing of the last element kept",
		in: `{
  "realizations" : [ {
    "type" : "CUBE",
    "realization" : "x"
  } ],
  "models" : [ "x_model" ],
  "tables" : [
    "DB.X"
  ]
}`,
		add: cube,
		want: `{
  "realizations" : [ {
    "type" : "CUBE",
    "realization" : "x"
  }, ` + cubeEntry + ` ],
  "models" : [ "x_model", "m" ],
  "tables" : [
    "DB.X",
    "db.a",
    "DB.B"
  ]
}`,
		changed: true,
	}, {
		name: "missing arrays created before the final brace",
		in: `{
  "name" : "p",
  "uuid" : "u"
}`,
		add: cube,
		want: `{
  "name" : "p",
  "uuid" : "u",
  "realizations" : [` + cubeEntry + `],
  "models" : ["m"],
  "tables" : ["db.a", "DB.B"]
}`,
		changed: true,
	}, {
		name:    "empty object",
		in:      `{ }`,
		add:     scope.ProjectAdditions{Model: "m"},
		want:    `{ "models": ["m"] }`,
		changed: true,
	}, {
		name:    "empty array keeps its inner spacing",
		in:      `{"models": [ ]}`,
		add:     scope.ProjectAdditions{Model: "m"},
		want:    `{"models": [ "m" ]}`,
		changed: true,
	}, {
		name:    "null becomes an array",
		in:      `{"tables": null, "models": ["m"]}`,
		add:     scope.ProjectAdditions{Model: "m", Tables: []string{"DB.A"}},
		want:    `{"tables": ["DB.A"], "models": ["m"]}`,
		changed: true,
	}, {
		name:    "everything present, tables compared without case",
		in:      `{"realizations": [{"name": "c", "type": "cube", "realization": "c"}], "models": ["m"], "tables": ["DB.A", "DB.B"]}`,
		add:     cube,
		want:    `{"realizations": [{"name": "c", "type": "cube", "realization": "c"}], "models": ["m"], "tables": ["DB.A", "DB.B"]}`,
		changed: false,
	}, {
		name:    "a hybrid of the same name is not the cube",
		in:      `{"realizations": [{"type": "HYBRID", "realization": "c"}]}`,
		add:     scope.ProjectAdditions{Realization: "c"},
		want:    `{"realizations": [{"type": "HYBRID", "realization": "c"},` + cubeEntry + `]}`,
		changed: true,
	}, {
		name:    "hybrid type",
		in:      `{"realizations": []}`,
		add:     scope.ProjectAdditions{Realization: "h", RealizationType: "HYBRID"},
		want:    `{"realizations": [{"name":"h","type":"HYBRID","realization":"h"}]}`,
		changed: true,
	}, {
		name:    "model names compare with case",
		in:      `{"models": ["M"]}`,
		add:     scope.ProjectAdditions{Model: "m"},
		want:    `{"models": ["M","m"]}`, // spaced like "M", which follows '[' directly
		changed: true,
	}, {
		name:    "brackets and escapes inside strings and nested values",
		in:      `{"o": {"a": [1, {"b": "]}\"["}], "c": null}, "k\"ey": "v]", "tables": ["x\"]"]}`,
		add:     scope.ProjectAdditions{Tables: []string{"DB.A"}},
		want:    `{"o": {"a": [1, {"b": "]}\"["}], "c": null}, "k\"ey": "v]", "tables": ["x\"]","DB.A"]}`,
		changed: true,
	}, {
		name:    "duplicated key: the last one counts",
		in:      `{"tables": ["A"], "tables": ["B"]}`,
		add:     scope.ProjectAdditions{Tables: []string{"A"}},
		want:    `{"tables": ["A"], "tables": ["B","A"]}`,
		changed: true,
	}, {
		name:    "byte order mark and trailing newline kept",
		in:      "\xef\xbb\xbf{\"tables\": []}\n",
		add:     scope.ProjectAdditions{Tables: []string{"A<B"}},
		want:    "\xef\xbb\xbf{\"tables\": [\"A<B\"]}\n",
		changed: true,
	}, {
		name:    "nothing to add",
		in:      `{"x": 1}`,
		add:     scope.ProjectAdditions{},
		want:    `{"x": 1}`,
		changed: false,
	}}
	for _, tt := range tests {
		got, changed, err := scope.MergeProject([]byte(tt.in), tt.add)
		if err != nil {
			t.Errorf("%s: MergeProject error %v", tt.name, err)
			continue
		}
		if string(got) != tt.want || changed != tt.changed {
			t.Errorf("%s: MergeProject =\n%s (changed %v)\nwant\n%s (changed %v)", tt.name, got, changed, tt.want, tt.changed)
		}
		if !json.Valid(bytes.TrimPrefix(got, []byte("\xef\xbb\xbf"))) {
			t.Errorf("%s: result is not valid JSON: %s", tt.name, got)
		}
	}
}

func TestMergeProjectInvalid(t *testing.T) {
	add := scope.ProjectAdditions{Realization: "c", Model: "m", Tables: []string{"A"}}
	for _, in := range []string{``, `{`, `{"tables": [}`, `[]`, `"x"`, `{"tables": "A"}`, `{"models": {}}`, `{"realizations": 1}`, `{} {}`} {
		got, changed, err := scope.MergeProject([]byte(in), add)
		if !errors.Is(err, scope.ErrInvalidProjectJSON) {
			t.Errorf("MergeProject(%q) = %q, %v, %v; want an error wrapping ErrInvalidProjectJSON", in, got, changed, err)
		}
	}
}

// TestMergeProjectGolden merges a cube into the sample's default project.
// Run with -update to rewrite testdata/merge_default.golden.json.
func TestMergeProjectGolden(t *testing.T) {
	needDir(t, sample3)
	in, err := os.ReadFile(filepath.Join(sample3, "project", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	add := scope.ProjectAdditions{
		Realization: "test_kylin_cube_with_slr_ready",
		Model:       "test_kylin_inner_join_model_desc", // already listed
		Tables:      []string{"default.test_kylin_fact", "EDW.TEST_SELLER_TYPE_DIM_TABLE"},
	}
	got, changed, err := scope.MergeProject(in, add)
	if err != nil || !changed {
		t.Fatalf("MergeProject = changed %v, %v", changed, err)
	}
	golden := filepath.Join("testdata", "merge_default.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MergeProject(default.json) differs from %s:\n%s", golden, got)
	}

	// Semantically: the original plus exactly the additions.
	var before, after map[string]any
	if err := json.Unmarshal(in, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &after); err != nil {
		t.Fatalf("merged document is not valid JSON: %v", err)
	}
	before["realizations"] = append(before["realizations"].([]any), map[string]any{
		"name": "test_kylin_cube_with_slr_ready", "type": "CUBE", "realization": "test_kylin_cube_with_slr_ready"})
	before["tables"] = append(before["tables"].([]any), "EDW.TEST_SELLER_TYPE_DIM_TABLE")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("merged document is not the original plus the additions:\n%s", got)
	}

	// Merging again changes nothing.
	again, changed, err := scope.MergeProject(got, add)
	if err != nil || changed || !bytes.Equal(again, got) {
		t.Errorf("second MergeProject: changed %v, err %v", changed, err)
	}
}
