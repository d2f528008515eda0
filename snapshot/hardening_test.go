package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/objects"
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
	bf := newFolder(t, dir)
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

// craftTree writes a tree from entries "NAME\x00ID" as given (in that order,
// duplicates kept: no canonical checks); "d:NAME" is a folder.
func craftTree(t *testing.T, pw *objects.PackWriter, entries ...string) objects.ID {
	t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		name, id, _ := strings.Cut(e, "\x00")
		mode := "100644"
		if n, ok := strings.CutPrefix(name, "d:"); ok {
			mode, name = "40000", n
		}
		oid, err := objects.ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(mode + " " + name + "\x00")
		b.Write(oid[:])
	}
	id, _, err := pw.Write(objects.KindTree, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestNameListedTwiceIsCorrupt crafts snapshots whose folder lists a name
// twice (two files with different content; a file and a folder; two
// timestamp records): reading the resource by path, listing the folder and
// restoring all refuse the snapshot as corrupt, and verify reports it, so
// that show and restore cannot disagree on what it holds.
func TestNameListedTwiceIsCorrupt(t *testing.T) {
	ctx := context.Background()
	empty := objects.HashObject(objects.KindBlob, nil).String()
	for _, tc := range []struct {
		name      string
		cube, ts  []string // entries of cube/ and of its timestamps mirror
		path      string   // the resource read by path
		resources int      // as the commit records it (what verify counts)
	}{
		{
			name: "two files",
			cube: []string{"a.json\x00A", "a.json\x00B", "b.json\x00A"},
			ts:   []string{"a.json@1\x00E", "b.json@1\x00E"},
			path: "/cube/a.json", resources: 3,
		},
		{
			name: "file and folder",
			cube: []string{"a\x00A", "a.json\x00B", "d:a\x00SUB"},
			ts:   []string{"a.json@1\x00E", "d:a\x00SUBTS", "a@1\x00E"}, // git order
			path: "/cube/a", resources: 3,
		},
		{
			name: "two timestamp records",
			cube: []string{"a.json\x00A", "b.json\x00A"},
			ts:   []string{"a.json@1\x00E", "a.json@2\x00E", "b.json@1\x00E"},
			path: "/cube/a.json", resources: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			pw, err := r.objs.NewPackWriter(0)
			if err != nil {
				t.Fatal(err)
			}
			a, _, _ := pw.WriteBlob([]byte(`{"v":"A"}`))
			b, _, _ := pw.WriteBlob([]byte(`{"v":"B"}`))
			pw.WriteBlob(nil)
			sub := craftTree(t, pw, "x.json\x00"+a.String())
			subTS := craftTree(t, pw, "x.json@1\x00"+empty)
			fill := func(list []string) []string {
				var out []string
				for _, e := range list {
					e = strings.NewReplacer("\x00A", "\x00"+a.String(), "\x00B", "\x00"+b.String(), "\x00E", "\x00"+empty,
						"\x00SUBTS", "\x00"+subTS.String(), "\x00SUB", "\x00"+sub.String()).Replace(e)
					out = append(out, e)
				}
				return out
			}
			cube := craftTree(t, pw, fill(tc.cube)...)
			ts := craftTree(t, pw, fill(tc.ts)...)
			tsRoot := craftTree(t, pw, "d:cube\x00"+ts.String())
			records := craftTree(t, pw, "d:timestamps\x00"+tsRoot.String())
			root := craftTree(t, pw, "d:.metastore\x00"+records.String(), "d:cube\x00"+cube.String())
			publishCommit(t, r, pw, objects.Commit{Tree: root, Message: encodeMessage("crafted", trailerInfo{Scope: scope.SystemScope(), Kind: KindBackup, Resources: tc.resources})}, "refs/heads/system")
			in, err := r.Resolve(ctx, Latest, scope.SystemScope())
			if err != nil {
				t.Fatal(err)
			}
			// Each read on a fresh snapshot: by path first (a search in
			// place), then by a walk (the decoded folder).
			if res, err := r.OpenInfo(in).Read(ctx, tc.path); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Read(%s) = %q, %v; want ErrCorrupt", tc.path, res.Data, err)
			}
			if _, err := r.History(ctx, tc.path, HistoryOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("History(%s): %v; want ErrCorrupt", tc.path, err)
			}
			snap := r.OpenInfo(in)
			err = snap.ListEntries(ctx, "/", func(metastore.Entry) error { return nil })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("ListEntries: %v; want ErrCorrupt", err)
			}
			if _, err := snap.Read(ctx, tc.path); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Read(%s) after a walk: %v; want ErrCorrupt", tc.path, err)
			}
			target := memory.New()
			if _, err := r.Restore(ctx, r.OpenInfo(in), target, RestoreOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Restore: %v; want ErrCorrupt", err)
			}
			if target.Len() != 0 {
				t.Errorf("the refused restore wrote %d resources", target.Len())
			}
			vr, err := r.Verify(ctx, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(vr.Problems) == 0 {
				t.Error("verify found nothing wrong")
			}
		})
	}
}

