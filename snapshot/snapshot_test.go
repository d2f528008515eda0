package snapshot

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

var sample = metastoretest.Sample("kylin-3.1.3")

// clock is a deterministic clock that advances one second per call.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func newRepo(t *testing.T) *Repository {
	t.Helper()
	r, err := Create(filepath.Join(t.TempDir(), "snapshots.git"), Options{Now: clock(), User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func seeded(t *testing.T) (*memory.Store, []metastore.Resource) {
	t.Helper()
	m := memory.New()
	res := metastoretest.Seed(t, m, sample)
	return m, res
}

// sampleSnapshot backs up scope s of the sample metastore into a new
// repository, and opens the snapshot.
func sampleSnapshot(t *testing.T, s scope.Scope) (*Repository, *memory.Store, *Snapshot) {
	t.Helper()
	r := newRepo(t)
	src, _ := seeded(t)
	return r, src, r.OpenInfo(backup(t, r, src, s).Snapshot)
}

func backup(t *testing.T, r *Repository, src metastore.Source, s scope.Scope) *BackupResult {
	t.Helper()
	res, err := r.Backup(context.Background(), src, BackupOptions{Scope: s})
	if err != nil {
		t.Fatalf("backup %s: %v", s, err)
	}
	return res
}

// dump reads every resource of src.
func dump(t *testing.T, src metastore.Source) map[string]metastore.Resource {
	t.Helper()
	out := map[string]metastore.Resource{}
	ctx := context.Background()
	err := src.List(ctx, "/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		out[p] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameResources(t *testing.T, got, want map[string]metastore.Resource) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case !bytes.Equal(g.Data, w.Data):
			t.Errorf("%s: content differs (%d bytes, want %d)", p, len(g.Data), len(w.Data))
		case g.Timestamp != w.Timestamp:
			t.Errorf("%s: timestamp %d, want %d", p, g.Timestamp, w.Timestamp)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected", p)
		}
	}
}

func TestBackupRestoreSampleByteIdentical(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	want := dump(t, src)
	res := backup(t, r, src, scope.SystemScope())
	if res.Resources != len(want) || len(want) != 188 {
		t.Fatalf("recorded %d resources, want %d (sample has 188)", res.Resources, len(want))
	}
	snap := r.OpenInfo(res.Snapshot)
	sameResources(t, dump(t, snap), want)

	// Into a fresh folder metastore: real files, mtimes to the millisecond.
	dir := filepath.Join(t.TempDir(), "fresh")
	dst := newFolder(t, dir)
	rr, err := r.Restore(context.Background(), snap, dst, RestoreOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Applied || rr.Counts[Added] != 188 {
		t.Fatalf("restore counts %v, want 188 added", rr.Counts)
	}
	reopened := reopen(t, dir)
	sameResources(t, dump(t, reopened), want)
}

// newObjects returns the kinds of the objects added by fn.
func newObjects(t *testing.T, r *Repository, fn func()) map[objects.Kind]int {
	t.Helper()
	before := map[objects.ID]bool{}
	r.objs.ForEachObject(func(id objects.ID) error { before[id] = true; return nil })
	fn()
	out := map[objects.Kind]int{}
	r.objs.ForEachObject(func(id objects.ID) error {
		if !before[id] {
			k, _, err := r.objs.Read(id)
			if err != nil {
				t.Fatal(err)
			}
			out[k]++
		}
		return nil
	})
	return out
}

func TestIdenticalContentStoredOnce(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	added := newObjects(t, r, func() { backup(t, r, src, scope.SystemScope()) })
	if added[objects.KindBlob] != 0 || added[objects.KindTree] != 0 || added[objects.KindCommit] != 1 {
		t.Errorf("second backup of an unchanged metastore added %v, want only a commit", added)
	}
	added = newObjects(t, r, func() {
		backup(t, r, src, scope.ProjectScope("default"))
		backup(t, r, src, scope.CubeScope("ssb"))
	})
	if added[objects.KindBlob] != 0 {
		t.Errorf("project and cube backups after a system backup added %d blobs, want 0", added[objects.KindBlob])
	}
}

func TestSkipIfUnchanged(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	first := backup(t, r, src, scope.SystemScope())
	ctx := context.Background()
	res, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), SkipIfUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recorded || res.Snapshot.ID != first.Snapshot.ID {
		t.Errorf("unchanged: recorded=%v snapshot=%s, want no snapshot and %s", res.Recorded, res.Snapshot.ID.Short(), first.Snapshot.ID.Short())
	}
	// A timestamp alone is a change.
	rs, _ := src.Read(ctx, "/cube/ssb.json")
	rs.Timestamp++
	src.Write(ctx, rs)
	res, err = r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), SkipIfUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Recorded {
		t.Error("a changed timestamp was not recorded")
	}
}

