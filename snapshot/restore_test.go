package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/scope"
)

// writeFiles writes resources into a folder metastore.
func writeFiles(t *testing.T, st metastore.Sink, files map[string]string) {
	t.Helper()
	for p, data := range files {
		if err := st.Write(context.Background(), metastore.Resource{Path: p, Data: []byte(data), Timestamp: 1600000000000}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkHistory asserts that every snapshot of the repository is still
// resolvable and readable, and that the repository verifies.
func checkHistory(t *testing.T, r *Repository, want int) {
	t.Helper()
	ctx := context.Background()
	log, err := r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != want {
		t.Errorf("log lists %d snapshots, want %d", len(log), want)
	}
	for _, in := range log {
		got, err := r.Resolve(ctx, in.ID.String(), scope.SystemScope())
		if err != nil || got.ID != in.ID {
			t.Errorf("snapshot %s no longer resolves: %v", in.ID.Short(), err)
			continue
		}
		if _, err := readAll(ctx, r.OpenInfo(got)); err != nil {
			t.Errorf("snapshot %s no longer reads: %v", in.ID.Short(), err)
		}
	}
	v, err := r.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(v.Problems) > 0 {
		t.Errorf("verify: %v, problems %v", err, v.Problems)
	}
}

func readAll(ctx context.Context, src metastore.Source) (int, error) {
	n := 0
	err := src.List(ctx, "/", func(p string) error {
		_, err := src.Read(ctx, p)
		n++
		return err
	})
	return n, err
}

// TestRepositoryInsideMetastoreIsRefused puts the repository inside the
// metastore folder, the metastore folder inside the repository, makes them
// the same folder, and reaches the repository through a symbolic link:
// every backup, import, restore (dry run or not, at any scope) and diff of
// such a folder is refused with ErrInsideRepository before it writes
// anything, and the repository's history survives whole.
func TestRepositoryInsideMetastoreIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	repoPath := filepath.Join(meta, "backups.git")
	// The history: two backups of another metastore, taken before the
	// repository was (mis)placed.
	r, err := Create(repoPath, Options{Now: clock(), User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, _ := seeded(t)
	first := backup(t, r, src, scope.SystemScope()).Snapshot
	src.Write(ctx, metastore.Resource{Path: "/cube/extra.json", Data: []byte(`{}`), Timestamp: 5})
	backup(t, r, src, scope.SystemScope())
	backup(t, r, src, scope.ProjectScope("default"))
	live := reopen(t, meta)
	writeFiles(t, live, map[string]string{"/UUID": "\x00\x05hello", "/cube/x.json": `{"name":"x"}`})

	if err := os.Symlink(filepath.Join(repoPath, "refs"), filepath.Join(dir, "link-into-repo")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(meta, filepath.Join(dir, "link-to-meta")); err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{
		"repository inside the metastore":        meta,
		"metastore is the repository":            repoPath,
		"metastore inside the repository":        filepath.Join(repoPath, "objects"),
		"link to a folder inside the repository": filepath.Join(dir, "link-into-repo"),
		"link to the metastore holding it":       filepath.Join(dir, "link-to-meta"),
	}
	snap := r.OpenInfo(first)
	before := dirState(t, true, dir)
	for name, path := range targets {
		st := reopen(t, path)
		attempts := map[string]error{}
		_, attempts["backup"] = r.Backup(ctx, st, BackupOptions{Scope: scope.SystemScope()})
		_, attempts["backup-project"] = r.Backup(ctx, st, BackupOptions{Scope: scope.ProjectScope("default")})
		_, attempts["import"] = r.Import(ctx, st, ImportOptions{Path: path})
		_, attempts["diff"] = r.Diff(ctx, snap, st, DiffOptions{})
		for _, dry := range []bool{true, false} {
			for _, s := range []scope.Scope{scope.SystemScope(), scope.ProjectScope("default"), scope.CubeScope("ssb")} {
				_, attempts[fmt.Sprintf("restore %s dry=%v", s, dry)] = r.Restore(ctx, snap, st, RestoreOptions{
					Scope: s, Project: "default", AfterTruncate: true, DryRun: dry,
				})
			}
		}
		for what, err := range attempts {
			if !errors.Is(err, ErrInsideRepository) {
				t.Errorf("%s: %s: err = %v, want ErrInsideRepository", name, what, err)
			}
		}
	}
	if after := dirState(t, true, dir); after != before {
		t.Errorf("refused operations changed files:\n--- before\n%s\n--- after\n%s", before, after)
	}
	checkHistory(t, r, 3)
}

func TestCheckSeparate(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "snap.git")
	for _, p := range []string{repo, filepath.Join(dir, "meta"), filepath.Join(dir, "file")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(repo, filepath.Join(dir, "repo-link"))
	os.Symlink(filepath.Join(dir, "meta"), filepath.Join(dir, "meta-link"))
	tests := []struct {
		repo, dir string
		refused   bool
	}{
		{repo, filepath.Join(dir, "meta"), false},
		{repo, filepath.Join(dir, "snap.git2"), false},                               // a sibling sharing a prefix
		{repo, filepath.Join(dir, "snap"), false},                                    // likewise, shorter
		{repo, filepath.Join(dir, "new", "meta"), false},                             // not there yet, outside
		{repo, repo, true},                                                           // the same folder
		{repo, repo + "/", true},                                                     // spelled differently
		{repo, filepath.Join(repo, "..", "snap.git"), true},                          // likewise
		{repo, dir, true},                                                            // contains the repository
		{repo, filepath.Join(repo, "objects", "new"), true},                          // not there yet, inside
		{repo, filepath.Join(dir, "repo-link", "x"), true},                           // inside, through a link
		{filepath.Join(dir, "meta-link", "b.git"), filepath.Join(dir, "meta"), true}, // a new repository inside, through a link
		{filepath.Join(dir, "meta", "b.git"), filepath.Join(dir, "meta-link"), true}, // the metastore through a link
		{filepath.Join(dir, "new.git"), filepath.Join(dir, "meta"), false},
		{repo, "/", true},
	}
	for _, tt := range tests {
		err := CheckSeparate(tt.repo, tt.dir)
		if got := errors.Is(err, ErrInsideRepository); got != tt.refused {
			t.Errorf("CheckSeparate(%s, %s) = %v, want refused %v", tt.repo, tt.dir, err, tt.refused)
		}
		if err != nil && !tt.refused {
			t.Errorf("CheckSeparate(%s, %s): unexpected error %v", tt.repo, tt.dir, err)
		}
	}
}

// swapCase is a resource that is a file on one side and a folder on the
// other: the snapshot has snap, the target has live.
type swapCase struct {
	name       string
	snap, live map[string]string
}

var swapCases = []swapCase{
	{
		name: "file became a folder",
		snap: map[string]string{"/UUID": "\x00\x01u", "/table/T.json": `{"file":true}`, "/cube/c.json": `{}`},
		live: map[string]string{"/UUID": "\x00\x01u", "/table/T.json/inner.json": `{"folder":true}`, "/table/T.json/deeper/x": "x", "/cube/c.json": `{"changed":1}`},
	},
	{
		name: "folder became a file",
		snap: map[string]string{"/UUID": "\x00\x01u", "/table/T.json/inner.json": `{"folder":true}`, "/table/T.json/deeper/x": "x", "/cube/c.json": `{}`},
		live: map[string]string{"/UUID": "\x00\x01u", "/table/T.json": `{"file":true}`, "/cube/c.json": `{"changed":1}`},
	},
}

// TestRestoreFileFolderSwap restores a snapshot in which a resource is a
// file into a target where it became a folder, and the reverse, on the
// folder and memory backends: with AfterTruncate the restore completes (the
// deletes that free a path run before the writes that need it), leaves
// exactly the snapshot, and agrees with its dry run; its safety snapshot
// swaps back. Without AfterTruncate a folder target refuses with
// ErrConflict before writing anything, in the dry run too.
func TestRestoreFileFolderSwap(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) metastore.Store{
		"folder": func(t *testing.T) metastore.Store {
			st := newFolder(t, filepath.Join(t.TempDir(), "meta"))
			return st
		},
		"memory": func(*testing.T) metastore.Store { return memory.New() },
	}
	for _, tc := range swapCases {
		for bname, open := range backends {
			t.Run(tc.name+"/"+bname, func(t *testing.T) {
				r := newRepo(t)
				src := memory.New()
				writeFiles(t, src, tc.snap)
				snap := r.OpenInfo(backup(t, r, src, scope.SystemScope()).Snapshot)
				target := open(t)
				writeFiles(t, target, tc.live)
				before := dump(t, target)
				opt := RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true}

				if bname == "folder" {
					// Without --after-truncate the folder in the way stays:
					// refused up front, dry run or not.
					for _, dry := range []bool{true, false} {
						_, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.SystemScope(), DryRun: dry})
						if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "--after-truncate") {
							t.Errorf("dry run %v without --after-truncate: err = %v, want ErrConflict suggesting --after-truncate", dry, err)
						}
					}
					sameResources(t, dump(t, target), before)
					if log, _ := r.Log(ctx, LogFilter{}); len(log) != 1 {
						t.Errorf("a refused restore recorded a safety snapshot (%d snapshots)", len(log))
					}
				}

				dryOpt := opt
				dryOpt.DryRun = true
				plan, err := r.Restore(ctx, snap, target, dryOpt)
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				res, err := r.Restore(ctx, snap, target, opt)
				if err != nil {
					t.Fatalf("restore: %v", err)
				}
				if fmt.Sprint(res.Counts) != fmt.Sprint(plan.Counts) || len(res.Plan) != len(plan.Plan) {
					t.Errorf("the restore did %v, its dry run planned %v", res.Counts, plan.Counts)
				}
				sameResources(t, dump(t, target), dump(t, snap))

				// The printed undo swaps back.
				if _, err := r.Restore(ctx, r.OpenInfo(*res.Safety), target, opt); err != nil {
					t.Fatalf("undo: %v", err)
				}
				sameResources(t, dump(t, target), before)
			})
		}
	}
}

