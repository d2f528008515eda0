package folder

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// TestParallelListingMatchesSequential lists a tree with folders, files at
// the root that sort between folders ("a.json" before "a/"), and nested
// folders, on one goroutine and on several: same entries, same order.
func TestParallelListingMatchesSequential(t *testing.T) {
	root := t.TempDir()
	files := []string{"UUID", "a.json", "a/x", "a/y/z", "a-b/c", "b", "cube/c1.json", "cube_desc/d.json", "dict/T/C/1.dict", "dict/T/C/2.dict", "z"}
	for i := 0; i < 300; i++ {
		files = append(files, fmt.Sprintf("execute_output/%04d-00", i))
	}
	for _, f := range files {
		metastoretest.WriteFile(t, filepath.Join(root, filepath.FromSlash(f)), []byte(f), 0o644)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	list := func(workers, statMin int) []metastore.Entry {
		c := *s
		c.workers, c.statMin, c.racy = workers, statMin, 0
		var out []metastore.Entry
		if err := c.ListEntries(context.Background(), "/", func(e metastore.Entry) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Folders on several goroutines, and each folder's files lstat'ed on
	// several goroutines (statMin 1: every folder).
	seq, par, stats := list(1, 1<<30), list(4, 1<<30), list(4, 1)
	if len(seq) != len(files) || fmt.Sprint(seq) != fmt.Sprint(par) || fmt.Sprint(seq) != fmt.Sprint(stats) {
		t.Fatalf("sequential %d entries, parallel %d, parallel lstat %d; differ: %v, %v", len(seq), len(par), len(stats), fmt.Sprint(seq) != fmt.Sprint(par), fmt.Sprint(seq) != fmt.Sprint(stats))
	}
	for _, e := range stats {
		if e.Change == "" || e.Size != int64(len(strings.TrimPrefix(e.Path, "/"))) {
			t.Fatalf("entry %+v: no fingerprint or wrong size", e)
		}
	}
	for i := 1; i < len(par); i++ {
		if par[i-1].Path >= par[i].Path {
			t.Fatalf("out of byte order: %s before %s", par[i-1].Path, par[i].Path)
		}
	}
	// An error from fn stops the listing and is returned as is.
	stop := fmt.Errorf("stop")
	n := 0
	err = s.ListEntries(context.Background(), "/", func(metastore.Entry) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Errorf("err = %v after %d calls, want the callback's error after 5", err, n)
	}
}
