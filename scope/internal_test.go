package scope

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"default", "default", 0},
		{"defualt", "default", 2},
		{"deafult", "default", 2},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"模型", "模型a", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"default", "learn_kylin", "ssb_cube1", "ssb_cube2", "ssb_cube3", "DEFAULTS", "a", "b", "c", "d", "e", "f"}
	tests := []struct {
		name string
		want []string
	}{
		{"defualt", []string{"default", "DEFAULTS"}}, // 2 and 3 edits, case ignored
		{"ssb_cube", []string{"ssb_cube1", "ssb_cube2", "ssb_cube3"}},
		{"learn", nil},
		{"x", []string{"a", "b", "c", "d", "e"}}, // at most five
	}
	for _, tt := range tests {
		got := closest(tt.name, names)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestImports keeps scope knowing Kylin only: the standard library and the
// metastore vocabulary, nothing of git or of other packages of the project.
func TestImports(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && path != "github.com/kylin-tools/metastore/metastore" {
				t.Errorf("%s imports %s; scope may import only the standard library and metastore", e.Name(), path)
			}
		}
	}
}

func TestCannotMention(t *testing.T) {
	tests := []struct {
		data, name string
		want       bool
	}{
		{`{"realizations":[{"type":"CUBE","realization":"sales_cube"}]}`, "sales_cube", false},
		{`{"realizations":[{"type":"CUBE","realization":"other_cube"}]}`, "sales_cube", true},
		{`{"realizations":[{"type":"CUBE","realization":"sales_cube_2"}]}`, "sales_cube", true},
		// A \u escape could spell the name: parse to be sure.
		{`{"realizations":[{"type":"CUBE","realization":"s\u0061les_cube"}]}`, "sales_cube", false},
		// Names JSON may escape or that need care are never skipped.
		{`{"realizations":[]}`, "sales/cube", false},
		{`{"realizations":[]}`, "caf\u00e9", false},
		{`{"realizations":[]}`, `quo"te`, false},
	}
	for _, tt := range tests {
		got := cannotMention([]byte(tt.data), tt.name, []byte(`"`+tt.name+`"`))
		if got != tt.want {
			t.Errorf("cannotMention(%s, %q) = %v, want %v", tt.data, tt.name, got, tt.want)
		}
	}
}