// TestProjectRestoreRefusesAFolderInTheWay restores a project whose table
// became a folder in the target, the folder's content being outside the
// project's scope: the restore is refused before it writes anything (it
// used to fail half-way with "a directory is in the way").
func TestProjectRestoreRefusesAFolderInTheWay(t *testing.T) {
	ctx := context.Background()
	needSample(t)
	r := newRepo(t)
	metaDir := filepath.Join(t.TempDir(), "meta")
	if err := os.CopyFS(metaDir, os.DirFS(sample)); err != nil {
		t.Fatal(err)
	}
	live := reopen(t, metaDir)
	snap := r.OpenInfo(backup(t, r, live, scope.ProjectScope("default")).Snapshot)
	// Kylin changed a cube, and a table's file became a folder.
	writeFiles(t, live, map[string]string{"/cube/ssb.json": `{"changed":true}`})
	if err := live.Delete(ctx, "/table/SSB.PART.json"); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, live, map[string]string{"/table/SSB.PART.json/stray": "x"})
	before := dirState(t, true, metaDir)
	for _, dry := range []bool{true, false} {
		_, err := r.Restore(ctx, snap, live, RestoreOptions{Scope: scope.ProjectScope("default"), AfterTruncate: true, DryRun: dry})
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "/table/SSB.PART.json/stray") {
			t.Errorf("dry run %v: err = %v, want ErrConflict naming the file in the way", dry, err)
		}
	}
	if after := dirState(t, true, metaDir); after != before {
		t.Error("the refused restore changed the target")
	}
	if log, _ := r.Log(ctx, LogFilter{}); len(log) != 1 {
		t.Errorf("the refused restore recorded a safety snapshot (%d snapshots)", len(log))
	}
}

