package metagen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kylin-tools/metastore/metastore/folder"
)

// testResources is the metastore size the tests generate: big enough to
// have every kind of resource, small enough to stay fast.
const testResources = 2000

// fixture is a metastore generated once for the tests that only read it.
var fixture struct {
	once sync.Once
	tmp  string
	dir  string
	st   Stats
	err  error
}

// sharedMetastore returns the directory and stats of a metastore of
// testResources resources (seed 5). Tests must not change it.
func sharedMetastore(t *testing.T) (string, Stats) {
	t.Helper()
	fixture.once.Do(func() {
		fixture.tmp, fixture.err = os.MkdirTemp("", "kylin-metagen-test-")
		if fixture.err != nil {
			return
		}
		fixture.dir = filepath.Join(fixture.tmp, "meta")
		fixture.st, fixture.err = generateDir(context.Background(), fixture.dir, Options{Resources: testResources, Seed: 5})
	})
	if fixture.err != nil {
		t.Fatalf("generate the shared metastore: %v", fixture.err)
	}
	return fixture.dir, fixture.st
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.tmp != "" {
		os.RemoveAll(fixture.tmp)
	}
	os.Exit(code)
}

// generateT generates a metastore of n resources into a new temporary
// directory and returns the directory and the stats.
func generateT(t *testing.T, n int, seed uint64) (string, Stats) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "meta")
	st, err := generateDir(context.Background(), dir, Options{Resources: n, Seed: seed})
	if err != nil {
		t.Fatalf("generate(%d, seed %d): %v", n, seed, err)
	}
	return dir, st
}

// generateDir generates a metastore into the new folder dir.
func generateDir(ctx context.Context, dir string, opts Options) (Stats, error) {
	s, err := folder.Create(dir)
	if err != nil {
		return Stats{}, err
	}
	return Generate(ctx, s, opts)
}

// churnDir churns the folder metastore dir.
func churnDir(ctx context.Context, dir string, opts ChurnOptions) (ChurnStats, error) {
	s, err := folder.Open(dir)
	if err != nil {
		return ChurnStats{}, err
	}
	return Churn(ctx, s, opts)
}

// fileState is what the tests compare of one resource file.
type fileState struct {
	size  int64
	mtime int64 // milliseconds
	ctime int64 // nanoseconds
	inode uint64
}