func TestChangeCacheNeverMissesARewrite(t *testing.T) {
	dir := t.TempDir()
	st := reopen(t, dir)
	st = st.WithRacyWindow(0)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		st.Write(ctx, metastore.Resource{Path: fmt.Sprintf("/cube/c%02d.json", i), Data: []byte(`{"v":1}`), Timestamp: 1700000000000})
	}
	r := newRepo(t)
	backup(t, r, st, scope.SystemScope())
	second := backup(t, r, st, scope.SystemScope())
	if second.Unread != 20 {
		t.Errorf("second backup re-read %d resources, want all 20 vouched for by the cache", 20-second.Unread)
	}
	// Same size, same mtime, different bytes: only the change time tells.
	p := filepath.Join(dir, "cube", "c07.json")
	if err := os.WriteFile(p, []byte(`{"v":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.UnixMilli(1700000000000)
	os.Chtimes(p, mt, mt)
	third := backup(t, r, st, scope.SystemScope())
	got, err := r.OpenInfo(third.Snapshot).Read(ctx, "/cube/c07.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"v":2}` {
		t.Errorf("snapshot holds %s, want the rewritten content", got.Data)
	}
}

func TestRestoreLatestTwiceIsStable(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	// Kylin changes a cube; the admin wants it back.
	src.Write(ctx, metastore.Resource{Path: "/cube/ssb.json", Data: []byte(`{"broken":true}`), Timestamp: 1})
	src.Write(ctx, metastore.Resource{Path: "/cube/new.json", Data: []byte(`{}`), Timestamp: 2})
	for i := 0; i < 2; i++ {
		in, err := r.Resolve(ctx, Latest, scope.SystemScope())
		if err != nil {
			t.Fatal(err)
		}
		if in.Kind != KindBackup {
			t.Fatalf("run %d: latest resolved to a %s snapshot", i, in.Kind)
		}
		res, err := r.Restore(ctx, r.OpenInfo(in), src, RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true})
		if err != nil {
			t.Fatal(err)
		}
		changes := res.Counts[Added] + res.Counts[Changed] + res.Counts[Deleted]
		if i == 0 && (changes != 2 || res.Safety == nil) {
			t.Errorf("first restore: %v changes, safety %v; want 2 changes and a safety snapshot", res.Counts, res.Safety)
		}
		if i == 1 && (changes != 0 || res.Safety != nil) {
			t.Errorf("second restore of latest changed %v: it must not flip back to the safety snapshot", res.Counts)
		}
	}
	log, _ := r.Log(ctx, LogFilter{})
	kinds := map[Kind]int{}
	for _, in := range log {
		kinds[in.Kind]++
	}
	if kinds[KindSafety] != 1 || kinds[KindBackup] != 1 {
		t.Errorf("log kinds %v, want one backup and one safety snapshot", kinds)
	}
	// The safety snapshot undoes the restore.
	var safety Info
	for _, in := range log {
		if in.Kind == KindSafety {
			safety = in
		}
	}
	if _, err := r.Restore(ctx, r.OpenInfo(safety), src, RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := src.Read(ctx, "/cube/ssb.json")
	if string(got.Data) != `{"broken":true}` {
		t.Errorf("undo restored %q", got.Data)
	}
}

func uuidResource(u string) metastore.Resource {
	return metastore.Resource{Path: "/UUID", Data: append([]byte{0, byte(len(u))}, u...), Timestamp: 5}
}

// TestUUIDTrailer pins which /UUID a snapshot records as its
// Metastore-UUID: what scope.DecodeUUID reads (Kylin's writeUTF form, or
// plain text), and nothing for a value that is no identity (a control
// character, no text); a restore then has no /UUID of the snapshot to
// compare with the target's.
func TestUUIDTrailer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"writeUTF", uuidResource("3591078f-9401-481a-a233-e7755c1142d0").Data, "3591078f-9401-481a-a233-e7755c1142d0"},
		{"plain text", []byte("3591078f-9401-481a-a233-e7755c1142d0\n"), "3591078f-9401-481a-a233-e7755c1142d0"},
		{"a tab", []byte("\x00\x03a\tb"), ""},
		{"a control character", []byte("\x00\x03a\x01b"), ""},
		{"empty", []byte("\x00\x00"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			m := memory.New()
			m.Write(ctx, metastore.Resource{Path: "/UUID", Data: tc.data, Timestamp: 1})
			m.Write(ctx, metastore.Resource{Path: "/cube/a.json", Data: []byte("{}"), Timestamp: 1})
			res, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Snapshot.UUID != tc.want {
				t.Errorf("recorded UUID %q, want %q", res.Snapshot.UUID, tc.want)
			}
			c, err := r.objs.ReadCommit(res.Snapshot.ID.object())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(c.Message, "Metastore-UUID:"); got != (tc.want != "") {
				t.Errorf("Metastore-UUID trailer present: %v, want %v:\n%s", got, tc.want != "", c.Message)
			}
			// Restored into a metastore with another identity: refused only
			// when the snapshot has one.
			other := memory.New()
			other.Write(ctx, uuidResource("11111111-2222-3333-4444-555555555555"))
			_, err = r.Restore(ctx, r.OpenInfo(res.Snapshot), other, RestoreOptions{Scope: scope.SystemScope()})
			if foreign := errors.Is(err, ErrForeign); foreign != (tc.want != "") {
				t.Errorf("restore into another metastore: %v", err)
			}
		})
	}
}

