package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

func problems(t *testing.T, r *Repository, readData bool) []string {
	t.Helper()
	res, err := r.Verify(context.Background(), VerifyOptions{ReadData: readData})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestVerifySoundRepository(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	backup(t, r, src, scope.SystemScope())
	backup(t, r, src, scope.ProjectScope("default"))
	backup(t, r, src, scope.CubeScope("ssb"))
	res, err := r.Verify(context.Background(), VerifyOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 {
		t.Fatalf("problems in a sound repository: %v", res.Problems)
	}
	if res.Snapshots != 3 || res.Blobs < 187 {
		t.Errorf("checked %d snapshots, %d blobs", res.Snapshots, res.Blobs)
	}
}

// craft records a snapshot commit over a hand-made root tree.
func craft(t *testing.T, r *Repository, resources int, build func(pw *objects.PackWriter) objects.ID) {
	t.Helper()
	pw, err := r.objs.NewPackWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	root := build(pw)
	publishCommit(t, r, pw, objects.Commit{Tree: root, Message: encodeMessage("crafted", trailerInfo{Scope: scope.SystemScope(), Kind: KindBackup, Resources: resources})}, "refs/heads/system")
}

func writeTree(t *testing.T, pw *objects.PackWriter, entries ...objects.TreeEntry) objects.ID {
	t.Helper()
	objects.SortTree(entries)
	id, _, err := pw.WriteTree(entries)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rootWithRecords writes a root tree of entries and a records folder whose
// timestamps mirror is the tree ts.
func rootWithRecords(t *testing.T, pw *objects.PackWriter, ts objects.ID, entries ...objects.TreeEntry) objects.ID {
	t.Helper()
	return writeTree(t, pw, append(entries, dir(tree.RecordsDir, writeTree(t, pw, dir(tree.TimestampsDir, ts))))...)
}

func file(name string, id objects.ID) objects.TreeEntry {
	return objects.TreeEntry{Name: name, Mode: objects.ModeFile, ID: id}
}

func dir(name string, id objects.ID) objects.TreeEntry {
	return objects.TreeEntry{Name: name, Mode: objects.ModeDir, ID: id}
}

func TestVerifyFindsStructuralProblems(t *testing.T) {
	tests := []struct {
		name  string
		count int
		build func(t *testing.T, pw *objects.PackWriter) objects.ID
		want  []string
		only  int // if not 0, how many problems there must be
	}{
		{
			name:  "missing blob",
			count: 1,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				empty, _, _ := pw.WriteBlob(nil)
				ghost := objects.HashObject(objects.KindBlob, []byte("never stored"))
				cube := writeTree(t, pw, file("a.json", ghost))
				ts := writeTree(t, pw, dir("cube", writeTree(t, pw, file("a.json@5", empty))))
				return rootWithRecords(t, pw, ts, dir("cube", cube))
			},
			want: []string{"/cube/a.json (object 03733c4e239c83e188a7604b4291e7f3f11e8dd5): content missing"},
		},
		{
			// Each blob is checked once: the second resource naming a
			// missing one points at the first's report.
			name:  "missing blob named twice",
			count: 3,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				empty, _, _ := pw.WriteBlob(nil)
				blob, _, _ := pw.WriteBlob([]byte("{}"))
				ghost := objects.HashObject(objects.KindBlob, []byte("never stored"))
				cube := writeTree(t, pw, file("a.json", ghost), file("b.json", ghost), file("c.json", blob))
				ts := writeTree(t, pw, dir("cube", writeTree(t, pw, file("a.json@5", empty), file("b.json@5", empty), file("c.json@5", empty))))
				return rootWithRecords(t, pw, ts, dir("cube", cube))
			},
			want: []string{
				"/cube/a.json (object 03733c4e239c83e188a7604b4291e7f3f11e8dd5): content missing",
				"/cube/b.json (object 03733c4e239c83e188a7604b4291e7f3f11e8dd5): content missing or damaged (see above)",
			},
			only: 2,
		},
		{
			// A file and a folder of one name are in git order: the
			// folder (which sorts after the file, and after "x-1" and
			// "x.json") is the second, in a folder and in the root.
			name:  "file and folder of one name",
			count: 6,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				empty, _, _ := pw.WriteBlob(nil)
				blob, _, _ := pw.WriteBlob([]byte("{}"))
				sub := writeTree(t, pw, file("y.json", blob))
				subTS := writeTree(t, pw, file("y.json@5", empty))
				cube := writeTree(t, pw, file("x", blob), file("x-1", blob), file("x.json", blob), dir("x", sub))
				cubeTS := writeTree(t, pw, file("x@5", empty), file("x-1@5", empty), file("x.json@5", empty), dir("x", subTS))
				ts := writeTree(t, pw, dir("cube", cubeTS), file("x@5", empty), dir("x", subTS))
				return rootWithRecords(t, pw, ts, dir("cube", cube), file("x", blob), dir("x", sub))
			},
			want: []string{"/cube/x: name listed twice in its folder", "/x: name listed twice in its folder"},
			only: 2,
		},
		{
			name:  "resource without timestamp and a record without resource",
			count: 1,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				empty, _, _ := pw.WriteBlob(nil)
				blob, _, _ := pw.WriteBlob([]byte("{}"))
				cube := writeTree(t, pw, file("a.json", blob))
				ts := writeTree(t, pw, dir("cube", writeTree(t, pw, file("b.json@5", empty))))
				return rootWithRecords(t, pw, ts, dir("cube", cube))
			},
			want: []string{"/cube/a.json: resource has no timestamp record", "/cube/b.json: timestamp record without a resource"},
		},
		{
			name:  "count differs from the trailer",
			count: 7,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				empty, _, _ := pw.WriteBlob(nil)
				blob, _, _ := pw.WriteBlob([]byte("{}"))
				ts := writeTree(t, pw, file("UUID@1", empty))
				return rootWithRecords(t, pw, ts, file("UUID", blob))
			},
			want: []string{"holds 1 resources, its record says 7"},
		},
		{
			name:  "no records at all",
			count: 1,
			build: func(t *testing.T, pw *objects.PackWriter) objects.ID {
				blob, _, _ := pw.WriteBlob([]byte("{}"))
				return writeTree(t, pw, file("UUID", blob))
			},
			want: []string{"no .metastore/timestamps records", "/UUID: resource has no timestamp record"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			craft(t, r, tt.count, func(pw *objects.PackWriter) objects.ID { return tt.build(t, pw) })
			all := problems(t, r, false)
			if tt.only > 0 && len(all) != tt.only {
				t.Errorf("%d problems, want %d:\n%s", len(all), tt.only, strings.Join(all, "\n"))
			}
			got := strings.Join(all, "\n")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems:\n%s\nwant one containing %q", got, w)
				}
			}
		})
	}
}

