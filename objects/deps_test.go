package objects

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointOneWay keeps the module's layering: cmd -> snapshot
// -> {scope, objects, metastore}; only objects (and its git transport,
// objects/gitremote) imports go-git; only objects/s3 imports minio-go, and
// it knows nothing of git (of the module it uses only the packages under
// objects/internal, which import nothing but the standard library); scope and metastore know nothing of git or
// snapshots; the commands (the web console included) read the repository
// through snapshot only, never objects or go-git; the snapshot tree format
// (snapshot/internal/tree) knows objects only.
func TestDependenciesPointOneWay(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-json=ImportPath,Imports", "github.com/kylin-tools/metastore/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/kylin-tools/metastore/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	forbidden := map[string][]string{
		"objects":   {mod + "snapshot", mod + "scope", mod + "metastore", mod + "cmd"},
		"scope":     {mod + "snapshot", mod + "objects", mod + "cmd", "github.com/go-git/"},
		"metastore": {mod + "snapshot", mod + "objects", mod + "scope", mod + "cmd", "github.com/go-git/"},
		"snapshot":  {mod + "cmd", "github.com/go-git/"},
		"cmd":       {mod + "objects", "github.com/go-git/"},
	}
	// The snapshot tree format is a format: objects below, no Kylin rule,
	// no metastore.
	forbiddenBelow := map[string][]string{
		"snapshot/internal/tree": {mod + "scope", mod + "metastore"},
	}
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.ImportPath, mod) {
			continue
		}
		pkg := strings.TrimPrefix(p.ImportPath, mod)
		top, _, _ := strings.Cut(pkg, "/")
		for _, imp := range p.Imports {
			for below, bad := range forbiddenBelow {
				if pkg == below || strings.HasPrefix(pkg, below+"/") {
					for _, b := range bad {
						if strings.HasPrefix(imp, b) {
							t.Errorf("%s imports %s", p.ImportPath, imp)
						}
					}
				}
			}
			for _, bad := range forbidden[top] {
				if strings.HasPrefix(imp, bad) {
					t.Errorf("%s imports %s", p.ImportPath, imp)
				}
			}
			if (top != "objects" || pkg == "objects/s3") && strings.HasPrefix(imp, "github.com/go-git/") {
				t.Errorf("%s imports go-git (%s): only objects may", p.ImportPath, imp)
			}
			// objects/s3 may use the packages under objects/internal,
			// which import nothing but the standard library (checked
			// below).
			if pkg == "objects/s3" && strings.HasPrefix(imp, mod) && !strings.HasPrefix(imp, mod+"objects/internal/") {
				t.Errorf("%s imports %s: it stores files and knows nothing of git or snapshots", p.ImportPath, imp)
			}
			if strings.HasPrefix(pkg, "objects/internal/") && strings.Contains(strings.Split(imp, "/")[0], ".") {
				t.Errorf("%s imports %s: objects/s3 uses it, so it must import nothing but the standard library", p.ImportPath, imp)
			}
			if pkg != "objects/s3" && strings.HasPrefix(imp, "github.com/minio/") {
				t.Errorf("%s imports minio-go (%s): only objects/s3 may", p.ImportPath, imp)
			}
		}
	}
}