func TestUUIDRules(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.SystemScope())
	if snap.Info.UUID != "3591078f-9401-481a-a233-e7755c1142d0" {
		t.Fatalf("snapshot UUID %q", snap.Info.UUID)
	}

	// A fresh metastore takes the snapshot's /UUID.
	fresh := memory.New()
	if _, err := r.Restore(ctx, snap, fresh, RestoreOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	if u, err := fresh.Read(ctx, "/UUID"); err != nil || uuidOf(u.Data) != snap.Info.UUID {
		t.Errorf("fresh target /UUID = %v, %v", u, err)
	}

	// Another environment refuses, unless told, and keeps its own /UUID.
	other := memory.New()
	other.Write(ctx, uuidResource("11111111-2222-3333-4444-555555555555"))
	_, err := r.Restore(ctx, snap, other, RestoreOptions{Scope: scope.SystemScope()})
	if !errors.Is(err, ErrForeign) {
		t.Fatalf("foreign restore: err = %v, want ErrForeign", err)
	}
	if other.Len() != 1 {
		t.Errorf("refused restore wrote %d resources", other.Len()-1)
	}
	if _, err := r.Restore(ctx, snap, other, RestoreOptions{Scope: scope.SystemScope(), AllowForeign: true}); err != nil {
		t.Fatal(err)
	}
	if u, _ := other.Read(ctx, "/UUID"); uuidOf(u.Data) != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("target /UUID overwritten with %q", u.Data)
	}

	// An imported Kylin backup folder has a made-up /UUID: warn, go on.
	dir := filepath.Join(t.TempDir(), "meta_2024_01_02_03_04_05")
	bf, _ := folder.Create(dir)
	metastoretest.Seed(t, bf, sample)
	bf.Write(ctx, uuidResource("99999999-2222-3333-4444-555555555555"))
	imp, err := r.Import(ctx, bf, ImportOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Snapshot.Kind != KindImport || imp.Snapshot.Time.Year() != 2024 || imp.Snapshot.FolderTime != "2024-01-02T03:04:05" {
		t.Errorf("import: kind %s time %s folder time %q", imp.Snapshot.Kind, imp.Snapshot.Time, imp.Snapshot.FolderTime)
	}
	again, err := r.Import(ctx, bf, ImportOptions{Path: dir})
	if err != nil || again.Recorded || again.Snapshot.ID != imp.Snapshot.ID {
		t.Errorf("second import of the same folder: recorded=%v id=%s err=%v, want the first snapshot", again.Recorded, again.Snapshot.ID.Short(), err)
	}
	res, err := r.Restore(ctx, r.OpenInfo(imp.Snapshot), src, RestoreOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatalf("restore of an imported folder into a metastore with another UUID: %v", err)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "Kylin backup folder") {
		t.Errorf("warnings %q, want one about the backup folder's UUID", res.Warnings)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.SystemScope())
	src.Write(ctx, metastore.Resource{Path: "/cube/ssb.json", Data: []byte("x"), Timestamp: 9})
	src.Delete(ctx, "/table/SSB.PART.json")
	src.Write(ctx, metastore.Resource{Path: "/cube/extra.json", Data: []byte("{}"), Timestamp: 9})
	before := dump(t, src)
	refsBefore, _ := r.objs.Refs("refs/")
	res, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.SystemScope(), DryRun: true, AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, it := range res.Plan {
		if it.Action != Unchanged {
			got[it.Path] = it.Action
		}
	}
	want := map[string]Action{"/cube/ssb.json": Changed, "/table/SSB.PART.json": Added, "/cube/extra.json": Deleted}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	if res.Applied || res.Safety != nil {
		t.Error("dry run applied or recorded a safety snapshot")
	}
	sameResources(t, dump(t, src), before)
	refsAfter, _ := r.objs.Refs("refs/")
	if len(refsAfter) != len(refsBefore) {
		t.Errorf("dry run changed the repository's references")
	}
}

func TestRestoreProjectTouchesOnlyItsScope(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.ProjectScope("default"))
	// Out of scope: a cube in no project and a saved query.
	src.Write(ctx, metastore.Resource{Path: "/cube/ssb_cube1.json", Data: []byte("out of scope"), Timestamp: 3})
	src.Write(ctx, metastore.Resource{Path: "/query/q1", Data: []byte("{}"), Timestamp: 3})
	// In scope: a changed cube and a new job of the project.
	src.Write(ctx, metastore.Resource{Path: "/cube/ssb.json", Data: []byte("changed"), Timestamp: 3})
	src.Write(ctx, metastore.Resource{Path: "/execute/job1", Data: []byte(`{"uuid":"job1","params":{"projectName":"default"}}`), Timestamp: 3})
	res, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.ProjectScope("default"), AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Changed] != 1 || res.Counts[Deleted] != 1 {
		t.Errorf("counts %v, want 1 changed (ssb) and 1 deleted (the new job)", res.Counts)
	}
	for p, want := range map[string]string{"/cube/ssb_cube1.json": "out of scope", "/query/q1": "{}"} {
		if got, err := src.Read(ctx, p); err != nil || string(got.Data) != want {
			t.Errorf("%s: %q, %v; out-of-scope resources must be left alone", p, got.Data, err)
		}
	}
	if _, err := src.Read(ctx, "/execute/job1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("job of the project not truncated: %v", err)
	}
	// A system restore of a project snapshot is refused.
	if _, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrScopeMismatch) {
		t.Errorf("restore of a project snapshot at system scope: err = %v, want ErrScopeMismatch", err)
	}
}