// listTree returns the state of every regular file under dir, keyed by
// resource path.
func listTree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, name)
		st := fileState{size: info.Size(), mtime: info.ModTime().UnixMilli()}
		st.ctime, st.inode = changeIdentity(info)
		out["/"+filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readRes(t *testing.T, dir, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path[1:])))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readJSONT(t *testing.T, dir, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(readRes(t, dir, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func exists(dir, path string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(path[1:])))
	return !errors.Is(err, fs.ErrNotExist)
}

// isJSONResource reports whether a resource holds JSON: *.json files and
// the extensionless entities (jobs, outputs, users, groups, ACLs).
func isJSONResource(path string) bool {
	switch resourceType(path) {
	case "execute", "execute_output", "user", "user_group", "acl":
		return true
	}
	return strings.HasSuffix(path, ".json")
}

// checkIntegrity verifies the cross references of a metastore: project
// realizations, models and tables exist; cubes name existing descs, descs
// existing models; segment dictionaries, snapshots and statistics exist;
// jobs name an existing project and one of its cubes and have their outputs
// (and, in the jobs shape, an /execute entry per step, which they list).
func checkIntegrity(t *testing.T, dir string) {
	t.Helper()
	tree := listTree(t, dir)
	jobsShape := false // a job has an /execute entry per step
	for path := range tree {
		if _, ok := cutStepSuffix(strings.TrimPrefix(path, "/execute/")); ok && resourceType(path) == "execute" {
			jobsShape = true
		}
	}
	cubeProject := map[string]string{}
	for path := range tree {
		if resourceType(path) != "project" {
			continue
		}
		var p projectJSON
		readJSONT(t, dir, path, &p)
		if len(p.Realizations) == 0 {
			t.Errorf("%s: no realizations", path)
		}
		for _, r := range p.Realizations {
			cubeProject[r.Realization] = p.Name
			var c cubeJSON
			cubePath := "/cube/" + r.Realization + ".json"
			if !exists(dir, cubePath) {
				t.Errorf("%s: realization %s: %s does not exist", path, r.Realization, cubePath)
				continue
			}
			readJSONT(t, dir, cubePath, &c)
			var d cubeDescJSON
			descPath := "/cube_desc/" + c.Descriptor + ".json"
			if !exists(dir, descPath) {
				t.Errorf("%s: descriptor %s does not exist", cubePath, descPath)
				continue
			}
			readJSONT(t, dir, descPath, &d)
			if !exists(dir, "/model_desc/"+d.ModelName+".json") {
				t.Errorf("%s: model %s does not exist", descPath, d.ModelName)
			}
		}
		for _, m := range p.Models {
			if !exists(dir, "/model_desc/"+m+".json") {
				t.Errorf("%s: model %s does not exist", path, m)
			}
		}
		for _, tb := range p.Tables {
			for _, want := range []string{"/table/" + tb + "--" + p.Name + ".json", "/table_exd/" + tb + "--" + p.Name + ".json"} {
				if !exists(dir, want) {
					t.Errorf("%s: table %s: %s does not exist", path, tb, want)
				}
			}
		}
	}
	for path := range tree {
		switch resourceType(path) {
		case "cube":
			var c cubeJSON
			readJSONT(t, dir, path, &c)
			for _, s := range c.Segments {
				refs := append(mapValues(s.Dictionaries), mapValues(s.Snapshots)...)
				for _, ref := range refs {
					if _, ok := tree[ref]; !ok {
						t.Errorf("%s: segment %s references missing %s", path, s.Name, ref)
					}
				}
				if s.Status == "READY" {
					if _, ok := tree["/cube_statistics/"+c.Name+"/"+s.UUID+".seq"]; !ok {
						t.Errorf("%s: segment %s has no statistics", path, s.Name)
					}
				}
			}
		case "execute":
			if id, ok := cutStepSuffix(strings.TrimPrefix(path, "/execute/")); ok {
				// A step's own entry (jobs shape): the job lists it.
				var task, job jobJSON
				readJSONT(t, dir, path, &task)
				if _, ok := tree[executePath(id)]; !ok {
					t.Errorf("%s: no job %s", path, executePath(id))
					continue
				}
				readJSONT(t, dir, executePath(id), &job)
				if !slices.ContainsFunc(job.Tasks, func(j jobJSON) bool { return j.UUID == task.UUID && j.Name == task.Name && j.Type == task.Type }) {
					t.Errorf("%s: step %s is not among the tasks of %s", path, task.UUID, executePath(id))
				}
				continue
			}
			var j jobJSON
			readJSONT(t, dir, path, &j)
			p, cube := j.Params["projectName"], j.Params["cubeName"]
			if p == "" || cube == "" || cubeProject[cube] != p {
				t.Errorf("%s: projectName %q, cubeName %q: not a cube of that project", path, p, cube)
			}
			if _, ok := tree[outputPath(j.UUID)]; !ok {
				t.Errorf("%s: no output", path)
			}
			for i := range j.Tasks {
				if _, ok := tree[stepOutputPath(j.UUID, i)]; !ok {
					t.Errorf("%s: no output for step %d", path, i)
				}
				if _, ok := tree[stepExecutePath(j.UUID, i)]; jobsShape && !ok {
					t.Errorf("%s: no %s for step %d", path, stepExecutePath(j.UUID, i), i)
				}
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// sameTrees fails unless two directories hold the same paths with the same
// bytes and mtimes.
func sameTrees(t *testing.T, a, b string) {
	t.Helper()
	ta, tb := listTree(t, a), listTree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%s has %d files, %s has %d", a, len(ta), b, len(tb))
	}
	for path, sa := range ta {
		sb, ok := tb[path]
		if !ok {
			t.Fatalf("%s only in %s", path, a)
		}
		if sa.mtime != sb.mtime {
			t.Errorf("%s: mtime %d vs %d", path, sa.mtime, sb.mtime)
		}
		if !bytes.Equal(readRes(t, a, path), readRes(t, b, path)) {
			t.Errorf("%s: content differs", path)
		}
	}
}
