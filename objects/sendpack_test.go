package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// history writes n commits of a small tree whose blobs change a little from
// one commit to the next, each commit in its own pack with the previous
// version of each blob as a delta hint (as backups do): the repository then
// holds whole objects and REF_DELTA entries.
func history(t *testing.T, r *Repository, n int) []ID {
	t.Helper()
	var commits []ID
	prevBlobs := map[string]ID{}
	var parent ID
	for c := 0; c < n; c++ {
		w, err := mergingWriter(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		var entries []TreeEntry
		for f := 0; f < 30; f++ {
			name := fmt.Sprintf("f%02d.json", f)
			var b bytes.Buffer
			for l := 0; l < 200; l++ {
				fmt.Fprintf(&b, "{\"file\": %d, \"line\": %d, \"v\": %d}\n", f, l, (l*f+c*(l%7))%97)
			}
			id, _, err := w.WriteDelta(KindBlob, b.Bytes(), prevBlobs[name])
			if err != nil {
				t.Fatal(err)
			}
			prevBlobs[name] = id
			entries = append(entries, TreeEntry{Name: name, Mode: ModeFile, ID: id})
		}
		SortTree(entries)
		sub, _, err := w.WriteTree(entries)
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := w.WriteTree([]TreeEntry{{Name: "cube", Mode: ModeDir, ID: sub}})
		if err != nil {
			t.Fatal(err)
		}
		when := time.Unix(1700000000+int64(c), 0).UTC()
		cm := Commit{Tree: root, Author: Signature{"A", "a@x", when}, Committer: Signature{"A", "a@x", when}, Message: fmt.Sprintf("c%d\n", c)}
		if !parent.IsZero() {
			cm.Parents = []ID{parent}
		}
		id, err := w.WriteCommit(cm)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := commitMerging(r, w); err != nil {
			t.Fatal(err)
		}
		if err := r.UpdateRef("refs/heads/main", id, parent); err != nil {
			t.Fatal(err)
		}
		parent = id
		commits = append(commits, id)
	}
	return commits
}

// sendAndReceive writes a pack of what tips reach beyond there from src and
// receives it into dst.
func sendAndReceive(t *testing.T, src, dst *Repository, tips []ID, there func(ID) bool) (*PackOut, *Received, []byte) {
	t.Helper()
	ids, err := src.Missing(context.Background(), tips, there)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	out, err := src.WritePack(&buf, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != out.Size {
		t.Fatalf("pack is %d bytes, PackOut says %d", buf.Len(), out.Size)
	}
	rc, err := dst.ReceivePack(bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, rc, buf.Bytes()
}

// TestSendReceivePack sends a repository's history as a pack and receives
// it into an empty one: every object arrives with its content, entries are
// reused as stored (whole objects and deltas whose base travels too), git
// index-pack accepts the pack and computes the same index, and a second
// send of one more commit carries only what changed.
func TestSendReceivePack(t *testing.T) {
	src, dst := newRepo(t), newRepo(t)
	commits := history(t, src, 5)
	never := func(ID) bool { return false }
	out, rc, raw := sendAndReceive(t, src, dst, commits[4:], never)
	if out.Copied != out.Objects {
		t.Errorf("%d of %d entries copied as stored, want all", out.Copied, out.Objects)
	}
	if rc.Objects != out.Objects || rc.Name != out.Name() {
		t.Fatalf("received %d objects as %s, sent %d as %s", rc.Objects, rc.Name, out.Objects, out.Name())
	}
	if err := dst.CheckConnected(context.Background(), commits[4:], rc.Holds); err != nil {
		t.Fatalf("received history is not complete: %v", err)
	}
	err := src.ForEachObject(func(id ID) error {
		if !rc.Holds(id) {
			return nil
		}
		k1, d1, err := src.Read(id)
		if err != nil {
			return err
		}
		k2, d2, err := dst.Read(id)
		if err != nil {
			return fmt.Errorf("%s: %v", id, err)
		}
		if k1 != k2 || !bytes.Equal(d1, d2) {
			return fmt.Errorf("%s differs", id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if git, err := exec.LookPath("git"); err == nil {
		dir := t.TempDir()
		p := filepath.Join(dir, "p.pack")
		os.WriteFile(p, raw, 0o600)
		cmd := exec.Command(git, "index-pack", "--strict", p)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git index-pack: %v\n%s", err, b)
		}
		gitIdx, _ := os.ReadFile(filepath.Join(dir, "p.idx"))
		ourIdx, _ := os.ReadFile(filepath.Join(dst.Path(), "objects", "pack", rc.Name+".idx"))
		if !bytes.Equal(gitIdx, ourIdx) {
			t.Error("the index ReceivePack wrote differs from git index-pack's")
		}
		if err := dst.UpdateRef("refs/heads/main", commits[4], ZeroID); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(git, "--git-dir", dst.Path(), "fsck", "--strict").CombinedOutput(); err != nil {
			t.Fatalf("git fsck: %v\n%s", err, b)
		}
	}

	// The next commit: only its new objects travel. (Sending the history
	// up to commits[3] re-encodes its blobs whole: they are stored as
	// deltas against commits[4]'s, which do not travel.)
	dst = newRepo(t)
	first, _, _ := sendAndReceive(t, src, dst, commits[3:4], never)
	if first.Copied != first.Objects-30 {
		t.Errorf("%d of %d entries copied, want all but the 30 blobs whose delta bases stay behind", first.Copied, first.Objects)
	}
	have, err := dst.Closure(context.Background(), commits[3:4])
	if err != nil {
		t.Fatal(err)
	}
	out2, rc2, _ := sendAndReceive(t, src, dst, commits[4:], have.Has)
	// One commit, two trees, and the 30 blobs that changed.
	if out2.Objects != 1+2+30 || rc2.Objects != out2.Objects {
		t.Errorf("incremental pack holds %d objects (received %d), want 33", out2.Objects, rc2.Objects)
	}
	if err := dst.CheckConnected(context.Background(), commits[4:], rc2.Holds); err != nil {
		t.Fatal(err)
	}
	// An incomplete history is caught.
	if err := newRepo(t).CheckConnected(context.Background(), commits[4:], func(ID) bool { return false }); !errors.Is(err, ErrNotFound) {
		t.Errorf("CheckConnected on an empty repository: %v, want ErrNotFound", err)
	}
}

// TestSendFromGitPacks sends from a repository git itself packed (OFS_DELTA
// entries): deltas are rewritten to name their base by id, and the
// received pack reads back the same.
func TestSendFromGitPacks(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	src := newRepo(t)
	commits := history(t, src, 6)
	if b, err := exec.Command(git, "--git-dir", src.Path(), "repack", "-a", "-d", "-f", "--depth=10").CombinedOutput(); err != nil {
		t.Fatalf("git repack: %v\n%s", err, b)
	}
	src.Close()
	src2, err := Open(src.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	dst := newRepo(t)
	out, rc, _ := sendAndReceive(t, src2, dst, commits[5:], func(ID) bool { return false })
	if out.Copied == 0 {
		t.Error("nothing copied as stored from git's pack")
	}
	if err := dst.CheckConnected(context.Background(), commits[5:], rc.Holds); err != nil {
		t.Fatal(err)
	}
	c, err := dst.ReadCommit(commits[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Message, "c0") {
		t.Errorf("first commit message %q", c.Message)
	}
}

// TestReceivePackRefusesDamage: a truncated pack, a flipped byte and a
// thin pack are refused and leave nothing in the repository.
func TestReceivePackRefusesDamage(t *testing.T) {
	src := newRepo(t)
	commits := history(t, src, 3)
	ids, err := src.Missing(context.Background(), commits[2:], func(ID) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := src.WritePack(&buf, ids, nil); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 0x40
	// A thin pack: the last commit's objects without the bases of its
	// deltas (the previous versions are deltas against the new ones, so
	// send the old ones alone).
	old, err := src.Missing(context.Background(), commits[:1], func(ID) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	var thin bytes.Buffer
	if _, err := src.WritePack(&thin, old, nil); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": raw[:len(raw)-100],
		"flipped":   flipped,
		"garbage":   []byte(strings.Repeat("not a pack ", 10)),
	} {
		dst := newRepo(t)
		if _, err := dst.ReceivePack(bytes.NewReader(data), nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
		entries, _ := os.ReadDir(filepath.Join(dst.Path(), "objects", "pack"))
		if len(entries) != 0 {
			t.Errorf("%s: left %d files in objects/pack", name, len(entries))
		}
	}
	// The old versions were re-encoded whole (their bases did not travel),
	// so the pack stands alone.
	dst := newRepo(t)
	rc, err := dst.ReceivePack(bytes.NewReader(thin.Bytes()), nil)
	if err != nil {
		t.Fatalf("pack of old versions: %v", err)
	}
	if err := dst.CheckConnected(context.Background(), commits[:1], rc.Holds); err != nil {
		t.Fatal(err)
	}
}

// TestMissingFrom: the objects a remote holding some commits lacks, found
// by comparing trees path by path, are exactly those outside everything the
// remote's commits reach (computed the slow way, walking every tree), for
// histories continued on one branch and for a new branch.
func TestMissingFrom(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commits := history(t, r, 6)
	full := func(bases []ID) ObjectSet {
		set := ObjectSet{}
		var walk func(ID)
		walk = func(tree ID) {
			set.Add(tree)
			data, err := r.ReadKind(tree, KindTree)
			if err != nil {
				t.Fatal(err)
			}
			WalkTree(data, func(m Mode, _ []byte, id ID) bool {
				if m == ModeDir {
					walk(id)
				} else {
					set.Add(id)
				}
				return true
			})
		}
		for _, b := range bases {
			for id := b; !id.IsZero(); {
				c, err := r.ReadCommit(id)
				if errors.Is(err, ErrNotFound) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				set.Add(id)
				walk(c.Tree)
				id = ZeroID
				if len(c.Parents) > 0 {
					id = c.Parents[0]
				}
			}
		}
		return set
	}
	for _, tc := range []struct {
		name        string
		tips, bases []ID
	}{
		{"two commits ahead", commits[5:], commits[3:4]},
		{"one ahead", commits[5:], commits[4:5]},
		{"nothing on the remote", commits[2:3], nil},
		{"up to date", commits[5:], commits[5:]},
		{"bases unknown here", commits[5:], []ID{HashObject(KindCommit, []byte("elsewhere"))}},
	} {
		got, err := r.MissingFrom(ctx, tc.tips, tc.bases)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		have := full(tc.bases)
		want, err := r.Missing(ctx, tc.tips, have.Has)
		if err != nil {
			t.Fatal(err)
		}
		gs, ws := ObjectSet{}, ObjectSet{}
		for _, id := range got {
			gs.Add(id)
		}
		for _, id := range want {
			ws.Add(id)
		}
		if len(gs) != len(got) {
			t.Errorf("%s: an object is listed twice", tc.name)
		}
		for id := range ws {
			if !gs.Has(id) {
				t.Errorf("%s: %s is missing on the remote but not listed", tc.name, id)
			}
		}
		if len(gs) != len(ws) {
			t.Errorf("%s: %d objects listed, %d missing", tc.name, len(gs), len(ws))
		}
	}
	// A new branch whose first commit shares most of a base's tree: only
	// what differs from the bases travels.
	w, _ := r.NewPackWriter(0)
	base, _ := r.ReadCommit(commits[5])
	rootEntries, _ := r.ReadTree(base.Tree)
	sub, _ := r.ReadTree(rootEntries[0].ID)
	blob, _, _ := w.WriteBlob([]byte("a new resource\n"))
	sub = append(sub[:10:10], TreeEntry{Name: "zz-new.json", Mode: ModeFile, ID: blob})
	SortTree(sub)
	subID, _, _ := w.WriteTree(sub)
	root, _, _ := w.WriteTree([]TreeEntry{{Name: "cube", Mode: ModeDir, ID: subID}})
	when := time.Unix(1800000000, 0).UTC()
	branch, _ := w.WriteCommit(Commit{Tree: root, Author: Signature{"A", "a@x", when}, Committer: Signature{"A", "a@x", when}, Message: "project\n"})
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := r.MissingFrom(ctx, []ID{branch}, commits[5:])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 { // the commit, two trees, the new blob
		t.Errorf("new branch: %d objects listed, want 4", len(got))
	}
}
