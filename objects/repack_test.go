package objects

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repackHistory writes a chain of commits, one pack each: every commit's
// tree holds a new version of one text (a few lines apart from the last)
// and a file of its own. One more pack holds a blob nothing reaches. It
// returns the tip, every reachable object's content, and the unreachable
// blob.
func repackHistory(t *testing.T, r *Repository, n int) (ID, map[ID][]byte, ID) {
	t.Helper()
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf("line %03d: {\"uuid\":\"%08x\",\"status\":\"READY\"}", i, i*2654435761))
	}
	want := map[ID][]byte{}
	var tip ID
	sig := Signature{Name: "t", Email: "t@t", When: time.Unix(1700000000, 0).UTC()}
	for v := 0; v < n; v++ {
		lines[v*7%len(lines)] = fmt.Sprintf("line changed in version %d", v)
		w, err := r.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		text := []byte(strings.Join(lines, "\n"))
		own := []byte(fmt.Sprintf("only in version %d\n", v))
		a, _, err := w.WriteBlob(text)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := w.WriteBlob(own)
		if err != nil {
			t.Fatal(err)
		}
		entries := []TreeEntry{{Name: "f.json", Mode: ModeFile, ID: a}, {Name: fmt.Sprintf("own-%d", v), Mode: ModeFile, ID: b}}
		SortTree(entries)
		treeData, _ := EncodeTree(entries)
		tree, _, err := w.WriteTree(entries)
		if err != nil {
			t.Fatal(err)
		}
		c := Commit{Tree: tree, Author: sig, Committer: sig, Message: fmt.Sprintf("v%d\n", v)}
		if !tip.IsZero() {
			c.Parents = []ID{tip}
		}
		if tip, err = w.WriteCommit(c); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		want[a], want[b], want[tree], want[tip] = text, own, treeData, EncodeCommit(c)
	}
	w, err := r.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := w.WriteBlob([]byte("nothing reaches me"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return tip, want, gone
}

// TestRepackDeltasReadEverywhere repacks a history into one pack with
// deltas, chains bounded by Depth, and checks that every reader of this
// package (Read, WritePack and ReceivePack, CheckPacks) and git itself read
// the result.
func TestRepackDeltasReadEverywhere(t *testing.T) {
	r := newRepo(t)
	tip, want, gone := repackHistory(t, r, 30)
	if err := r.UpdateRef("refs/heads/main", tip, ZeroID); err != nil {
		t.Fatal(err)
	}
	const depth = 4
	st, err := r.Repack(context.Background(), []ID{tip}, RepackOptions{Depth: depth})
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed != 1 || r.Has(gone) || st.ObjectsAfter != len(want) {
		t.Errorf("removed %d (unreachable blob still there: %v), kept %d of %d", st.Removed, r.Has(gone), st.ObjectsAfter, len(want))
	}
	if st.PacksBefore != 31 || st.PacksAfter != 1 || len(st.RemovedPacks) != 31 {
		t.Errorf("packs %d -> %d, removed %d", st.PacksBefore, st.PacksAfter, len(st.RemovedPacks))
	}
	// The 30 versions of f.json are similar: all but one in depth+1 are
	// deltas (the trees are too small to be worth one).
	if st.Deltas < 30*depth/(depth+1)-1 {
		t.Errorf("%d deltas, want most versions stored as deltas", st.Deltas)
	}
	for id, data := range want {
		got, err := r.ReadKind(id, HashKind(t, r, id))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("object %s reads back wrong: %v", id, err)
		}
	}
	// Chains: follow each entry's base within the pack.
	ps, err := r.openPacks()
	if err != nil {
		t.Fatal(err)
	}
	longest := 0
	for id := range want {
		longest = max(longest, chainLength(t, ps, id))
	}
	if longest > depth || longest == 0 {
		t.Errorf("longest delta chain %d, want 1..%d", longest, depth)
	}
	if errs := r.CheckPacks(true); len(errs) > 0 {
		t.Errorf("CheckPacks: %v", errs)
	}

	// Sent as a pack (deltas copied as they are) and received elsewhere.
	ids := make([]ID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	var buf bytes.Buffer
	out, err := r.WritePack(&buf, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Copied != len(ids) {
		t.Errorf("WritePack copied %d of %d entries as stored", out.Copied, len(ids))
	}
	dst := newRepo(t)
	if _, err := dst.ReceivePack(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	for id, data := range want {
		_, got, err := dst.Read(id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("received object %s reads back wrong: %v", id, err)
		}
	}

	git, err := exec.LookPath("git")
	if err != nil {
		t.Log("git not installed: git fsck and verify-pack skipped")
		return
	}
	if out, err := exec.Command(git, "--git-dir", r.Path(), "fsck", "--full", "--strict").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
	packs, _ := r.Packs()
	vp, err := exec.Command(git, "--git-dir", r.Path(), "verify-pack", "-v", r.Path()+"/objects/pack/"+packs[0]+".idx").CombinedOutput()
	if err != nil {
		t.Fatalf("git verify-pack: %v\n%s", err, vp)
	}
	for _, m := range regexp.MustCompile(`chain length = (\d+)`).FindAllStringSubmatch(string(vp), -1) {
		if n, _ := strconv.Atoi(m[1]); n > depth {
			t.Errorf("git verify-pack: %s", m[0])
		}
	}
}

// HashKind returns the kind of object id as stored.
func HashKind(t *testing.T, r *Repository, id ID) Kind {
	t.Helper()
	k, _, err := r.Read(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chainLength returns how many deltas reading id applies: the REF_DELTA
// entries from id down to a whole object.
func chainLength(t *testing.T, ps *packSet, id ID) int {
	t.Helper()
	for n := 0; ; n++ {
		p, off, ok := ps.find(id)
		if !ok {
			t.Fatalf("object %s not in the packs", id)
		}
		e, err := p.header(off)
		if err != nil {
			t.Fatal(err)
		}
		if e.typ != typeRefDelta {
			return n
		}
		id = e.base
	}
}