func TestRestoreProjectKeepsSharedResources(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.ProjectScope("default"))
	// A second project shares a legacy table with default; default's
	// snapshot predates a table the target now lists in both.
	table := metastore.Resource{Path: "/table/DEFAULT.SHARED.json", Data: []byte(`{"name":"SHARED","database":"DEFAULT"}`), Timestamp: 4}
	src.Write(ctx, table)
	pd, _ := src.Read(ctx, "/project/default.json")
	pd.Data = bytes.Replace(pd.Data, []byte(`"DEFAULT.TEST_KYLIN_FACT",`), []byte(`"DEFAULT.TEST_KYLIN_FACT", "DEFAULT.SHARED",`), 1)
	src.Write(ctx, pd)
	src.Write(ctx, metastore.Resource{Path: "/project/other.json", Data: []byte(`{"uuid":"u2","name":"other","tables":["DEFAULT.SHARED"],"realizations":[],"models":[]}`), Timestamp: 4})
	res, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.ProjectScope("default"), AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(ctx, table.Path); err != nil {
		t.Errorf("shared table deleted: %v", err)
	}
	var note string
	for _, it := range res.Plan {
		if it.Path == table.Path {
			note = string(it.Action) + ": " + it.Note
		}
	}
	if !strings.HasPrefix(note, "kept: also used by project other") {
		t.Errorf("plan for the shared table: %q", note)
	}
}

func TestRestoreCubeMergesIntoProject(t *testing.T) {
	ctx := context.Background()
	r, _, snap := sampleSnapshot(t, scope.CubeScope("ssb"))

	target := memory.New()
	target.Write(ctx, uuidResource("3591078f-9401-481a-a233-e7755c1142d0"))
	projectJSON := "{\n  \"uuid\" : \"p-uuid\",\n  \"name\" : \"sales\",\n  \"realizations\" : [ ],\n  \"tables\" : [ \"DEFAULT.KEEP_ME\" ],\n  \"models\" : [ ],\n  \"owner\" : \"ADMIN\"\n}"
	target.Write(ctx, metastore.Resource{Path: "/project/sales.json", Data: []byte(projectJSON), Timestamp: 7})
	_, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "nosuch"})
	if !errors.Is(err, scope.ErrUnknownProject) {
		t.Fatalf("restore-cube into a missing project: err = %v", err)
	}
	res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	pf, _ := target.Read(ctx, "/project/sales.json")
	for _, want := range []string{`"owner" : "ADMIN"`, `"DEFAULT.KEEP_ME"`, `"realization":"ssb"`, `"SSB.V_LINEORDER"`, `"ssb"`} {
		if !strings.Contains(string(pf.Data), want) {
			t.Errorf("merged project file lacks %s:\n%s", want, pf.Data)
		}
	}
	for _, p := range []string{"/cube/ssb.json", "/cube_desc/ssb.json", "/model_desc/ssb.json", "/table/SSB.PART.json"} {
		if _, err := target.Read(ctx, p); err != nil {
			t.Errorf("%s not restored: %v", p, err)
		}
	}
	if _, err := target.Read(ctx, "/project/default.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the snapshot's own project file was written: %v", err)
	}
	if res.Counts[Changed] != 1 {
		t.Errorf("counts %v, want the project file changed once", res.Counts)
	}
}

func TestRefusesTraversalInCraftedSnapshot(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	root := t.TempDir()
	target, _ := folder.Create(filepath.Join(root, "meta"))
	// Hand-craft a tree whose entries climb out of the metastore.
	pw, _ := r.objs.NewPackWriter(0)
	blob, _, _ := pw.WriteBlob([]byte("pwned"))
	raw := func(entries ...string) objects.ID {
		var b bytes.Buffer
		for _, e := range entries {
			name, id, _ := strings.Cut(e, "\x00")
			mode := "100644"
			if strings.HasPrefix(name, "d:") {
				mode, name = "40000", name[2:]
			}
			b.WriteString(mode + " " + name + "\x00")
			oid, _ := objects.ParseID(id)
			b.Write(oid[:])
		}
		id, _, _ := pw.Write(objects.KindTree, b.Bytes())
		return id
	}
	inner := raw("passwd\x00" + blob.String())
	up := raw("d:etc\x00" + inner.String())
	root1 := raw("d:..\x00" + up.String())
	c, _ := pw.WriteCommit(objects.Commit{Tree: root1, Message: encodeMessage("evil", trailerInfo{Scope: scope.SystemScope(), Kind: KindBackup})})
	if _, err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	r.objs.UpdateRef("refs/heads/system", c, objects.ZeroID)
	in, err := r.Resolve(ctx, "latest", scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Restore(ctx, r.OpenInfo(in), target, RestoreOptions{Scope: scope.SystemScope()})
	if err == nil {
		t.Fatal("restore of a snapshot with a '..' entry succeeded")
	}
	if _, serr := os.Stat(filepath.Join(root, "etc", "passwd")); serr == nil {
		t.Fatal("restore wrote outside the metastore")
	}
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("err = %v, want a corrupt-repository error", err)
	}
}