func TestVerifyFindsDamagedContentAndTornReferences(t *testing.T) {
	r := newRepo(t)
	src, _ := seeded(t)
	res := backup(t, r, src, scope.SystemScope())
	snap := r.OpenInfo(res.Snapshot)
	id, _, err := snap.lookup("/cube_desc/ssb.json")
	if err != nil {
		t.Fatal(err)
	}
	// Damage the compressed bytes of one blob in the pack.
	ps, err := r.objs.Packs()
	if err != nil || len(ps) != 1 {
		t.Fatalf("packs %v %v", ps, err)
	}
	offs := packOffset(t, filepath.Join(r.Path(), "objects", "pack", ps[0]+".idx"), id)
	path := filepath.Join(r.Path(), "objects", "pack", ps[0]+".pack")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage!"), offs+10)
	f.Close()
	r.objs.Close()

	if got := strings.Join(problems(t, r, false), "\n"); got != "" {
		t.Errorf("a structural check reads no blob, yet found: %s", got)
	}
	got := strings.Join(problems(t, r, true), "\n")
	if !strings.Contains(got, "/cube_desc/ssb.json") || !strings.Contains(got, res.Snapshot.ID.Short()) {
		t.Errorf("--read-data problems:\n%s\nwant the damaged resource named with its snapshot", got)
	}

	// A torn (empty) reference.
	os.WriteFile(filepath.Join(r.Path(), "refs", "heads", "project", "x"), nil, 0o600)
	os.MkdirAll(filepath.Join(r.Path(), "refs", "heads", "cube"), 0o700)
	os.WriteFile(filepath.Join(r.Path(), "refs", "heads", "cube", "y"), []byte("not a hash\n"), 0o600)
	got = strings.Join(problems(t, r, false), "\n")
	if !strings.Contains(got, "refs/heads/cube/y: reference does not parse") {
		t.Errorf("problems:\n%s\nwant the torn reference", got)
	}
}

// packOffset reads where object id's entry starts in its pack from the
// pack's version 2 index (git's format: a header, 256 fanout counts, the
// ids, their CRCs, then their 4-byte offsets).
func packOffset(t *testing.T, idx string, id objects.ID) int64 {
	t.Helper()
	data, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	const ids = 8 + 256*4
	n := int(binary.BigEndian.Uint32(data[ids-4:]))
	for i := range n {
		if bytes.Equal(data[ids+20*i:ids+20*i+20], id[:]) {
			return int64(binary.BigEndian.Uint32(data[ids+24*n+4*i:]))
		}
	}
	t.Fatalf("object %s is not in %s", id, idx)
	return 0
}
