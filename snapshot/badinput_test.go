package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// rawTree encodes tree entries without EncodeTree's checks, the way a
// hostile or broken tool could write them: any name, any mode, any order.
func rawTree(entries ...objects.TreeEntry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(strconv.FormatUint(uint64(e.Mode), 8) + " " + e.Name + "\x00")
		b.Write(e.ID[:])
	}
	return b.Bytes()
}

// TestCraftedSnapshotIsRefused records snapshots whose trees no backup
// writes (a key with "..", a name with a slash, a symbolic link or a
// submodule entry, an absolute path through an empty name) and restores
// them into a folder metastore that has a sibling folder: every restore is
// refused with an error that says the snapshot is corrupt, Verify reports the
// entry, and nothing is written, neither in the target nor beside it.
func TestCraftedSnapshotIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		entry func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry)
		want  string // in the restore's error and a Verify problem
	}{
		{
			name: "a .. folder holding etc/passwd",
			entry: func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry) {
				etc := writeRaw(t, pw, rawTree(file("passwd", blob)))
				return dir("..", writeRaw(t, pw, rawTree(dir("etc", etc)))), dir("..", writeRaw(t, pw, rawTree(dir("etc", writeRaw(t, pw, rawTree(file("passwd@1", emptyBlob(t, pw))))))))
			},
			want: `".." is not allowed`,
		},
		{
			name: "a name with slashes",
			entry: func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry) {
				return file("../../etc/passwd", blob), file("../../etc/passwd@1", emptyBlob(t, pw))
			},
			want: "contains a slash",
		},
		{
			name: "an empty name, making an absolute path",
			entry: func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry) {
				return file("", blob), file("@1", emptyBlob(t, pw))
			},
			want: `"" is not allowed`,
		},
		{
			name: "a symbolic link",
			entry: func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry) {
				link, _, err := pw.WriteBlob([]byte("../../outside/passwd"))
				if err != nil {
					t.Fatal(err)
				}
				return objects.TreeEntry{Name: "evil.json", Mode: 0o120000, ID: link}, file("evil.json@1", emptyBlob(t, pw))
			},
			want: "mode 120000",
		},
		{
			name: "a submodule",
			entry: func(t *testing.T, pw *objects.PackWriter, blob objects.ID) (objects.TreeEntry, objects.TreeEntry) {
				return objects.TreeEntry{Name: "sub", Mode: 0o160000, ID: blob}, file("sub@1", emptyBlob(t, pw))
			},
			want: "mode 160000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			craft(t, r, 2, func(pw *objects.PackWriter) objects.ID {
				blob, _, err := pw.WriteBlob([]byte("root:x:0:0:pwned"))
				if err != nil {
					t.Fatal(err)
				}
				ok, _, _ := pw.WriteBlob([]byte(`{"name":"ok"}`))
				res, mirror := tt.entry(t, pw, blob)
				empty := emptyBlob(t, pw)
				cube := writeRaw(t, pw, rawTree(file("ok.json", ok), res))
				ts := writeRaw(t, pw, rawTree(file("ok.json@1", empty), mirror))
				return writeTree(t, pw, dir("cube", cube), dir(tree.RecordsDir, writeTree(t, pw, dir(tree.TimestampsDir, writeTree(t, pw, dir("cube", ts))))))
			})
			base := t.TempDir()
			target := filepath.Join(base, "meta")
			outside := filepath.Join(base, "outside")
			for _, d := range []string{filepath.Join(target, "cube"), filepath.Join(outside, "etc")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(outside, "etc", "passwd"), []byte("root:x:0:0"), 0o644)
			os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644)
			os.WriteFile(filepath.Join(target, "cube", "ok.json"), []byte(`{"name":"before"}`), 0o644)
			before := dirState(t, false, base)

			dst := reopen(t, target)
			snap, err := r.Open(context.Background(), "system")
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Restore(context.Background(), snap, dst, RestoreOptions{Scope: scope.SystemScope()})
			if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("restore of a crafted snapshot: %v, want an error wrapping ErrCorrupt that says %s", err, tt.want)
			}
			if after := dirState(t, false, base); after != before {
				t.Errorf("the refused restore changed files:\n%s\nwant\n%s", after, before)
			}
			got := strings.Join(problems(t, r, true), "\n")
			if !strings.Contains(got, tt.want) && !strings.Contains(got, strings.TrimPrefix(tt.want, "mode ")) {
				t.Errorf("verify --read-data found:\n%s\nwant a problem saying %s", got, tt.want)
			}
		})
	}
}

