package folder_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
)

// benchFiles is the number of files of the listing benchmarks; set
// METASTORE_BENCH_FILES to measure another size, such as 100000.
func benchFiles(b *testing.B) int {
	if v := os.Getenv("METASTORE_BENCH_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("METASTORE_BENCH_FILES: %v", err)
		}
		return n
	}
	return 10000
}

// benchTree writes n small resources in a Kylin-like layout: half in one
// large folder (as /execute_output grows), half spread over dictionary
// folders three levels deep.
func benchTree(b *testing.B, n int) *folder.Store {
	b.Helper()
	s, _ := newStore(b)
	ctx := context.Background()
	for i := range n {
		var p string
		if i%2 == 0 {
			p = fmt.Sprintf("/execute_output/%08x-0000-4000-8000-%012x-%02d", i, i*7919, i%3)
		} else {
			p = fmt.Sprintf("/dict/DEFAULT.TABLE_%02d/COLUMN_%02d/%08x.dict", i%37, i%11, i)
		}
		if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte("{}"), Timestamp: 1457534216410 + int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkListEntries(b *testing.B) {
	benchList(b, "entries", func(ctx context.Context, s *folder.Store, count *int) error {
		return s.ListEntries(ctx, "/", func(metastore.Entry) error { *count++; return nil })
	})
}

func BenchmarkList(b *testing.B) {
	benchList(b, "paths", func(ctx context.Context, s *folder.Store, count *int) error {
		return s.List(ctx, "/", func(string) error { *count++; return nil })
	})
}

// benchList times list, which counts what it lists (what) in *count, over
// a tree of benchFiles files, per file and in user time per file.
func benchList(b *testing.B, what string, list func(ctx context.Context, s *folder.Store, count *int) error) {
	n := benchFiles(b)
	s := benchTree(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	user := userTime(b)
	for b.Loop() {
		count := 0
		if err := list(ctx, s, &count); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("listed %d %s, want %d", count, what, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/file")
	b.ReportMetric(float64((userTime(b)-user).Nanoseconds())/float64(b.N*n), "user-ns/file")
}

// userTime returns the CPU time the process has spent in user space, which
// leaves out the time of system calls.
func userTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano())
}

func BenchmarkWrite(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	data := []byte(`{"uuid":"2fbca32a-a33e-4b69-83dd-0bb8b1f8c91b","name":"kylin_sales_cube","version":"3.1.3"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		// New files in a few hundred folders, as a restore writes them.
		p := fmt.Sprintf("/dict/DEFAULT.TABLE_%02d/COLUMN_%02d/%08x.dict", i%37, i%11, i)
		if err := s.Write(ctx, metastore.Resource{Path: p, Data: data, Timestamp: 1457534216410}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRead(b *testing.B) {
	s := benchTree(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := fmt.Sprintf("/dict/DEFAULT.TABLE_%02d/COLUMN_%02d/%08x.dict", (2*i+1)%1000%37, (2*i+1)%1000%11, (2*i+1)%1000)
		if _, err := s.Read(ctx, p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