// failingSink is a target whose writes fail after the first n, as a disk
// that fills up does. It is not transactional (it hides the memory store's
// Begin), so the writes before the failure stay.
type failingSink struct {
	m *memory.Store
	n atomic.Int64
}

var errInjected = errors.New("injected write failure")

func (f *failingSink) List(ctx context.Context, prefix string, fn func(string) error) error {
	return f.m.List(ctx, prefix, fn)
}

func (f *failingSink) Read(ctx context.Context, p string) (metastore.Resource, error) {
	return f.m.Read(ctx, p)
}

func (f *failingSink) Write(ctx context.Context, r metastore.Resource) error {
	if f.n.Add(-1) < 0 {
		return errInjected
	}
	return f.m.Write(ctx, r)
}

func (f *failingSink) Delete(ctx context.Context, p string) error { return f.m.Delete(ctx, p) }

// TestUndoAfterFailedRestore fails a restore of each scope half-way and
// runs the undo it describes (the safety snapshot, restored at the same
// scope, into the same project, with AfterTruncate): the target is back as
// it was before the failed restore.
func TestUndoAfterFailedRestore(t *testing.T) {
	ctx := context.Background()
	needSample(t)
	sales := `{"name":"sales","realizations":[],"tables":["DEFAULT.KEEP"],"models":[]}`
	tests := []struct {
		name    string
		scope   scope.Scope
		project string
	}{
		{"system", scope.SystemScope(), ""},
		{"project", scope.ProjectScope("default"), ""},
		{"cube", scope.CubeScope("ssb"), "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			src, _ := seeded(t)
			snap := r.OpenInfo(backup(t, r, src, tt.scope).Snapshot)
			// The target: the same metastore, changed since (every cube
			// rewritten, one deleted, a new resource), with a project sales.
			target := &failingSink{m: memory.New()}
			target.n.Store(1 << 30)
			for p, res := range dump(t, src) {
				switch {
				case strings.HasPrefix(p, "/cube/ssb"):
					if p == "/cube/ssb_cube1.json" {
						continue
					}
					res.Data = append(res.Data, ' ')
				case strings.HasPrefix(p, "/table/SSB."):
					continue // added back by every restore
				}
				target.m.Write(ctx, res)
			}
			writeFiles(t, target.m, map[string]string{"/project/sales.json": sales, "/cube/new_cube.json": `{}`})
			before := dump(t, target.m)

			target.n.Store(3)
			res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: tt.scope, Project: tt.project, AfterTruncate: true})
			var ae *ApplyError
			if !errors.As(err, &ae) || !errors.Is(err, errInjected) {
				t.Fatalf("restore: err = %v, want an ApplyError wrapping the write failure", err)
			}
			if res == nil || res.Safety == nil || ae.Safety.ID != res.Safety.ID || ae.Scope != tt.scope || ae.Project != tt.project {
				t.Fatalf("ApplyError %+v does not name the safety snapshot and scope", ae)
			}
			if !strings.Contains(err.Error(), ae.Safety.ID.Short()) {
				t.Errorf("the error does not name the safety snapshot: %v", err)
			}
			if after := dump(t, target.m); len(after) == len(before) && fmt.Sprint(after) == fmt.Sprint(before) {
				t.Fatal("the failed restore wrote nothing: the test does not fail half-way")
			}
			target.n.Store(1 << 30)
			if _, err := r.Restore(ctx, r.OpenInfo(ae.Safety), target, RestoreOptions{Scope: ae.Scope, Project: ae.Project, AfterTruncate: true}); err != nil {
				t.Fatalf("undo: %v", err)
			}
			sameResources(t, dump(t, target.m), before)
		})
	}
}

