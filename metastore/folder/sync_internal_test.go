package folder

import (
	"fmt"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// TestSyncTracksFewWrites checks what Sync is left to do: the keys of a few
// writes (fsynced one by one, with their folders), the whole file system
// after many writes or any delete, and nothing once it has run.
func TestSyncTracksFewWrites(t *testing.T) {
	ctx := t.Context()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(p string) {
		t.Helper()
		if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
	}
	write("/cube/a.json")
	write("/new/deep/folder/b.json")
	write("/UUID")
	if keys, all := s.pending.keys, s.pending.all; all || len(keys) != 3 {
		t.Fatalf("after 3 writes: keys %v, all %v", keys, all)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.pending.keys) != 0 || s.pending.all {
		t.Fatal("Sync left work pending")
	}
	for i := 0; i <= maxSyncFiles; i++ {
		write(fmt.Sprintf("/execute/%d", i))
	}
	if !s.pending.all {
		t.Fatalf("after %d writes, Sync would fsync %d files one by one", maxSyncFiles+1, len(s.pending.keys))
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A file written and then removed behind the store's back is no error.
	write("/cube/gone.json")
	if err := s.delete("/cube/gone.json"); err != nil {
		t.Fatal(err)
	}
	if err := s.syncFiles([]string{"/cube/gone.json", "/nothing/here"}, []string{"/gone/folder"}); err != nil {
		t.Errorf("syncFiles of removed files: %v", err)
	}
	if err := s.Delete(ctx, "/cube/a.json"); err != nil {
		t.Fatal(err)
	}
	if !s.pending.all {
		t.Error("a delete did not make Sync flush the file system")
	}
}
