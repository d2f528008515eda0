package scope

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// aheadSource is a metastore in memory that notes the most keys of a
// folder it listed ahead of their reads: those a caller may be holding.
type aheadSource struct {
	res    map[string]string
	folder string
	ahead  int // keys of folder listed and not yet read
	most   int
}

func (s *aheadSource) List(ctx context.Context, prefix string, fn func(string) error) error {
	var keys []string
	for k := range s.res {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, s.folder) {
			s.ahead++
			s.most = max(s.most, s.ahead)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *aheadSource) Read(ctx context.Context, p string) (metastore.Resource, error) {
	data, ok := s.res[p]
	if !ok {
		return metastore.Resource{}, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if strings.HasPrefix(p, s.folder) {
		s.ahead--
	}
	return metastore.Resource{Path: p, Data: []byte(data)}, nil
}

// TestReadEachHoldsNothing checks that resolving a project reads each job
// as the listing of /execute/ reaches it, and keeps nothing of the jobs of
// other projects: neither their keys (listed ahead of their reads) nor
// what it knows exists. On a million-resource metastore, /execute/ holds
// 300,000 jobs, and holding their keys, with an existence cache of each,
// made a project restore's memory grow with the metastore.
func TestReadEachHoldsNothing(t *testing.T) {
	var known []int
	for _, others := range []int{10, 1000} {
		src := &aheadSource{folder: "/execute/", res: map[string]string{
			"/project/sales.json": `{"uuid": "p-sales"}`,
		}}
		var want []string
		for i := range others + 3 {
			project, id := "other", fmt.Sprintf("job-%05d", i)
			if i%(others/3+1) == 0 {
				project = "sales"
				want = append(want, "/execute/"+id, "/execute_output/"+id)
			}
			src.res["/execute/"+id] = fmt.Sprintf(`{"uuid": %q, "params": {"projectName": %q}}`, id, project)
			src.res["/execute_output/"+id] = `{}`
		}
		r := newResolver(context.Background(), src)
		if err := r.project4("sales"); err != nil {
			t.Fatal(err)
		}
		if src.most > 1 {
			t.Errorf("%d other jobs: %d jobs were listed ahead of their reads at once, want 1", others, src.most)
		}
		var got []string
		for _, p := range r.sortedPaths() {
			if strings.HasPrefix(p, "/execute") {
				got = append(got, p)
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%d other jobs: the project's jobs are %v, want %v", others, got, want)
		}
		known = append(known, len(r.known))
	}
	if known[0] != known[1] {
		t.Errorf("the resolver knows of %d resources with 10 jobs of other projects, %d with 1000: it keeps what it read of them", known[0], known[1])
	}
}
