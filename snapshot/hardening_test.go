package snapshot

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
)

// TestLatestIgnoresFolderNameTime imports a Kylin backup folder whose name
// reads a day after this repository's clock (a Kylin host east of this one,
// or a clock ahead), then takes a backup: "latest" is the backup, recorded
// after the import, and log lists the snapshots in the order they were
// recorded. The folder name's time is kept as it was written, zone unknown.
func TestLatestIgnoresFolderNameTime(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t) // its clock reads 2024-03-01 12:00:01 UTC and on
	src, _ := seeded(t)
	first := backup(t, r, src, scope.SystemScope())

	// 2024-03-02 12:00:00 is after the clock in every time zone.
	dir := filepath.Join(t.TempDir(), "meta_2024_03_02_12_00_00")
	bf, err := folder.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	metastoretest.Seed(t, bf, sample)
	imp, err := r.Import(ctx, bf, ImportOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}

	src.Write(ctx, metastore.Resource{Path: "/cube/after-import.json", Data: []byte("{}"), Timestamp: 5})
	later := backup(t, r, src, scope.SystemScope())

	for _, want := range []scope.Scope{scope.SystemScope(), scope.ProjectScope("default")} {
		got, err := r.Resolve(ctx, Latest, want)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != later.Snapshot.ID {
			t.Errorf("latest %s = %s (%s, %s), want the backup recorded after the import %s", want,
				got.ID.Short(), got.Kind, got.Time, later.Snapshot.ID.Short())
		}
	}
	list, err := r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var order []ID
	for _, in := range list {
		order = append(order, in.ID)
	}
	want := []ID{later.Snapshot.ID, imp.Snapshot.ID, first.Snapshot.ID}
	if len(order) != len(want) || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("log order %v, want %v (newest recorded first)", order, want)
	}
	in := imp.Snapshot
	if in.FolderTime != "2024-03-02T12:00:00" {
		t.Errorf("import folder time %q, want 2024-03-02T12:00:00 (the name's, zone unknown)", in.FolderTime)
	}
	if !in.Time.Equal(in.Recorded) || in.Time.Before(first.Snapshot.Time) || !in.Time.Before(later.Snapshot.Time) {
		t.Errorf("import time %s, recorded %s: want the time it was recorded, between %s and %s",
			in.Time, in.Recorded, first.Snapshot.Time, later.Snapshot.Time)
	}
	if first.Snapshot.FolderTime != "" {
		t.Errorf("a backup has folder time %q", first.Snapshot.FolderTime)
	}
}

// TestOrderWithinOneInstant takes snapshots with a clock that does not move
// (several backups in one millisecond): log lists each chain newest first
// and latest is the last backup recorded, every time.
func TestOrderWithinOneInstant(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	r, err := Create(filepath.Join(t.TempDir(), "snapshots.git"), Options{Now: func() time.Time { return at }, User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, _ := seeded(t)
	var system, project []ID
	for i := range 6 {
		src.Write(ctx, metastore.Resource{Path: "/cube/n.json", Data: []byte{byte('0' + i)}, Timestamp: 5})
		system = append(system, backup(t, r, src, scope.SystemScope()).Snapshot.ID)
		project = append(project, backup(t, r, src, scope.ProjectScope("default")).Snapshot.ID)
	}
	list, err := r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[ID]int{}
	for i, in := range list {
		pos[in.ID] = i
	}
	for _, chain := range [][]ID{system, project} {
		for i := 1; i < len(chain); i++ {
			if pos[chain[i]] > pos[chain[i-1]] {
				t.Errorf("log lists %s (backup %d) after %s (backup %d) of the same chain", chain[i].Short(), i, chain[i-1].Short(), i-1)
			}
		}
	}
	got, err := r.Resolve(ctx, Latest, scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != system[len(system)-1] {
		t.Errorf("latest = %s, want the last system backup %s", got.ID.Short(), system[len(system)-1].Short())
	}
}

// TestClockGoingBackKeepsChainOrder: a clock set back between two backups
// (NTP, a VM restored) must not make the older snapshot "latest".
func TestClockGoingBackKeepsChainOrder(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	r, err := Create(filepath.Join(t.TempDir(), "snapshots.git"), Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}, User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	mu.Lock()
	at = at.Add(-time.Hour)
	mu.Unlock()
	src.Write(ctx, metastore.Resource{Path: "/cube/n.json", Data: []byte("1"), Timestamp: 5})
	second := backup(t, r, src, scope.SystemScope())
	got, err := r.Resolve(ctx, Latest, scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != second.Snapshot.ID {
		t.Errorf("latest = %s, want the second backup %s (recorded after the first, clock set back)", got.ID.Short(), second.Snapshot.ID.Short())
	}
}

var _ = strings.Contains