// TestRestoreCubeSafetySnapshotIntoAnotherProject restores a cube into
// project sales, which records a safety snapshot that lacks the cube, then
// restores that safety snapshot into project other: refused with
// ErrScopeMismatch (it used to overwrite sales' project file and restore
// nothing into other). Into sales it undoes the first restore.
func TestRestoreCubeSafetySnapshotIntoAnotherProject(t *testing.T) {
	ctx := context.Background()
	needSample(t)
	r, src, snap := sampleSnapshot(t, scope.CubeScope("ssb"))
	target := memory.New()
	target.Write(ctx, uuidResource("3591078f-9401-481a-a233-e7755c1142d0"))
	writeFiles(t, target, map[string]string{
		"/project/sales.json": `{"name":"sales","realizations":[],"tables":[],"models":[]}`,
		"/project/other.json": `{"name":"other","realizations":[],"tables":[],"models":[]}`,
	})
	before := dump(t, target)
	res, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales", AfterTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	restored := dump(t, target)
	safety := r.OpenInfo(*res.Safety)
	for _, dry := range []bool{true, false} {
		_, err = r.Restore(ctx, safety, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "other", AfterTruncate: true, DryRun: dry})
		if !errors.Is(err, ErrScopeMismatch) || !strings.Contains(err.Error(), "restore-cube sales "+res.Safety.ID.Short()) {
			t.Errorf("dry run %v: err = %v, want ErrScopeMismatch pointing at restore-cube sales", dry, err)
		}
	}
	sameResources(t, dump(t, target), restored)
	// A cube snapshot of another cube is refused the same way.
	other := r.OpenInfo(backup(t, r, src, scope.CubeScope("ssb_cube1")).Snapshot)
	if _, err := r.Restore(ctx, other, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales"}); !errors.Is(err, ErrScopeMismatch) {
		t.Errorf("cube snapshot of ssb_cube1 restored as ssb: err = %v, want ErrScopeMismatch", err)
	}
	if _, err := r.Restore(ctx, safety, target, RestoreOptions{Scope: scope.CubeScope("ssb"), Project: "sales", AfterTruncate: true}); err != nil {
		t.Fatal(err)
	}
	sameResources(t, dump(t, target), before)
}

