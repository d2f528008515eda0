package snapshot_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// A backup, a mistake, and a point-in-time rollback.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	now := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	repo, err := snapshot.Create(filepath.Join(dir, "snapshots.git"), snapshot.Options{
		Now: func() time.Time { now = now.Add(time.Minute); return now }, User: "admin", Host: "kylin1",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	meta := memory.New()
	meta.Write(ctx, metastore.Resource{Path: "/project/learn_kylin.json", Data: []byte(`{"name":"learn_kylin","realizations":[]}`), Timestamp: 1700000000000})
	meta.Write(ctx, metastore.Resource{Path: "/cube/sales.json", Data: []byte(`{"name":"sales","status":"READY"}`), Timestamp: 1700000000001})

	b, err := repo.Backup(ctx, meta, snapshot.BackupOptions{Scope: scope.SystemScope(), Message: "nightly"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("backed up", b.Resources, "resources")

	// Someone breaks the cube and adds junk.
	meta.Write(ctx, metastore.Resource{Path: "/cube/sales.json", Data: []byte(`{}`), Timestamp: 1700000009999})
	meta.Write(ctx, metastore.Resource{Path: "/cube/junk.json", Data: []byte(`{}`), Timestamp: 1700000009999})

	in, err := repo.Resolve(ctx, snapshot.Latest, scope.SystemScope())
	if err != nil {
		log.Fatal(err)
	}
	r, err := repo.Restore(ctx, repo.OpenInfo(in), meta, snapshot.RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range r.Plan {
		fmt.Println(it.Action, it.Path)
	}
	got, _ := meta.Read(ctx, "/cube/sales.json")
	fmt.Println(string(got.Data), got.Timestamp)
	fmt.Println("undo with safety snapshot:", r.Safety.Kind)
	// Output:
	// backed up 2 resources
	// deleted /cube/junk.json
	// changed /cube/sales.json
	// unchanged /project/learn_kylin.json
	// {"name":"sales","status":"READY"} 1700000000001
	// undo with safety snapshot: safety
}
