package scope_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
)

// BenchmarkResolveProjectJobs resolves the first project of a job-heavy
// Kylin 3 metastore (kylin-metagen's --shape jobs: /execute and
// /execute_output hold about 30% of the resources each), which reads and
// decodes every job. The metastore is the folder METASTORE_BENCH_META names
// (written by `kylin-metagen generate --shape jobs`), or else one of
// METASTORE_BENCH_RESOURCES resources (20,000 unless set) generated into the
// memory backend before the timer starts.
func BenchmarkResolveProjectJobs(b *testing.B) {
	ctx := context.Background()
	src := jobsMetastore(b)
	var project string
	err := src.List(ctx, "/project/", func(p string) error {
		if project == "" {
			project = strings.TrimSuffix(strings.TrimPrefix(p, "/project/"), ".json")
		}
		return nil
	})
	if err != nil || project == "" {
		b.Fatalf("no project (%v)", err)
	}
	b.ReportAllocs()
	var paths int
	for b.Loop() {
		res, err := scope.Resolve(ctx, src, scope.ProjectScope(project), scope.Options{})
		if err != nil {
			b.Fatal(err)
		}
		paths = len(res.Paths)
	}
	b.ReportMetric(float64(paths), "paths")
}

func jobsMetastore(b *testing.B) metastore.Source {
	b.Helper()
	if dir := os.Getenv("METASTORE_BENCH_META"); dir != "" {
		s, err := folder.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	n := 20000
	if v := os.Getenv("METASTORE_BENCH_RESOURCES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	src := memory.New()
	if _, err := metagen.Generate(context.Background(), src, metagen.Options{Resources: n, Seed: 1, Shape: metagen.ShapeJobs}); err != nil {
		b.Fatal(err)
	}
	return src
}
