package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/remotetest"
	"github.com/kylin-tools/metastore/scope"
)

// forgetRig is a repository with a settable clock and the sample metastore.
type forgetRig struct {
	r   *Repository
	src *memory.Store
	mu  sync.Mutex
	now time.Time
	// content is what each snapshot held when it was taken.
	content map[ID]map[string]metastore.Resource
}

func newForgetRig(t *testing.T) *forgetRig {
	t.Helper()
	g := &forgetRig{now: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), content: map[ID]map[string]metastore.Resource{}}
	r, err := Create(filepath.Join(t.TempDir(), "snapshots.git"), Options{Now: func() time.Time {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.now = g.now.Add(time.Second)
		return g.now
	}, User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	g.r = r
	g.src, _ = seeded(t)
	return g
}

// day sets the clock to 10:00 UTC of March d, 2024.
func (g *forgetRig) day(d int) {
	g.mu.Lock()
	g.now = time.Date(2024, 3, d, 10, 0, 0, 0, time.UTC)
	g.mu.Unlock()
}

// backup changes the metastore and backs up scope s, tagged with tags.
func (g *forgetRig) backup(t *testing.T, s scope.Scope, change string, tags ...string) Info {
	t.Helper()
	ctx := context.Background()
	if change != "" {
		if err := g.src.Write(ctx, metastore.Resource{Path: "/table/CHANGE.json", Data: []byte(change), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := g.r.Backup(ctx, g.src, BackupOptions{Scope: s, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	g.content[res.Snapshot.ID] = dump(t, g.r.OpenInfo(res.Snapshot))
	return res.Snapshot
}

// systemDays backs up the system scope on days 1 to n, changing the
// metastore each day ("day 1", ...); tags[d], if any, tags day d's
// snapshot. It returns the n snapshots.
func (g *forgetRig) systemDays(t *testing.T, n int, tags map[int]string) []Info {
	t.Helper()
	var sys []Info
	for d := 1; d <= n; d++ {
		g.day(d)
		var tt []string
		if tag, ok := tags[d]; ok {
			tt = []string{tag}
		}
		sys = append(sys, g.backup(t, scope.SystemScope(), "day "+string(rune('0'+d)), tt...))
	}
	return sys
}

// verdictOf finds the verdict on snapshot id.
func verdictOf(t *testing.T, res *ForgetResult, id ID) Verdict {
	t.Helper()
	for _, g := range res.Groups {
		for _, v := range g.Snapshots {
			if v.Snapshot.ID == id {
				return v
			}
		}
	}
	t.Fatalf("no verdict on %s", id.Short())
	return Verdict{}
}

// TestForget forgets snapshots in the middle and at the bottom of the
// system chain: the kept ones are written again, restore byte for byte,
// keep their times, messages and tags, their old ids still resolve, and
// other groups (a project's backups) are their own.
func TestForget(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	sys := g.systemDays(t, 5, map[int]string{2: "keep-me"})
	g.day(6)
	proj := g.backup(t, scope.ProjectScope("default"), "")
	before, err := g.r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}

	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 2}, Now: time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	// Days 5 and 4 are the last 2, day 2 is tagged; days 3 and 1 go. The
	// project's only backup is its own group's last.
	want := map[ID]string{sys[4].ID: "last 1", sys[3].ID: "last 2", sys[2].ID: "", sys[1].ID: "tagged keep-me", sys[0].ID: "", proj.ID: "last 1"}
	for id, reason := range want {
		v := verdictOf(t, res, id)
		if got := strings.Join(v.Reasons, ", "); v.Keep != (reason != "") || got != reason {
			t.Errorf("%s: keep %v (%s), want %q", id.Short(), v.Keep, got, reason)
		}
	}
	if res.Kept != 4 || res.Forgotten != 2 || res.Rewritten != 3 || res.Stamp != "20240307T000000Z" || res.Undo != "metastore forget --undo 20240307T000000Z" {
		t.Errorf("result: kept %d forgotten %d rewritten %d stamp %q undo %q", res.Kept, res.Forgotten, res.Rewritten, res.Stamp, res.Undo)
	}

	after, err := g.r.Log(ctx, LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)-2 {
		t.Fatalf("log lists %d snapshots after forgetting 2 of %d", len(after), len(before))
	}
	for _, old := range []Info{sys[4], sys[3], sys[1]} {
		v := verdictOf(t, res, old.ID)
		if v.NewID.IsZero() || v.NewID == old.ID {
			t.Fatalf("%s: kept above a forgotten snapshot but not written again", old.ID.Short())
		}
		// The old id resolves to the snapshot under its new id.
		in, err := g.r.Resolve(ctx, old.ID.Short(), scope.SystemScope())
		if err != nil {
			t.Fatalf("resolve old id %s: %v", old.ID.Short(), err)
		}
		if in.ID != v.NewID || in.tree != old.tree || !in.Time.Equal(old.Time) || !in.Recorded.Equal(old.Recorded) ||
			in.Message != old.Message || in.Author != old.Author || in.Resources != old.Resources || in.Source != old.Source {
			t.Errorf("old id %s resolves to %+v, want the same snapshot as %+v under id %s", old.ID.Short(), in, old, v.NewID.Short())
		}
		// The same resources, byte for byte, timestamps included.
		if got := dump(t, g.r.OpenInfo(in)); !reflect.DeepEqual(got, g.content[old.ID]) {
			t.Errorf("snapshot %s (was %s) differs from what was backed up", in.ID.Short(), old.ID.Short())
		}
	}
	// The chain: day 5 -> day 4 -> day 2, which has no parent any more.
	n5 := verdictOf(t, res, sys[4].ID).NewID
	n4 := verdictOf(t, res, sys[3].ID).NewID
	n2 := verdictOf(t, res, sys[1].ID).NewID
	for child, parent := range map[ID]ID{n5: n4, n4: n2, n2: {}} {
		in, err := g.r.info(child.object(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if in.Parent != parent {
			t.Errorf("parent of %s = %s, want %s", child.Short(), in.Parent.Short(), parent.Short())
		}
	}
	if id, err := g.r.objs.Ref(refHeads + "system"); err != nil || ID(id) != n5 {
		t.Errorf("system = %s, %v; want %s", ID(id).Short(), err, n5.Short())
	}
	if in, err := g.r.Resolve(ctx, "keep-me", scope.SystemScope()); err != nil || in.ID != n2 {
		t.Errorf("tag keep-me names %s, %v; want the rewritten %s", in.ID.Short(), err, n2.Short())
	}
	// The project's branch did not move.
	if id, _ := g.r.objs.Ref(refHeads + "project/default"); ID(id) != proj.ID {
		t.Errorf("project/default moved to %s", ID(id).Short())
	}
	// The previous values are kept for undo.
	for name, id := range map[string]ID{"heads/system": sys[4].ID, "tags/keep-me": sys[1].ID} {
		if got, err := g.r.objs.Ref(refForgotten + res.Stamp + "/" + name); err != nil || ID(got) != id {
			t.Errorf("refs/forgotten/%s/%s = %s, %v; want %s", res.Stamp, name, ID(got).Short(), err, id.Short())
		}
	}
	// A forgotten snapshot's id says so.
	if _, err := g.r.Resolve(ctx, sys[2].ID.String(), scope.SystemScope()); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "forgotten") || !strings.Contains(err.Error(), "--undo "+res.Stamp) {
		t.Errorf("resolve forgotten snapshot: %v", err)
	}
	// diff, history and verify read the rewritten chain.
	d, err := g.r.Diff(ctx, g.r.OpenInfo(mustResolve(t, g.r, sys[3].ID.Short())), g.r.OpenInfo(mustResolve(t, g.r, n5.Short())), DiffOptions{})
	if err != nil || len(d.Changes) != 1 || d.Changes[0].Path != "/table/CHANGE.json" {
		t.Errorf("diff day 4 day 5 = %+v, %v", d, err)
	}
	h, err := g.r.History(ctx, "/table/CHANGE.json", HistoryOptions{})
	if err != nil || len(h) != 3 {
		t.Errorf("history of /table/CHANGE.json: %d entries, %v; want 3 (days 2, 4, 5)", len(h), err)
		for _, e := range h {
			t.Logf("%s %s %s %v", e.Snapshot.ID.Short(), e.Snapshot.Scope, e.Snapshot.Time, e.Change)
		}
	}
	v, err := g.r.Verify(ctx, VerifyOptions{ReadData: true})
	if err != nil || len(v.Problems) > 0 {
		t.Errorf("verify: %v %v", v, err)
	}
	// The next backup goes on from the rewritten chain.
	g.day(8)
	next := g.backup(t, scope.SystemScope(), "day 8")
	if next.Parent != n5 {
		t.Errorf("next backup's parent = %s, want %s", next.Parent.Short(), n5.Short())
	}
	// Forgetting again with the same policy forgets the rewritten day 4
	// (now third), and nothing tagged.
	res2, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 2}, Now: time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Forgotten != 1 || verdictOf(t, res2, n4).Keep {
		t.Errorf("second forget: forgot %d, day 4 kept %v", res2.Forgotten, verdictOf(t, res2, n4).Keep)
		for _, gr := range res2.Groups {
			for _, v := range gr.Snapshots {
				t.Logf("%s %s %v %v", gr.Branch, v.Snapshot.ID.Short(), v.Keep, v.Reasons)
			}
		}
	}
	// The oldest id of day 5 still resolves, through both forgets.
	if in, err := g.r.Resolve(ctx, sys[4].ID.Short(), scope.SystemScope()); err != nil || in.tree != sys[4].tree || in.ID == n5 {
		t.Errorf("day 5's first id resolves to %s (%v), want its newest version", in.ID.Short(), err)
	}
	// Restored by its first id, after two forgets: byte for byte.
	target := memory.New()
	if _, err := g.r.Restore(ctx, g.r.OpenInfo(mustResolve(t, g.r, sys[1].ID.Short())), target, RestoreOptions{Scope: scope.SystemScope(), AllowForeign: true}); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, target); !reflect.DeepEqual(got, g.content[sys[1].ID]) {
		t.Errorf("restore of day 2 by its first id differs from what was backed up")
	}
}

func mustResolve(t *testing.T, r *Repository, ref string) Info {
	t.Helper()
	in, err := r.Resolve(context.Background(), ref, scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// refState lists every reference and its value.
func refState(t *testing.T, r *Repository) map[string]objects.ID {
	t.Helper()
	refs, err := r.objs.Refs("refs/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]objects.ID{}
	for _, ref := range refs {
		out[ref.Name] = ref.ID
	}
	return out
}

// TestForgetUndo: undo puts every branch and tag back, old ids are the
// snapshots' ids again, and the cache names the old snapshot again.
func TestForgetUndo(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	g.systemDays(t, 4, map[int]string{3: "v3"})
	orig := refState(t, g.r)
	cacheBefore := cacheCommits(t, g.r)
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Forgotten != 2 {
		t.Fatalf("forgot %d, want 2 (days 1 and 2)", res.Forgotten)
	}
	cacheAfter := cacheCommits(t, g.r)
	if reflect.DeepEqual(cacheAfter, cacheBefore) || len(cacheAfter) == 0 {
		t.Errorf("change cache still names %v after its snapshot was written again", cacheAfter)
	}
	for _, id := range cacheAfter {
		if _, err := g.r.info(id, nil); err != nil {
			t.Errorf("cache names %s: %v", ID(id).Short(), err)
		}
	}
	u, err := g.r.UndoForget(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Stamp != res.Stamp || len(u.Refs) != 2 {
		t.Errorf("undo %s put back %v, want system and v3 of %s", u.Stamp, u.Refs, res.Stamp)
	}
	if got := refState(t, g.r); !reflect.DeepEqual(got, orig) {
		t.Errorf("references after undo:\n%v\nwant\n%v", got, orig)
	}
	if got := cacheCommits(t, g.r); !reflect.DeepEqual(got, cacheBefore) {
		t.Errorf("cache after undo names %v, want %v", got, cacheBefore)
	}
	if _, err := g.r.UndoForget(ctx, ""); !errors.Is(err, ErrNothingToUndo) {
		t.Errorf("second undo: %v, want ErrNothingToUndo", err)
	}
	m, err := g.r.loadIDMap()
	if err != nil || len(m.lines) != 0 {
		t.Errorf("id map after undo: %v %v", m.lines, err)
	}
}

// TestForgetUndoKeepsLaterBackups: a backup recorded after the forget is
// written again on top of the branch as it was before the forget; its old
// id still resolves.
func TestForgetUndoKeepsLaterBackups(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	sys := g.systemDays(t, 3, nil)
	if _, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}}); err != nil {
		t.Fatal(err)
	}
	g.day(5)
	later := g.backup(t, scope.SystemScope(), "day 5")
	u, err := g.r.UndoForget(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Rebased) != 1 || u.Rebased[0].Old != later.ID {
		t.Fatalf("rebased %v, want the day 5 backup", u.Rebased)
	}
	tip, _ := g.r.objs.Ref(refHeads + "system")
	if ID(tip) != u.Rebased[0].New {
		t.Errorf("system = %s, want the rewritten day 5 %s", ID(tip).Short(), u.Rebased[0].New.Short())
	}
	log, err := g.r.Log(ctx, LogFilter{ExcludeSafety: true})
	if err != nil || len(log) != 4 || log[0].ID != u.Rebased[0].New || log[1].ID != sys[2].ID || log[3].ID != sys[0].ID {
		t.Errorf("log after undo: %v, %v; want day 5 (rewritten) above days 3, 2, 1 as they were", log, err)
	}
	in := mustResolve(t, g.r, later.ID.Short())
	if in.ID != u.Rebased[0].New || in.tree != later.tree || !reflect.DeepEqual(dump(t, g.r.OpenInfo(in)), g.content[later.ID]) {
		t.Errorf("day 5's old id resolves to %s", in.ID.Short())
	}
	if v, err := g.r.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) > 0 {
		t.Errorf("verify: %v %v", v, err)
	}
}

// TestForgetUndoRefusesMovedTag: a tag moved or deleted since the forget
// is not overwritten; the undo changes nothing.
func TestForgetUndoRefusesMovedTag(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	g.systemDays(t, 3, map[int]string{2: "v2"})
	if _, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := g.r.DeleteTag(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	state := refState(t, g.r)
	if _, err := g.r.UndoForget(ctx, ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "tags/v2") {
		t.Errorf("undo after the tag went: %v, want ErrConflict naming it", err)
	}
	if got := refState(t, g.r); !reflect.DeepEqual(got, state) {
		t.Errorf("a refused undo changed references:\n%v\nwant\n%v", got, state)
	}
}

// cacheCommits returns the snapshot each change cache file was saved with.
func cacheCommits(t *testing.T, r *Repository) []objects.ID {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(r.Path(), cacheDir))
	var out []objects.ID
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpMarker) {
			continue
		}
		_, id := loadCacheFile(filepath.Join(r.Path(), cacheDir, e.Name()))
		if !id.IsZero() {
			out = append(out, id)
		}
	}
	return out
}

// TestForgetCrashBeforeReferences: a forget that stops once the new
// commits are stored, before any reference is written, leaves the
// repository as it was (every reference, log, resolve, verify), and the
// next forget completes.
func TestForgetCrashBeforeReferences(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	sys := g.systemDays(t, 4, nil)
	orig := refState(t, g.r)
	logBefore, _ := g.r.Log(ctx, LogFilter{})
	crash := errors.New("killed")
	_, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 2}, step: func(name string) error {
		if name != "commits" {
			t.Fatalf("step %q before the commits", name)
		}
		// The new commits are durable already.
		packs, _ := g.r.objs.Packs()
		if len(packs) == 0 {
			t.Error("no pack before the references")
		}
		return crash
	}})
	if !errors.Is(err, crash) {
		t.Fatalf("forget: %v", err)
	}
	if got := refState(t, g.r); !reflect.DeepEqual(got, orig) {
		t.Errorf("references after a crash before them:\n%v\nwant\n%v", got, orig)
	}
	if _, err := os.Stat(g.r.idMapPath()); err == nil {
		t.Error("id map written before the references could be")
	}
	logAfter, _ := g.r.Log(ctx, LogFilter{})
	if len(logAfter) != len(logBefore) || logAfter[0].ID != logBefore[0].ID {
		t.Errorf("log changed by a failed forget")
	}
	if v, err := g.r.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) > 0 {
		t.Errorf("verify after a failed forget: %v %v", v, err)
	}
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 2}})
	if err != nil || res.Forgotten != 2 {
		t.Fatalf("forget after the crash: %v %v", res, err)
	}
	if in := mustResolve(t, g.r, sys[3].ID.Short()); in.tree != sys[3].tree {
		t.Errorf("day 4 resolves to another snapshot")
	}
}