func TestConcurrentBackupsAreAllRecorded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "snapshots.git")
	if _, err := Create(path, Options{}); err != nil {
		t.Fatal(err)
	}
	src, _ := seeded(t)
	scopes := []scope.Scope{
		scope.SystemScope(), scope.ProjectScope("default"), scope.CubeScope("ssb"), scope.CubeScope("ci_inner_join_cube"),
		scope.SystemScope(), scope.CubeScope("ssb"),
	}
	var wg sync.WaitGroup
	ids := make([]ID, len(scopes))
	for i, s := range scopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(path, Options{}) // each its own lock file handle, like separate processes
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			res, err := r.Backup(ctx, src, BackupOptions{Scope: s})
			if err != nil {
				t.Errorf("backup %s: %v", s, err)
				return
			}
			ids[i] = res.Snapshot.ID
		}()
	}
	wg.Wait()
	r, _ := Open(path, Options{})
	defer r.Close()
	log, err := r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[ID]bool{}
	for _, in := range log {
		got[in.ID] = true
	}
	for i, id := range ids {
		if !got[id] {
			t.Errorf("snapshot %d (%s) lost", i, scopes[i])
		}
	}
	if len(log) != len(scopes) {
		t.Errorf("log has %d snapshots, want %d", len(log), len(scopes))
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seeded(t)
	var ids []ID
	for i := 0; i < 40; i++ {
		src.Write(ctx, metastore.Resource{Path: "/cube/counter.json", Data: []byte(fmt.Sprint(i)), Timestamp: int64(i)})
		ids = append(ids, backup(t, r, src, scope.SystemScope()).Snapshot.ID)
	}
	backup(t, r, src, scope.ProjectScope("default"))
	if _, err := r.Tag(ctx, ids[3].Short(), "before-upgrade"); err != nil {
		t.Fatal(err)
	}
	// Two ids sharing their first hex digit exist among 40.
	byFirst := map[byte][]ID{}
	for _, id := range ids {
		byFirst[id.String()[0]] = append(byFirst[id.String()[0]], id)
	}
	var amb string
	for _, l := range byFirst {
		if len(l) > 1 {
			amb = l[0].String()[:1]
		}
	}
	tests := []struct {
		ref  string
		want ID
		err  error
	}{
		{"latest", ids[39], nil},
		{"before-upgrade", ids[3], nil},
		{ids[5].String(), ids[5], nil},
		{ids[5].Short(), ids[5], nil},
		{strings.ToUpper(ids[6].String()[:10]), ids[6], nil},
		{"system", ids[39], nil},
		{"deadbeefdeadbeef", ID{}, ErrNotFound},
		{"no-such-tag", ID{}, ErrNotFound},
		{amb + amb + amb, ID{}, nil}, // may or may not match; only must not panic
		{"", ID{}, ErrInvalidRef},
	}
	for _, tt := range tests {
		in, err := r.Resolve(ctx, tt.ref, scope.SystemScope())
		if tt.ref == amb+amb+amb {
			continue
		}
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q) err = %v, want %v", tt.ref, err, tt.err)
			}
			continue
		}
		if err != nil || in.ID != tt.want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", tt.ref, in.ID.Short(), err, tt.want.Short())
		}
	}
	if amb != "" {
		// A 4-digit prefix is the shortest accepted; find an ambiguous one by
		// brute force over the listed ids' prefixes.
		prefixes := map[string]int{}
		for _, id := range ids {
			for n := 4; n <= 6; n++ {
				prefixes[id.String()[:n]]++
			}
		}
		for p, n := range prefixes {
			if n > 1 {
				if _, err := r.Resolve(ctx, p, scope.SystemScope()); !errors.Is(err, ErrAmbiguous) {
					t.Errorf("Resolve(%q) err = %v, want ErrAmbiguous", p, err)
				}
			}
		}
	}
	// latest for a project: its own snapshot or a newer system one.
	in, err := r.Resolve(ctx, "latest", scope.ProjectScope("default"))
	if err != nil || in.Scope != scope.ProjectScope("default") {
		t.Errorf("latest for project/default = %s %s, %v", in.ID.Short(), in.Scope, err)
	}
	if _, err := r.Resolve(ctx, "latest", scope.ProjectScope("nosuch")); !errors.Is(err, ErrNotFound) {
		t.Errorf("latest for an unknown project: err = %v", err)
	}
	if _, err := r.Tag(ctx, "latest", "before-upgrade"); !errors.Is(err, ErrTagExists) {
		t.Errorf("duplicate tag: err = %v", err)
	}
}

func TestOpenRefusesForeignAndNewerRepositories(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none"), Options{}); !errors.Is(err, ErrNoRepository) {
		t.Errorf("missing: %v", err)
	}
	plain := filepath.Join(dir, "plain.git")
	objects.Init(plain, "refs/heads/main", nil)
	if _, err := Open(plain, Options{}); !errors.Is(err, ErrNotMetastoreRepository) {
		t.Errorf("plain git repository: %v", err)
	}
	newer := filepath.Join(dir, "newer.git")
	objects.Init(newer, headRef, map[string]map[string]string{"metastore": {"format": "99"}})
	if _, err := Open(newer, Options{}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("newer format: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := Open(file, Options{}); !errors.Is(err, ErrNotMetastoreRepository) {
		t.Errorf("a file: %v", err)
	}
}