// TestMessageCannotForgeTrailers gives a backup a title with line breaks
// and trailer lines: the snapshot stays a backup with a one-line title, and
// its commit has exactly one trailer paragraph, with one Metastore-Kind
// line.
func TestMessageCannotForgeTrailers(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seeded(t)
	for _, msg := range []string{
		"x\n\nMetastore-Kind: safety",
		"x\n\nMetastore-Kind: safety\nMetastore-Scope: cube/evil\n",
		"x\r\n\r\nMetastore-Kind: safety",
		"line one\u2028\u2029Metastore-Kind: safety",
		"fake\n1234abcd  2024-01-01 00:00:00  system  admin@kylin1  10 resources  forged",
	} {
		res, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		in := res.Snapshot
		if in.Kind != KindBackup || in.Scope != scope.SystemScope() {
			t.Errorf("message %q made a %s snapshot of %s", msg, in.Kind, in.Scope)
		}
		if strings.ContainsAny(in.Message, "\r\n\u2028\u2029") {
			t.Errorf("message %q recorded as a title of several lines: %q", msg, in.Message)
		}
		c, err := r.objs.ReadCommit(in.ID.object())
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(c.Message, "\n\n"); n != 1 {
			t.Errorf("message %q: the commit message has %d paragraphs breaks, want 1:\n%s", msg, n, c.Message)
		}
		if n := strings.Count("\n"+c.Message, "\n"+trKind+":"); n != 1 {
			t.Errorf("message %q: %d %s lines in the commit:\n%s", msg, n, trKind, c.Message)
		}
	}
}

// TestTagBesideTagFolder: a tag "a" cannot be created beside a tag "a/b",
// nor the reverse (git's rule: a reference is a file or a folder), by tag or
// by backup --tag; the refusal is ErrInvalidRef, and deleting "a" says there
// is no such tag.
func TestTagBesideTagFolder(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	for _, tc := range [][2]string{{"a/b", "a"}, {"c", "c/d"}, {"e/f/g", "e/f"}, {"h", "h/i/j"}} {
		if _, err := r.Tag(ctx, Latest, tc[0]); err != nil {
			t.Fatalf("tag %s: %v", tc[0], err)
		}
		if _, err := r.Tag(ctx, Latest, tc[1]); !errors.Is(err, ErrInvalidRef) || !strings.Contains(err.Error(), tc[0]) {
			t.Errorf("tag %s beside %s: %v; want ErrInvalidRef naming %s", tc[1], tc[0], err, tc[0])
		}
		if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Tags: []string{tc[1]}}); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("backup --tag %s beside %s: %v; want ErrInvalidRef", tc[1], tc[0], err)
		}
	}
	if err := r.DeleteTag(ctx, "a"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("delete tag a beside a/b: %v; want ErrNotFound naming a/b", err)
	}
	// Two tags of one backup that clash with each other.
	src.Write(ctx, metastore.Resource{Path: "/cube/n.json", Data: []byte("1"), Timestamp: 5})
	if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Tags: []string{"k", "k/l"}}); !errors.Is(err, ErrInvalidRef) {
		t.Errorf("backup --tag k --tag k/l: %v; want ErrInvalidRef", err)
	}
	if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Tags: []string{"m", "m"}}); !errors.Is(err, ErrTagExists) {
		t.Errorf("backup --tag m --tag m: %v; want ErrTagExists", err)
	}
	// Nothing was recorded by the refused backups.
	list, _ := r.Log(ctx, LogFilter{})
	if len(list) != 1 {
		t.Errorf("%d snapshots after refused backups, want 1", len(list))
	}
}

