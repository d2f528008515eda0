package objects

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be in the packages
// TestFunctionsAreShort reads (issue 11: entry points that mix policy and
// mechanics grow past it; aim for 80).
const maxFuncLines = 100

// TestFunctionsAreShort keeps every function and method of snapshot,
// objects, scope, metastore and cmd/metastore (their subpackages included,
// tests and testdata not) at maxFuncLines lines or fewer, from its func
// keyword to its closing brace. It fails with the list of those over.
func TestFunctionsAreShort(t *testing.T) {
	long, err := longFuncs("..", maxFuncLines, "snapshot", "objects", "scope", "metastore", "cmd/metastore")
	if err != nil {
		t.Fatal(err)
	}
	if len(long) > 0 {
		t.Errorf("%d functions over %d lines (split them):\n%s", len(long), maxFuncLines, strings.Join(long, "\n"))
	}
}

// longFuncs lists, longest first, the functions over max lines in the
// non-test Go files below the folders dirs of root, as
// "LINES path:line name".
func longFuncs(root string, max int, dirs ...string) ([]string, error) {
	type fn struct {
		lines int
		where string
	}
	var long []fn
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); name == "testdata" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				d, ok := decl.(*ast.FuncDecl)
				if !ok || d.Body == nil {
					continue
				}
				start, end := fset.Position(d.Pos()).Line, fset.Position(d.End()).Line
				if n := end - start + 1; n > max {
					name := d.Name.Name
					if d.Recv != nil && len(d.Recv.List) == 1 {
						name = recvName(d.Recv.List[0].Type) + "." + name
					}
					long = append(long, fn{n, fmt.Sprintf("%d %s:%d %s", n, filepath.ToSlash(rel), start, name)})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(long, func(i, j int) bool { return long[i].lines > long[j].lines })
	out := make([]string, len(long))
	for i, f := range long {
		out[i] = f.where
	}
	return out, nil
}

// recvName is the type name of a method's receiver (T for T, *T, T[K]).
func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return "?"
}

// TestLongFuncs checks the checker: a function of max+1 lines is listed,
// one of max lines is not, and test files are not read.
func TestLongFuncs(t *testing.T) {
	dir := t.TempDir()
	body := func(name string, lines int) string {
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	write := func(name, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "p", name), []byte("package p\n\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", body("fits", 10)+"type T struct{}\n\nfunc (t *T) "+strings.TrimPrefix(body("over", 11), "func "))
	write("a_test.go", body("testOver", 50))
	got, err := longFuncs(dir, 10, "p")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"11 p/a.go:15 T.over"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("longFuncs = %q, want %q", got, want)
	}
}