// TestMissingProjectOrCubeIsUnknownWhateverTheReference asks for a project
// and a cube that the system snapshots lack, by "latest" and by id: both
// forms fail as unknown (scope.ErrUnknownProject or ErrUnknownCube from a
// snapshot, ErrNotFound from latest: exit 3 either way), never as a scope
// mismatch.
func TestMissingProjectOrCubeIsUnknownWhateverTheReference(t *testing.T) {
	ctx := context.Background()
	needSample(t)
	r, src, snap := sampleSnapshot(t, scope.SystemScope())
	proj := r.OpenInfo(backup(t, r, src, scope.ProjectScope("default")).Snapshot)
	for _, tt := range []struct {
		scope   scope.Scope
		project string
		from    *Snapshot
		want    error
	}{
		{scope.ProjectScope("nosuch"), "", snap, scope.ErrUnknownProject},
		{scope.CubeScope("nosuch"), "default", snap, scope.ErrUnknownCube},
		{scope.CubeScope("nosuch"), "default", proj, scope.ErrUnknownCube},
	} {
		_, err := r.Restore(ctx, tt.from, src, RestoreOptions{Scope: tt.scope, Project: tt.project})
		if !errors.Is(err, tt.want) || errors.Is(err, ErrScopeMismatch) {
			t.Errorf("restore %s from %s: err = %v, want %v", tt.scope, tt.from.Info.Scope, err, tt.want)
		}
		if _, err := r.Resolve(ctx, Latest, tt.scope); !errors.Is(err, ErrNotFound) {
			t.Errorf("latest for %s: err = %v, want ErrNotFound", tt.scope, err)
		}
	}
}