func TestBackupRefusesReservedAndEmpty(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	if _, err := r.Backup(ctx, memory.New(), BackupOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrEmptySource) {
		t.Errorf("empty metastore: err = %v, want ErrEmptySource", err)
	}
	m := memory.New()
	m.Write(ctx, metastore.Resource{Path: "/.metastore/timestamps/x", Data: []byte("x")})
	if _, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrReservedPath) {
		t.Errorf("reserved path: err = %v, want ErrReservedPath", err)
	}
	src, _ := seeded(t)
	if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.ProjectScope("defualt")}); !errors.Is(err, scope.ErrUnknownProject) || !strings.Contains(err.Error(), "default") {
		t.Errorf("unknown project: err = %v, want ErrUnknownProject naming default", err)
	}
	refs, _ := r.objs.Refs("refs/heads/")
	if len(refs) != 0 {
		t.Errorf("failed backups left references %v", refs)
	}
}

func TestTimestampNamesRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	m := memory.New()
	names := []string{"/a/x@123", "/a/x", "/a/y@1@", "/b@5/c", "/b/c", "/d/.hidden", "/e/with space", "/f/数据.json", "/g/neg"}
	for i, p := range names {
		ts := int64(1000 + i)
		if p == "/g/neg" {
			ts = -5
		}
		m.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: ts})
	}
	snap := r.OpenInfo(backup(t, r, m, scope.SystemScope()).Snapshot)
	sameResources(t, dump(t, snap), dump(t, m))
	var listed []string
	snap.List(ctx, "/", func(p string) error { listed = append(listed, p); return nil })
	if !sort.StringsAreSorted(listed) {
		t.Errorf("snapshot lists out of byte order: %q", listed)
	}
}

// walkingSource streams resources like a database backend and keeps one
// resource's content elsewhere, as Kylin's JDBC store does past
// max-cell-size.
type walkingSource struct {
	*memory.Store
	elsewhere string
	views     int
}

func (w *walkingSource) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if p == w.elsewhere {
		return metastore.Resource{}, fmt.Errorf("%s: %w", p, metastore.ErrContentElsewhere)
	}
	return w.Store.Read(ctx, p)
}

func (w *walkingSource) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	return w.Store.List(ctx, prefix, func(p string) error {
		r, err := w.Read(ctx, p)
		if err != nil {
			return fn(metastore.Resource{Path: p}, err)
		}
		return fn(r, nil)
	})
}

type view struct {
	*walkingSource
}

func (view) Close() error { return nil }

func (w *walkingSource) View(ctx context.Context) (metastore.View, error) {
	w.views++
	return view{w}, nil
}

func TestBackupFromWalkerReportsContentElsewhere(t *testing.T) {
	r := newRepo(t)
	m, _ := seeded(t)
	src := &walkingSource{Store: m, elsewhere: "/dict/TEST_KYLIN_FACT/PRICE/927dde3f-6999-4434-b57c-adfa73160334.dict"}
	for _, s := range []scope.Scope{scope.SystemScope(), scope.CubeScope("test_kylin_cube_with_slr_ready")} {
		res, err := r.Backup(context.Background(), src, BackupOptions{Scope: s, WithSegments: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, w := range res.Warnings {
			if w.Path == src.elsewhere && strings.Contains(w.Message, "max-cell-size") {
				found = true
			}
		}
		snap := r.OpenInfo(res.Snapshot)
		if _, err := snap.Read(context.Background(), src.elsewhere); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: resource kept elsewhere was stored: %v", s, err)
		}
		if s.Kind == scope.System && (!found || res.Resources != 187) {
			t.Errorf("system: warnings %v, %d resources; want a warning and 187 resources", res.Warnings, res.Resources)
		}
	}
	if src.views != 2 {
		t.Errorf("backups opened %d consistent views, want 2", src.views)
	}
}

func TestRestoreCubeRefusesASecondProject(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.CubeScope("ssb"))
	src.Write(ctx, metastore.Resource{Path: "/project/sales.json", Data: []byte(`{"name":"sales","realizations":[],"tables":[],"models":[]}`), Timestamp: 1})
	before := dump(t, src)
	// ssb belongs to project default in the target.
	_, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales", AfterTruncate: true})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already belongs to project default") {
		t.Fatalf("err = %v, want ErrConflict naming project default", err)
	}
	sameResources(t, dump(t, src), before)
}

func TestUndoCubeRestore(t *testing.T) {
	ctx := context.Background()
	r, _, snap := sampleSnapshot(t, scope.CubeScope("ssb"))

	target := memory.New()
	target.Write(ctx, uuidResource("3591078f-9401-481a-a233-e7755c1142d0"))
	target.Write(ctx, metastore.Resource{Path: "/project/sales.json", Data: []byte(`{"name":"sales","realizations":[],"tables":["DEFAULT.KEEP"],"models":[]}`), Timestamp: 7})
	target.Write(ctx, metastore.Resource{Path: "/table/DEFAULT.KEEP.json", Data: []byte(`{}`), Timestamp: 7})
	before := dump(t, target)
	res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales", AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Added] < 5 || res.Safety == nil || len(res.Safety.RestoreAdded) != res.Counts[Added] {
		t.Fatalf("counts %v, safety %+v", res.Counts, res.Safety)
	}
	// The printed undo: restore-cube PROJECT <safety> --after-truncate.
	undo, err := r.Restore(ctx, r.OpenInfo(*res.Safety), target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales", AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if undo.Counts[Deleted] != res.Counts[Added] || undo.Counts[Changed] != 1 {
		t.Errorf("undo counts %v, want %d deleted and the project file changed back", undo.Counts, res.Counts[Added])
	}
	sameResources(t, dump(t, target), before)
}