func writeRaw(t *testing.T, pw *objects.PackWriter, data []byte) objects.ID {
	t.Helper()
	id, _, err := pw.Write(objects.KindTree, data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func emptyBlob(t *testing.T, pw *objects.PackWriter) objects.ID {
	t.Helper()
	id, _, err := pw.WriteBlob(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRestoreNeverFollowsLinksInTheTarget restores a sound snapshot into a
// folder metastore whose cube folder, or one resource, is a symbolic link
// out of it: the restore is refused, and the linked-to files are left as
// they were.
func TestRestoreNeverFollowsLinksInTheTarget(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	res := backup(t, r, src, scope.SystemScope())
	for _, link := range []string{"cube", "cube/ssb.json", "UUID"} {
		t.Run(link, func(t *testing.T) {
			base := t.TempDir()
			target := filepath.Join(base, "meta")
			outside := filepath.Join(base, "outside")
			os.MkdirAll(filepath.Join(target, "cube"), 0o755)
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "ssb.json"), []byte("not yours"), 0o644)
			os.WriteFile(filepath.Join(outside, "UUID"), []byte("not yours"), 0o644)
			p := filepath.Join(target, filepath.FromSlash(link))
			os.Remove(p)
			if err := os.Symlink(filepath.Join(outside, filepath.Base(link)), p); err != nil {
				t.Fatal(err)
			}
			if link == "cube" {
				os.Remove(filepath.Join(outside, "cube"))
				os.Remove(p)
				os.Symlink(outside, p)
			}
			before := dirState(t, false, outside)
			dst := reopen(t, target)
			_, err := r.Restore(context.Background(), r.OpenInfo(res.Snapshot), dst, RestoreOptions{Scope: scope.SystemScope()})
			if !errors.Is(err, folder.ErrSymlink) {
				t.Errorf("restore into a target with a link at %s: %v, want folder.ErrSymlink", link, err)
			}
			if after := dirState(t, false, outside); after != before {
				t.Errorf("files outside the target changed:\n%s", after)
			}
		})
	}
}

// TestVerifyFindsMore adds to TestVerifyFindsStructuralProblems what a
// damaged or tampered repository may also hold.
func TestVerifyFindsMore(t *testing.T) {
	ctx := context.Background()
	t.Run("a reference to a tree", func(t *testing.T) {
		r := newRepo(t)
		src, _ := seeded(t)
		res := backup(t, r, src, scope.SystemScope())
		if err := r.objs.UpdateRef("refs/tags/tree", res.Snapshot.tree, objects.ZeroID); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(problems(t, r, false), "\n")
		if !strings.Contains(got, "refs/tags/tree") || !strings.Contains(got, "is a tree, want a commit") {
			t.Errorf("problems:\n%s\nwant the tag to a tree", got)
		}
	})
	t.Run("a missing pack", func(t *testing.T) {
		r := newRepo(t)
		src, _ := seeded(t)
		backup(t, r, src, scope.SystemScope())
		backup(t, r, src, scope.ProjectScope("default"))
		packs, _ := filepath.Glob(filepath.Join(r.Path(), "objects", "pack", "*.pack"))
		for _, p := range packs {
			os.Remove(p)
		}
		r.objs.Close()
		got := problems(t, r, false)
		if len(got) != 2 || !strings.Contains(got[0], "commit missing") || !strings.Contains(got[1], "commit missing") {
			t.Errorf("problems:\n%s\nwant both snapshots' commits missing", strings.Join(got, "\n"))
		}
		// Log, Resolve and a backup say the repository is corrupt, and
		// the CLI maps that to exit code 5.
		if _, err := r.Log(ctx, LogFilter{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Log: %v, want ErrCorrupt", err)
		}
		if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope()}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("a backup onto a branch whose snapshot is gone: %v, want ErrCorrupt", err)
		}
	})
	t.Run("a commit made with plain git on a branch", func(t *testing.T) {
		// FORMAT.md: commits without a Metastore-Format trailer are no
		// snapshots; Verify passes over them as log does.
		r := newRepo(t)
		src, _ := seeded(t)
		res := backup(t, r, src, scope.SystemScope())
		pw, err := r.objs.NewPackWriter(0)
		if err != nil {
			t.Fatal(err)
		}
		publishCommit(t, r, pw, objects.Commit{Tree: res.Snapshot.tree, Message: "a plain commit\n"}, "refs/heads/plain")
		v, err := r.Verify(ctx, VerifyOptions{ReadData: true})
		if err != nil || len(v.Problems) != 0 || v.Snapshots != 1 {
			t.Errorf("verify: %v, %d snapshots, problems %v; want the one snapshot checked and the plain commit passed over", err, v.Snapshots, v.Problems)
		}
		if all, err := r.Log(ctx, LogFilter{}); err != nil || len(all) != 1 {
			t.Errorf("log: %d snapshots, %v", len(all), err)
		}
	})
	t.Run("a timestamp record that is not name@milliseconds", func(t *testing.T) {
		r := newRepo(t)
		craft(t, r, 1, func(pw *objects.PackWriter) objects.ID {
			blob, _, _ := pw.WriteBlob([]byte("{}"))
			empty := emptyBlob(t, pw)
			ts := writeTree(t, pw, file("UUID@yesterday", empty))
			return writeTree(t, pw, file("UUID", blob), dir(tree.RecordsDir, writeTree(t, pw, dir(tree.TimestampsDir, ts))))
		})
		got := strings.Join(problems(t, r, false), "\n")
		if !strings.Contains(got, "/UUID@yesterday: timestamp record is not <name>@<milliseconds>") {
			t.Errorf("problems:\n%s\nwant the bad record", got)
		}
		// Reading the snapshot says so too.
		snap, err := r.Open(ctx, "system")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := snap.Read(ctx, "/UUID"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Read: %v, want ErrCorrupt", err)
		}
	})
	t.Run("verify never writes", func(t *testing.T) {
		r := newRepo(t)
		src, _ := seeded(t)
		backup(t, r, src, scope.SystemScope())
		before := dirState(t, false, r.Path())
		if _, err := r.Verify(ctx, VerifyOptions{Refs: []string{"latest"}, ReadData: true}); err != nil {
			t.Fatal(err)
		}
		problems(t, r, true)
		if after := dirState(t, false, r.Path()); after != before {
			t.Errorf("verify changed a sound repository")
		}
		os.WriteFile(filepath.Join(r.Path(), "refs", "heads", "torn"), []byte("0123"), 0o600)
		before = dirState(t, false, r.Path())
		if got := strings.Join(problems(t, r, true), "\n"); !strings.Contains(got, "refs/heads/torn: reference does not parse") {
			t.Errorf("problems:\n%s\nwant the torn reference", got)
		}
		if after := dirState(t, false, r.Path()); after != before {
			t.Errorf("verify changed a damaged repository")
		}
	})
	t.Run("an unknown reference", func(t *testing.T) {
		r := newRepo(t)
		src, _ := seeded(t)
		backup(t, r, src, scope.SystemScope())
		if _, err := r.Verify(ctx, VerifyOptions{Refs: []string{"nosuch"}}); !errors.Is(err, ErrNotFound) {
			t.Errorf("verify nosuch: %v, want ErrNotFound", err)
		}
	})
}

// TestBackupRefusesReservedAndCollidingKeys: keys a snapshot cannot hold
// are refused with an error that names them, and nothing is recorded.
func TestBackupRefusesReservedAndCollidingKeys(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		keys []string
		want error
		says string
	}{
		{[]string{"/.metastore/timestamps/x@1"}, ErrReservedPath, "/.metastore/timestamps/x@1"},
		{[]string{"/.metastore"}, ErrReservedPath, "/.metastore"},
		{[]string{"/a", "/a/b"}, nil, "/a is also a folder"},
	} {
		r := newRepo(t)
		src := memoryWith(t, tc.keys...)
		_, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope()})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("backup of %q: %v, want an error saying %q", tc.keys, err, tc.says)
		}
		if all, _ := r.Log(ctx, LogFilter{}); len(all) != 0 {
			t.Errorf("backup of %q recorded %d snapshots", tc.keys, len(all))
		}
	}
}