// TestForgetDryRunAndEmptyPolicy: a dry run decides and writes nothing; an
// empty policy is refused.
func TestForgetDryRunAndEmptyPolicy(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	g.systemDays(t, 3, nil)
	orig := refState(t, g.r)
	if _, err := g.r.Forget(ctx, ForgetOptions{}); !errors.Is(err, ErrEmptyPolicy) {
		t.Errorf("empty policy: %v", err)
	}
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}, DryRun: true})
	if err != nil || res.Forgotten != 2 || res.Stamp != "" {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if got := refState(t, g.r); !reflect.DeepEqual(got, orig) {
		t.Errorf("a dry run changed references")
	}
	if _, err := os.Stat(g.r.idMapPath()); err == nil {
		t.Error("a dry run wrote the id map")
	}
}

// TestForgetGroups: safety snapshots and project backups are groups of
// their own, and a scope limits forget to its groups.
func TestForgetGroups(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	for d := 1; d <= 3; d++ {
		g.day(d)
		g.backup(t, scope.SystemScope(), "day "+string(rune('0'+d)))
		g.backup(t, scope.ProjectScope("default"), "")
	}
	// Two restores: two safety snapshots of the system scope.
	for i := 0; i < 2; i++ {
		target := memory.New()
		target.Write(ctx, metastore.Resource{Path: "/table/X.json", Data: []byte{byte('a' + i)}, Timestamp: 1})
		snap, err := g.r.Open(ctx, "system")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.r.Restore(ctx, snap, target, RestoreOptions{Scope: scope.SystemScope(), AllowForeign: true}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}, Scope: scope.ProjectScope("default"), HasScope: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Branch != "project/default" || res.Forgotten != 2 {
		t.Errorf("project scope: groups %v, forgot %d", res.Groups, res.Forgotten)
	}
	res, err = g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var branches []string
	for _, gr := range res.Groups {
		branches = append(branches, gr.Branch)
		if gr.Snapshots[0].Keep != true {
			t.Errorf("%s: newest forgotten", gr.Branch)
		}
	}
	if got := strings.Join(branches, " "); got != "project/default safety/system system" {
		t.Errorf("groups %q", got)
	}
	if res.Forgotten != 2+1+2 {
		t.Errorf("forgot %d, want 5 (2 system, 1 safety, 2 project)", res.Forgotten)
	}
}

// pushAfterForget: a repository that pushed, then forgot snapshots in the
// middle of its chain, pushes again: the remote's branch and tag (this
// repository's own before the forget) are replaced by the rewritten ones.
// Another repository pushing the same instance is still refused.
func pushAfterForget(t *testing.T, url string, opt RemoteOptions) {
	ctx := context.Background()
	a := newRepo(t)
	ma := instanceStore(t, uuidA)
	for i := 1; i <= 3; i++ {
		touch(t, ma, i)
		res := backup(t, a, ma, scope.SystemScope())
		if i == 2 {
			if _, err := a.Tag(ctx, res.Snapshot.ID.String(), "v2"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url}); err != nil {
		t.Fatal(err)
	}
	fr, err := a.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}})
	if err != nil || fr.Forgotten != 1 || fr.Rewritten != 2 {
		t.Fatalf("forget: %+v, %v", fr, err)
	}
	pr, err := a.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url})
	if err != nil {
		t.Fatalf("push after forget: %v", err)
	}
	if len(pr.Updated) != 2 {
		t.Errorf("push after forget updated %v, want system and tag v2", pr.Updated)
	}
	for _, u := range pr.Updated {
		want, err := a.objs.Ref(u.Ref)
		if err != nil || u.New != ID(want) {
			t.Errorf("%s pushed as %s, is %s here", u.Ref, u.New.Short(), ID(want).Short())
		}
	}
	// The remote's snapshots, pulled into a third repository, are the
	// rewritten ones.
	c := newRepo(t)
	if _, err := c.Pull(ctx, PullOptions{RemoteOptions: opt, Remote: url}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Log(ctx, LogFilter{Instance: uuidA})
	if err != nil || len(got) != 2 {
		t.Fatalf("remote holds %d snapshots of %s (%v), want the 2 kept", len(got), uuidA, err)
	}
	// Another repository of the same instance: refused as before.
	b := newRepo(t)
	backup(t, b, instanceStore(t, uuidA), scope.SystemScope())
	if _, err := b.Push(ctx, PushOptions{RemoteOptions: opt, Remote: url}); !errors.Is(err, ErrNonFastForward) {
		t.Errorf("push of an unrelated history after a forget elsewhere: %v, want ErrNonFastForward", err)
	}
}