func TestCubeTruncateKeepsSharedMetadata(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.CubeScope("ssb"))
	// The model now also uses a new table; the cube restore must not delete
	// it even though the snapshot lacks it.
	md, _ := src.Read(ctx, "/model_desc/ssb.json")
	md.Data = bytes.Replace(md.Data, []byte(`"table" : "SSB.PART"`), []byte(`"table" : "SSB.NEWDIM"`), 1)
	src.Write(ctx, md)
	src.Write(ctx, metastore.Resource{Path: "/table/SSB.NEWDIM.json", Data: []byte(`{}`), Timestamp: 3})
	res, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "default", AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(ctx, "/table/SSB.NEWDIM.json"); err != nil {
		t.Errorf("a table was deleted by a cube restore: %v", err)
	}
	if res.Counts[Deleted] != 0 || res.Counts[Kept] != 1 {
		t.Errorf("counts %v, want the new table kept", res.Counts)
	}
}

func TestTruncatingProjectRestoreRefusesWhenAnotherProjectIsUnreadable(t *testing.T) {
	ctx := context.Background()
	r, src, snap := sampleSnapshot(t, scope.ProjectScope("default"))
	src.Write(ctx, metastore.Resource{Path: "/project/broken.json", Data: []byte(`{"name":"broken","tables":[`), Timestamp: 3})
	src.Write(ctx, metastore.Resource{Path: "/user/NEWUSER", Data: []byte(`{}`), Timestamp: 3})
	_, err := r.Restore(ctx, snap, src, RestoreOptions{Scope: scope.ProjectScope("default"), AfterTruncate: true})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "project broken") {
		t.Errorf("err = %v, want ErrConflict naming project broken", err)
	}
	if _, rerr := src.Read(ctx, "/user/NEWUSER"); rerr != nil {
		t.Error("deleted a resource while another project's use of it was unknown")
	}
}

