package metastoretest

import (
	"context"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
)

// MemoryCopy copies every resource of src, as it is (timestamps
// included), into a new memory store, so that a test can change a sample
// without touching it.
func MemoryCopy(t testing.TB, src metastore.Source) *memory.Store {
	t.Helper()
	ctx := context.Background()
	m := memory.New()
	err := src.List(ctx, "/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		return m.Write(ctx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