func TestPushAfterForgetGit(t *testing.T) {
	dir := bareGit(t)
	pushAfterForget(t, dir, RemoteOptions{})
	gitOK(t, dir)
}

func TestPushAfterForgetS3(t *testing.T) {
	srv := remotetest.StartS3(t)
	srv.Bucket("backups")
	pushAfterForget(t, "s3://backups/kylin", RemoteOptions{Getenv: srv.Getenv()})
}

// headsAndTags lists the branches and tags and their values.
func headsAndTags(t *testing.T, r *Repository) map[string]objects.ID {
	t.Helper()
	out := map[string]objects.ID{}
	for name, id := range refState(t, r) {
		if strings.HasPrefix(name, refHeads) || strings.HasPrefix(name, refTags) {
			out[name] = id
		}
	}
	return out
}

// TestForgetKilledAtEveryStep stops a forget after each step of its writing
// (commits stored, previous references kept, id map written, each
// reference moved), as a kill would. Every branch and tag then holds its
// old or its new value, the repository verifies, every kept snapshot
// resolves by its old id; a new forget completes the interrupted one (to
// exactly the references of an uninterrupted forget), and undo instead
// puts every reference back.
func TestForgetKilledAtEveryStep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC)
	policy := Policy{Last: 2}
	// One repository, copied for each run.
	tmpl := newForgetRig(t)
	sys := tmpl.systemDays(t, 5, map[int]string{2: "keep-me"})
	build := func() (*Repository, []Info) {
		dir := filepath.Join(t.TempDir(), "copy.git")
		if err := os.CopyFS(dir, os.DirFS(tmpl.r.Path())); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir, Options{Now: clock(), User: "admin", Host: "kylin1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r, sys
	}
	cleanRepo, _ := build()
	clean := &forgetRig{r: cleanRepo}
	orig := headsAndTags(t, clean.r)
	var steps []string
	if _, err := clean.r.Forget(ctx, ForgetOptions{Policy: policy, Now: now, step: func(name string) error {
		steps = append(steps, name)
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	done := headsAndTags(t, clean.r)
	if want := "commits saved idmap moved refs/heads/system moved refs/tags/keep-me"; strings.Join(steps, " ") != want {
		t.Fatalf("steps %q, want %q", strings.Join(steps, " "), want)
	}
	killed := errors.New("killed")
	for k, step := range steps {
		for _, then := range []string{"forget again", "undo"} {
			t.Run(step+", then "+then, func(t *testing.T) {
				r, sys := build()
				g := &forgetRig{r: r}
				n := 0
				_, err := g.r.Forget(ctx, ForgetOptions{Policy: policy, Now: now, step: func(string) error {
					if n++; n > k {
						return killed
					}
					return nil
				}})
				if !errors.Is(err, killed) {
					t.Fatalf("forget: %v", err)
				}
				for name, id := range headsAndTags(t, g.r) {
					if id != orig[name] && id != done[name] {
						t.Errorf("%s = %s: neither its old value %s nor its new one %s", name, ID(id).Short(), ID(orig[name]).Short(), ID(done[name]).Short())
					}
				}
				if v, err := g.r.Verify(ctx, VerifyOptions{}); err != nil || len(v.Problems) > 0 {
					t.Errorf("verify: %+v %v", v, err)
				}
				for _, old := range []Info{sys[1], sys[3], sys[4]} {
					if in, err := g.r.Resolve(ctx, old.ID.Short(), scope.SystemScope()); err != nil || in.tree != old.tree {
						t.Errorf("old id %s: %v", old.ID.Short(), err)
					}
				}
				if then == "undo" {
					_, err := g.r.UndoForget(ctx, "")
					if k == 0 {
						if !errors.Is(err, ErrNothingToUndo) {
							t.Errorf("undo of a forget killed before it kept anything: %v", err)
						}
					} else if err != nil {
						t.Fatalf("undo: %v", err)
					}
					if got := headsAndTags(t, g.r); !reflect.DeepEqual(got, orig) {
						t.Errorf("after undo:\n%v\nwant\n%v", got, orig)
					}
					return
				}
				if _, err := g.r.Forget(ctx, ForgetOptions{Policy: policy, Now: now}); err != nil {
					t.Fatal(err)
				}
				if got := headsAndTags(t, g.r); !reflect.DeepEqual(got, done) {
					t.Errorf("after forgetting again:\n%v\nwant\n%v", got, done)
				}
			})
		}
	}
}

// TestUndoKilledAfterMovingReferences: an undo stopped once it moved the
// references back is not mistaken by the next forget for a forget to
// finish.
func TestUndoKilledAfterMovingReferences(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	g.systemDays(t, 3, nil)
	orig := headsAndTags(t, g.r)
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// What an undo killed after its reference moves leaves: the marker,
	// the references back, the id map and saved references still there.
	saved, _ := g.r.objs.Ref(refForgotten + res.Stamp + "/heads/system")
	if err := g.r.objs.UpdateRef(refForgotten+res.Stamp+"/"+undoMarker, saved, objects.ZeroID); err != nil {
		t.Fatal(err)
	}
	cur, _ := g.r.objs.Ref(refHeads + "system")
	if err := g.r.objs.UpdateRef(refHeads+"system", saved, cur); err != nil {
		t.Fatal(err)
	}
	if err := g.r.finishForgets(); err != nil {
		t.Fatal(err)
	}
	if got := headsAndTags(t, g.r); !reflect.DeepEqual(got, orig) {
		t.Errorf("an undo under way was rolled forward:\n%v\nwant\n%v", got, orig)
	}
	if _, err := g.r.UndoForget(ctx, ""); err != nil {
		t.Fatalf("finishing the undo: %v", err)
	}
	if stamps, _ := g.r.forgetStamps(); len(stamps) != 0 {
		t.Errorf("stamps left after the undo: %v", stamps)
	}
}

// TestForgetWholeBranch: a policy that keeps nothing of a group removes
// its branch (kept under refs/forgotten for undo); a branch whose newest
// snapshot goes moves back to its newest kept one, whose id stays.
func TestForgetWholeBranch(t *testing.T) {
	ctx := context.Background()
	g := newForgetRig(t)
	g.day(1)
	v1 := g.backup(t, scope.SystemScope(), "one", "v1")
	g.day(2)
	g.backup(t, scope.SystemScope(), "two")
	g.backup(t, scope.ProjectScope("default"), "")
	orig := headsAndTags(t, g.r)
	res, err := g.r.Forget(ctx, ForgetOptions{Policy: Policy{Tags: []string{"v1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Forgotten != 2 || res.Rewritten != 0 {
		t.Errorf("forgot %d, rewrote %d; want 2, 0", res.Forgotten, res.Rewritten)
	}
	got := headsAndTags(t, g.r)
	if _, ok := got[refHeads+"project/default"]; ok {
		t.Error("project/default kept no snapshot, but its branch is still there")
	}
	if ID(got[refHeads+"system"]) != v1.ID || ID(got[refTags+"v1"]) != v1.ID {
		t.Errorf("system %s, v1 %s; want both at %s", ID(got[refHeads+"system"]).Short(), ID(got[refTags+"v1"]).Short(), v1.ID.Short())
	}
	if _, err := g.r.Resolve(ctx, Latest, scope.ProjectScope("default")); err != nil {
		t.Errorf("latest of project default (the system snapshot holds it): %v", err)
	}
	if _, err := g.r.UndoForget(ctx, res.Stamp); err != nil {
		t.Fatal(err)
	}
	if got := headsAndTags(t, g.r); !reflect.DeepEqual(got, orig) {
		t.Errorf("after undo:\n%v\nwant\n%v", got, orig)
	}
}