func TestDamagedCachesOnlyCostTime(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	first := backup(t, r, src, scope.SystemScope())
	cache := r.cachePath("memory")
	for name, data := range map[string][]byte{
		cache:            append(append([]byte(cacheMagic), make([]byte, 20)...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		cache + ".trees": append(append([]byte(memoMagic), make([]byte, 20)...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	again := backup(t, r, src, scope.SystemScope())
	if again.Snapshot.Resources != first.Snapshot.Resources {
		t.Errorf("backup with damaged caches recorded %d resources, want %d", again.Snapshot.Resources, first.Snapshot.Resources)
	}
	// A memo naming trees the repository lacks is not trusted either.
	m := &dirMemo{next: map[string]memoEntry{"cube": {tree: objects.HashObject(objects.KindTree, []byte("nope"))}}}
	if err := m.save(cache+".trees", objects.ID{}); err != nil {
		t.Fatal(err)
	}
	third := backup(t, r, src, scope.SystemScope())
	if r.OpenInfo(third.Snapshot).Info.tree != r.OpenInfo(again.Snapshot).Info.tree {
		t.Error("a bogus memo changed the snapshot's tree")
	}
}

// TestSnapshotExists checks Exists against Read on a recorded snapshot.
func TestSnapshotExists(t *testing.T) {
	ctx := t.Context()
	r := newRepo(t)
	m := memory.New()
	for _, p := range []string{"/UUID", "/cube/a.json", "/cube/a@1.json", "/dict/T/C/x.dict"} {
		if err := m.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: 7}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Backup(ctx, m, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	s := r.OpenInfo(res.Snapshot)
	for p, want := range map[string]bool{
		"/UUID": true, "/cube/a.json": true, "/cube/a@1.json": true, "/dict/T/C/x.dict": true,
		"/cube/b.json": false, "/cube": false, "/dict/T/C": false, "/cube/a.json/x": false, "/nothing/x": false,
	} {
		got, err := s.Exists(ctx, p)
		if err != nil || got != want {
			t.Errorf("Exists(%q) = %v, %v; want %v", p, got, err, want)
		}
		_, rerr := s.Read(ctx, p)
		if (rerr == nil) != want {
			t.Errorf("Read(%q) error %v disagrees with Exists", p, rerr)
		}
	}
	if _, err := s.Exists(ctx, "/cube/../x"); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("Exists of an invalid path: %v", err)
	}
}

// TestSnapshotIsASource runs the read-only conformance suite against a
// snapshot of a metastore holding metastoretest.Resources: a snapshot
// reads, lists and reports missing resources as any metastore does.
func TestSnapshotIsASource(t *testing.T) {
	r := newRepo(t)
	m := memory.New()
	want := metastoretest.Resources()
	for _, res := range want {
		if err := m.Write(t.Context(), res); err != nil {
			t.Fatal(err)
		}
	}
	b, err := r.Backup(t.Context(), m, BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	metastoretest.RunSource(t, r.OpenInfo(b.Snapshot), want)
}

// TestTrailersDocumented checks that FORMAT.md documents every commit
// trailer a snapshot may carry: every "Metastore-..." constant of
// commit.go.
func TestTrailersDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "FORMAT.md"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "commit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		lit, ok := node.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || !strings.HasPrefix(lit.Value, `"Metastore-`) {
			return true
		}
		n++
		if tr, _ := strconv.Unquote(lit.Value); !strings.Contains(string(doc), "| `"+tr+": ") {
			t.Errorf("FORMAT.md's trailer table lacks %s", tr)
		}
		return true
	})
	if n < 13 {
		t.Errorf("found %d trailers in commit.go, want at least 13", n)
	}
}

// dirState describes every file and folder under dir: its type, the
// content of each file and, withTimes, each one's mode and modification
// time; so that a test can tell whether an operation changed anything.
func dirState(t testing.TB, withTimes bool, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v", rel, d.Type())
		if withTimes {
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %v %d", info.Mode(), info.ModTime().UnixNano())
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// publishCommit writes commit c into pw, commits the pack and points ref at
// the commit: a crafted snapshot (or commit) as a repository may hold one.
func publishCommit(t *testing.T, r *Repository, pw *objects.PackWriter, c objects.Commit, ref string) objects.ID {
	t.Helper()
	id, err := pw.WriteCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := r.objs.UpdateRef(ref, id, objects.ZeroID); err != nil {
		t.Fatal(err)
	}
	return id
}

// zlibSource is a walkingSource that keeps every resource as a zlib stream
// of stored blocks (no compression), and hands it on as Resource.Zlib.
type zlibSource struct{ walkingSource }

func (z *zlibSource) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	return z.walkingSource.Walk(ctx, prefix, func(r metastore.Resource, err error) error {
		if err == nil {
			var b bytes.Buffer
			zw, _ := zlib.NewWriterLevel(&b, zlib.NoCompression)
			zw.Write(r.Data)
			zw.Close()
			r.Zlib = b.Bytes()
		}
		return fn(r, err)
	})
}

type zlibView struct{ *zlibSource }

func (zlibView) Close() error { return nil }

func (z *zlibSource) View(ctx context.Context) (metastore.View, error) { return zlibView{z}, nil }

// TestBackupKeepsTheSourcesStreams checks that a system backup from a
// walker stores the zlib streams the source keeps as they are (streams of
// stored blocks take more room than the content; the backup's own
// compression takes far less), and that the snapshot holds the content.
func TestBackupKeepsTheSourcesStreams(t *testing.T) {
	m, _ := seeded(t)
	plain := backup(t, newRepo(t), &walkingSource{Store: m}, scope.SystemScope())
	r := newRepo(t)
	res := backup(t, r, &zlibSource{walkingSource{Store: m}}, scope.SystemScope())
	if res.PackBytes < res.Bytes {
		t.Errorf("pack of %d bytes for %d bytes of content: the source's stored-block streams not kept", res.PackBytes, res.Bytes)
	}
	if plain.PackBytes > res.Bytes*3/4 {
		t.Errorf("plain backup: pack of %d bytes for %d bytes: the comparison means nothing", plain.PackBytes, res.Bytes)
	}
	sameResources(t, dump(t, r.OpenInfo(res.Snapshot)), dump(t, m))
}

// bufferSource is a walkingSource that hands each resource's content (and
// zlib stream) in one buffer it reuses and scribbles over once fn returns,
// as Walk's contract allows; or, when owned, in copies of its own marked
// Owned.
type bufferSource struct {
	walkingSource
	owned bool
}

func (b *bufferSource) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	var data, z []byte
	return b.walkingSource.Walk(ctx, prefix, func(r metastore.Resource, err error) error {
		if err != nil {
			return fn(r, err)
		}
		var zb bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&zb, zlib.BestSpeed)
		zw.Write(r.Data)
		zw.Close()
		if b.owned {
			r.Data, r.Zlib, r.Owned = bytes.Clone(r.Data), zb.Bytes(), true
			return fn(r, nil)
		}
		data, z = append(data[:0], r.Data...), append(z[:0], zb.Bytes()...)
		r.Data, r.Zlib = data, z
		err = fn(r, nil)
		for i := range data {
			data[i] = 'x'
		}
		for i := range z {
			z[i] = 0
		}
		return err
	})
}

type bufferView struct{ *bufferSource }

func (bufferView) Close() error { return nil }

func (b *bufferSource) View(ctx context.Context) (metastore.View, error) { return bufferView{b}, nil }

// TestBackupOfWalkedBuffers: a walker may reuse its buffers once fn
// returns, unless it marks a resource Owned; the backup holds the content
// either way, and keeps an Owned resource's buffers instead of copying
// them.
func TestBackupOfWalkedBuffers(t *testing.T) {
	m, _ := seeded(t)
	for _, owned := range []bool{false, true} {
		r := newRepo(t)
		res := backup(t, r, &bufferSource{walkingSource: walkingSource{Store: m}, owned: owned}, scope.SystemScope())
		sameResources(t, dump(t, r.OpenInfo(res.Snapshot)), dump(t, m))
		if v, err := r.Verify(context.Background(), VerifyOptions{ReadData: true}); err != nil || len(v.Problems) > 0 {
			t.Errorf("owned %v: verify: %v %v", owned, err, v)
		}
	}
	var bufs walkBuffers
	data := []byte("content")
	if got := bufs.take(data, true); &(*got)[0] != &data[0] {
		t.Error("an Owned resource's content was copied")
	}
	if got := bufs.take(data, false); &(*got)[0] == &data[0] || string(*got) != "content" {
		t.Errorf("content not Owned was not copied: %q", *got)
	}
}