// memoryWith returns a metastore that holds the keys (and a /UUID).
func memoryWith(t *testing.T, keys ...string) metastore.Source {
	t.Helper()
	m, _ := seeded(t)
	for _, k := range keys {
		if err := m.Write(context.Background(), metastore.Resource{Path: k, Data: []byte("x"), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestBackupBesideABrokenReference: a reference file that does not parse
// (left by another tool, or damaged) is reported by Verify, but a backup
// that records its snapshot must not report failure because of it (the
// user would take a recorded snapshot for a failed one, and run it again).
func TestBackupBesideABrokenReference(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	if err := os.WriteFile(filepath.Join(r.Path(), "refs", "tags", "broken"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := r.Backup(ctx, src, BackupOptions{Scope: scope.SystemScope(), Tags: []string{"nightly"}})
	if err != nil {
		t.Fatalf("backup beside a broken tag: %v", err)
	}
	if !res.Recorded || len(res.Snapshot.Tags) != 1 || res.Snapshot.Tags[0] != "nightly" {
		t.Errorf("backup result: recorded %v, tags %q; want recorded with tag nightly", res.Recorded, res.Snapshot.Tags)
	}
	if id, err := r.objs.Ref("refs/heads/system"); err != nil || ID(id) != res.Snapshot.ID {
		t.Errorf("system branch: %v %v, want %s", id, err, res.Snapshot.ID.Short())
	}
	if got := strings.Join(problems(t, r, false), "\n"); !strings.Contains(got, "refs/tags/broken: reference does not parse") {
		t.Errorf("verify:\n%s\nwant the broken tag", got)
	}
}