// TestHistoryLeavesOutOtherTargetsSafetySnapshots backs up a metastore,
// restores it twice into another folder from the same repository (the
// first safety snapshot records that folder empty, the second with a cube
// changed there), and backs it up again: the history of the cube and of
// its project show no version of the other folder. A restore into the
// backed-up metastore itself stays in its history.
func TestHistoryLeavesOutOtherTargetsSafetySnapshots(t *testing.T) {
	ctx := context.Background()
	needSample(t)
	r := newRepo(t)
	dir := t.TempDir()
	metaDir := filepath.Join(dir, "meta")
	if err := os.CopyFS(metaDir, os.DirFS(sample)); err != nil {
		t.Fatal(err)
	}
	live := reopen(t, metaDir)
	first := backup(t, r, live, scope.SystemScope()).Snapshot
	other := newFolder(t, filepath.Join(dir, "other"))
	foreign := map[ID]bool{}
	for i := 0; i < 2; i++ {
		res, err := r.Restore(ctx, r.OpenInfo(first), other, RestoreOptions{Scope: scope.SystemScope()})
		if err != nil || res.Safety == nil {
			t.Fatalf("restore into another folder: %v", err)
		}
		foreign[res.Safety.ID] = true
		writeFiles(t, other, map[string]string{"/cube/ssb.json": `{"changed in the other folder":true}`})
	}
	backup(t, r, live, scope.SystemScope())
	writeFiles(t, live, map[string]string{"/cube/ssb.json": `{"changed":true}`})
	own, err := r.Restore(ctx, r.OpenInfo(first), live, RestoreOptions{Scope: scope.SystemScope()})
	if err != nil || own.Safety == nil {
		t.Fatalf("restore into the metastore: %v", err)
	}
	last := backup(t, r, live, scope.SystemScope()).Snapshot

	h, err := r.History(ctx, "/cube/ssb.json", HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%s %s", e.Snapshot.ID.Short(), e.Change.Action))
	}
	want := []string{
		fmt.Sprintf("%s %s", last.ID.Short(), DiffModified),
		fmt.Sprintf("%s %s", own.Safety.ID.Short(), DiffModified),
		fmt.Sprintf("%s %s", first.ID.Short(), DiffAdded),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history of /cube/ssb.json:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ph, err := r.ProjectHistory(ctx, "default", HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ph {
		if foreign[e.Snapshot.ID] {
			t.Errorf("project history lists the other folder's safety snapshot %s: %s %s", e.Snapshot.ID.Short(), e.Change.Path, e.Change.Action)
		}
	}
}

// TestSortWanted: the wanted resources come out sorted by path, one per
// path; of two a cube restore's renaming gives one path, the one found
// last (as the map they were kept in before let the last one win).
func TestSortWanted(t *testing.T) {
	item := func(p string, ts int64) PlanItem { return PlanItem{Path: p, NewTimestamp: ts} }
	tests := []struct {
		name string
		cube bool
		in   []PlanItem
		want []PlanItem
	}{
		{"empty", false, nil, []PlanItem{}},
		{"sorted", false, []PlanItem{item("/b", 1), item("/a", 2), item("/a/b", 3), item("/a-b", 4)},
			[]PlanItem{item("/a", 2), item("/a-b", 4), item("/a/b", 3), item("/b", 1)}},
		{"the last of one path", true, []PlanItem{item("/t/X--P2.json", 1), item("/c", 2), item("/t/X--P2.json", 3), item("/a", 4)},
			[]PlanItem{item("/a", 4), item("/c", 2), item("/t/X--P2.json", 3)}},
	}
	// Past 12 items the sort is no longer an insertion sort, stable
	// anyway: collisions interleaved over 60 items, each path's last kept.
	var many, last []PlanItem
	for i := range 60 {
		many = append(many, item(fmt.Sprintf("/t/m%02d.json", (i*7)%20), int64(i)))
	}
	for p := range 20 {
		for i := 59; i >= 0; i-- {
			if (i*7)%20 == p {
				last = append(last, item(fmt.Sprintf("/t/m%02d.json", p), int64(i)))
				break
			}
		}
	}
	tests = append(tests, struct {
		name string
		cube bool
		in   []PlanItem
		want []PlanItem
	}{"the last of one path, many", true, many, last})
	for _, tt := range tests {
		got := sortWanted(slices.Clone(tt.in), tt.cube)
		if !slices.Equal(pathsAndTimes(got), pathsAndTimes(tt.want)) {
			t.Errorf("%s: got %v, want %v", tt.name, pathsAndTimes(got), pathsAndTimes(tt.want))
		}
	}
}

func pathsAndTimes(items []PlanItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, fmt.Sprintf("%s@%d", it.Path, it.NewTimestamp))
	}
	return out
}

