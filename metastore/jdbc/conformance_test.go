package jdbc

import (
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// TestConformance runs the shared backend suite against both databases in
// both layouts. The Kylin 2.5-4.x layout runs with an HDFSRoot: Kylin reads
// an empty row under a key that is not JSON metadata as content pushed to
// HDFS, so an empty resource such as the suite's /empty/resource exists
// there only with its (empty) HDFS file.
func TestConformance(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		metastoretest.Run(t, func(t *testing.T) metastore.Store {
			return openNew(t, db, sc)
		})
	})
}

// TestViewConformance runs the read-only part of the suite against a
// consistent view (what a backup reads), in both databases and layouts.
func TestViewConformance(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		st := openNew(t, db, sc)
		want := metastoretest.Resources()
		for _, r := range want {
			if err := st.Write(t.Context(), r); err != nil {
				t.Fatalf("Write(%q): %v", r.Path, err)
			}
		}
		view, err := st.View(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer view.Close()
		metastoretest.RunSource(t, view, want)
	})
}