// TestRemoveIfUnused checks that a repository created and left unused is
// removed (an admin's empty folder is kept, emptied), and that one holding
// a snapshot, or not created by this value, is left alone.
func TestRemoveIfUnused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := Options{Now: clock(), User: "admin", Host: "kylin1"}

	fresh := filepath.Join(dir, "fresh.git")
	r, created, err := OpenOrCreate(fresh, opt)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if removed, err := r.RemoveIfUnused(); !removed || err != nil {
		t.Errorf("unused repository: removed %v, %v", removed, err)
	}
	if _, err := os.Lstat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unused repository still there: %v", err)
	}

	admin := filepath.Join(dir, "admin")
	os.Mkdir(admin, 0o700)
	r, created, err = OpenOrCreate(admin, opt)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if removed, err := r.RemoveIfUnused(); !removed || err != nil {
		t.Errorf("unused repository in an empty folder: removed %v, %v", removed, err)
	}
	if entries, err := os.ReadDir(admin); err != nil || len(entries) != 0 {
		t.Errorf("the admin's folder: %v entries, %v; want it kept, empty", len(entries), err)
	}

	used := filepath.Join(dir, "used.git")
	r, _, err = OpenOrCreate(used, opt)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := seeded(t)
	if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	if removed, _ := r.RemoveIfUnused(); removed {
		t.Error("a repository holding a snapshot was removed")
	}
	r, created, err = OpenOrCreate(used, opt)
	if err != nil || created {
		t.Fatal(created, err)
	}
	if removed, _ := r.RemoveIfUnused(); removed {
		t.Error("a repository this value did not create was removed")
	}
	if _, err := Open(used, opt); err != nil {
		t.Errorf("the used repository: %v", err)
	}
}

// craftCubeSnapshot records a system snapshot of one resource, /cube/a.json,
// whose timestamps mirror holds ts, with the commit's resource count
// resources.
func craftCubeSnapshot(t *testing.T, r *Repository, resources int, ts ...string) *Snapshot {
	t.Helper()
	pw, err := r.objs.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := pw.WriteBlob([]byte(`{"v":"A"}`))
	empty, _, _ := pw.WriteBlob(nil)
	for i := range ts {
		ts[i] += "\x00" + empty.String()
	}
	cube := craftTree(t, pw, "a.json\x00"+a.String())
	tsRoot := craftTree(t, pw, "d:cube\x00"+craftTree(t, pw, ts...).String())
	records := craftTree(t, pw, "d:timestamps\x00"+tsRoot.String())
	root := craftTree(t, pw, "d:.metastore\x00"+records.String(), "d:cube\x00"+cube.String())
	publishCommit(t, r, pw, objects.Commit{Tree: root, Message: encodeMessage("crafted", trailerInfo{Scope: scope.SystemScope(), Kind: KindBackup, Resources: resources})}, "refs/heads/system")
	in, err := r.Resolve(context.Background(), Latest, scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	return r.OpenInfo(in)
}

// TestRestoreOfDamagedCount: a commit whose resource count is damaged (a
// trillion for one resource) does not make a restore allocate for it.
func TestRestoreOfDamagedCount(t *testing.T) {
	r := newRepo(t)
	snap := craftCubeSnapshot(t, r, 1<<40, "a.json@1")
	res, err := r.Restore(context.Background(), snap, memory.New(), RestoreOptions{Scope: scope.SystemScope(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan) != 1 || cap(res.Plan) > 4096 {
		t.Errorf("a plan of %d items with room for %d", len(res.Plan), cap(res.Plan))
	}
}

// TestRestoreRefusesStrayTimestampRecord: a timestamps mirror with a record
// that names no resource in a form it cannot have (no "@") is corrupt; a
// system restore refuses the snapshot, whatever the folder's size, and
// writes nothing.
func TestRestoreRefusesStrayTimestampRecord(t *testing.T) {
	r := newRepo(t)
	snap := craftCubeSnapshot(t, r, 1, "a.json@1", "zz-stray")
	target := memory.New()
	_, err := r.Restore(context.Background(), snap, target, RestoreOptions{Scope: scope.SystemScope()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "zz-stray") {
		t.Errorf("Restore: %v; want ErrCorrupt naming the record", err)
	}
	if target.Len() != 0 {
		t.Errorf("the refused restore wrote %d resources", target.Len())
	}
}
