package scope_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

// TestCubeList checks, on both sample metastores, that CubeList names the
// cubes Cubes names, with the project a cube scope resolves to, and that
// CubeStatus reads the status Kylin keeps at the top of the cube (or of the
// model's dataflow).
func TestCubeList(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		dir      string
		statuses []string
	}{
		{"kylin-3.1.3", sample3, []string{"READY", "DISABLED", ""}},
		{"kylin5", sample5, []string{"ONLINE", "OFFLINE", "BROKEN", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := sample(t, tc.dir)
			list, err := scope.CubeList(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			want, err := scope.Cubes(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			seen := map[string]int{}
			for _, c := range list {
				names = append(names, c.Name)
				res, err := scope.Resolve(ctx, src, scope.CubeScope(c.Name), scope.Options{})
				if err != nil {
					t.Errorf("%s: %v", c.Name, err)
					continue
				}
				if c.Project != res.Project {
					t.Errorf("%s: project %q, the cube scope resolves to %q", c.Name, c.Project, res.Project)
				}
				if !slices.Contains(res.Paths, c.Key) {
					t.Errorf("%s: key %s is not in the cube's scope", c.Name, c.Key)
				}
				st, err := scope.CubeStatus(ctx, src, c)
				if err != nil {
					t.Fatal(err)
				}
				var top struct{ Status string }
				r, err := src.Read(ctx, c.StatusKey)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					// A broken model without a dataflow: no status.
				case err != nil:
					t.Fatal(err)
				default:
					json.Unmarshal(r.Data, &top)
					if !slices.Contains(res.Paths, c.StatusKey) {
						t.Errorf("%s: status key %s is not in the cube's scope", c.Name, c.StatusKey)
					}
				}
				if st != top.Status || !slices.Contains(tc.statuses, st) {
					t.Errorf("%s: status %q, the resource says %q", c.Name, st, top.Status)
				}
				seen[st]++
			}
			if !slices.Equal(names, want) {
				t.Errorf("CubeList names %v\nCubes names    %v", names, want)
			}
			if len(seen) < 2 {
				t.Errorf("statuses %v: want the sample's variety", seen)
			}
			st, err := scope.CubeStatus(ctx, src, scope.CubeEntry{Name: "gone", StatusKey: "/cube/gone.json"})
			if st != "" || err != nil {
				t.Errorf("missing cube: %q, %v", st, err)
			}
		})
	}
}