// orderLog records the writes and deletes a restore makes, in order.
type orderLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *orderLog) add(op string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

// orderSink is a store that logs its writes and deletes; it is not
// transactional (the restore writes with several workers).
type orderSink struct {
	metastore.Store
	log *orderLog
}

func (s orderSink) Write(ctx context.Context, r metastore.Resource) error {
	s.log.add("write " + r.Path)
	return s.Store.Write(ctx, r)
}

func (s orderSink) Delete(ctx context.Context, p string) error {
	s.log.add("delete " + p)
	return s.Store.Delete(ctx, p)
}

// orderTxStore is orderSink over a transactional store: its transaction
// logs (the restore writes in plan order).
type orderTxStore struct {
	orderSink
	m *memory.Store
}

func (s orderTxStore) Begin(ctx context.Context) (metastore.Tx, error) {
	tx, err := s.m.Begin(ctx)
	return orderTx{Tx: tx, log: s.log}, err
}

type orderTx struct {
	metastore.Tx
	log *orderLog
}

func (t orderTx) Write(ctx context.Context, r metastore.Resource) error {
	t.log.add("write " + r.Path)
	return t.Tx.Write(ctx, r)
}

func (t orderTx) Delete(ctx context.Context, p string) error {
	t.log.add("delete " + p)
	return t.Tx.Delete(ctx, p)
}

// TestApplyOrder: a restore first deletes what stands in the way of a
// write, then writes every resource but the project files, then the
// project files (Kylin must never see a project name a cube that is not
// there yet), then deletes the rest; with several workers and in one
// transaction.
func TestApplyOrder(t *testing.T) {
	ctx := context.Background()
	src := memory.New()
	writeFiles(t, src, map[string]string{
		"/a": "file", "/cube/c1.json": "{}", "/cube/c2.json": "{}", "/model_desc/m.json": "{}",
		"/project/p1.json": `{"realizations": ["c1"]}`, "/project/p2.json": `{"realizations": ["c2"]}`,
	})
	r := newRepo(t)
	snap := r.OpenInfo(backup(t, r, src, scope.SystemScope()).Snapshot)
	for _, tx := range []bool{false, true} {
		m := memory.New()
		writeFiles(t, m, map[string]string{"/a/b": "in the way", "/old/x.json": "gone", "/project/p1.json": "{}"})
		log := &orderLog{}
		var target metastore.Store = orderSink{Store: m, log: log}
		if tx {
			target = orderTxStore{orderSink: orderSink{Store: m, log: log}, m: m}
		}
		if _, err := r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.SystemScope(), AfterTruncate: true}); err != nil {
			t.Fatalf("tx %v: %v", tx, err)
		}
		step := func(op string) int {
			switch {
			case op == "delete /a/b":
				return 0
			case strings.HasPrefix(op, "write /project/"):
				return 2
			case strings.HasPrefix(op, "write "):
				return 1
			default:
				return 3
			}
		}
		if len(log.ops) != 8 || !slices.IsSortedFunc(log.ops, func(a, b string) int { return step(a) - step(b) }) {
			t.Errorf("tx %v: the restore did %q; want the delete of /a/b, the 4 other writes, the 2 project files, then the delete of /old/x.json", tx, log.ops)
		}
		// In one transaction, each step in plan order too.
		inOrder := []string{"delete /a/b", "write /a", "write /cube/c1.json", "write /cube/c2.json", "write /model_desc/m.json",
			"write /project/p1.json", "write /project/p2.json", "delete /old/x.json"}
		if tx && !slices.Equal(log.ops, inOrder) {
			t.Errorf("in one transaction the restore did %q; want %q", log.ops, inOrder)
		}
		got, err := m.Read(ctx, "/project/p2.json")
		if err != nil || string(got.Data) != `{"realizations": ["c2"]}` {
			t.Errorf("tx %v: /project/p2.json is %q (%v)", tx, got.Data, err)
		}
	}
}
