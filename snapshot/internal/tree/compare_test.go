package tree

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// keepAll is a Filter that keeps every resource.
type keepAll struct{}

func (keepAll) MayContain(string) bool { return true }
func (keepAll) Match(string) bool      { return true }

// snapshotTree stores the tree of a snapshot holding files (folder/name ->
// content and timestamp) and returns its root.
func (m *memObjects) snapshotTree(t *testing.T, files map[string]Version) objects.ID {
	t.Helper()
	folders := map[string][]objects.TreeEntry{}
	mirrors := map[string][]objects.TreeEntry{}
	empty := objects.HashObject(objects.KindBlob, nil)
	for key, v := range files {
		dir, name := splitDir(key)
		folders[dir] = append(folders[dir], objects.TreeEntry{Name: name, Mode: objects.ModeFile, ID: v.ID})
		mirrors[dir] = append(mirrors[dir], objects.TreeEntry{Name: MirrorEntry(name, v.Timestamp), Mode: objects.ModeFile, ID: empty})
	}
	var sub []objects.TreeEntry
	var subMirror []objects.TreeEntry
	for dir := range folders {
		if dir == "" {
			continue
		}
		sub = append(sub, objects.TreeEntry{Name: dir, Mode: objects.ModeDir, ID: m.put(t, folders[dir]...)})
		subMirror = append(subMirror, objects.TreeEntry{Name: EscapeDir(dir), Mode: objects.ModeDir, ID: m.put(t, mirrors[dir]...)})
	}
	ts := m.put(t, append(mirrors[""], subMirror...)...)
	records := m.put(t, objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: ts})
	return m.put(t, append(append(folders[""], sub...), objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: records})...)
}

// TestCompareMergesEncodings checks that Compare finds exactly what changed
// between two snapshots (content changed, timestamp changed alone, added,
// deleted) while merging the folders' encodings in place: no folder is
// decoded, and a folder whose tree and timestamps are unchanged is never
// read.
func TestCompareMergesEncodings(t *testing.T) {
	m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
	blob := func(s string) objects.ID { return objects.HashObject(objects.KindBlob, []byte(s)) }
	old := map[string]Version{"UUID": {ID: blob("u"), Timestamp: 1}}
	for i := range 500 {
		old[fmt.Sprintf("execute/job-%04d", i)] = Version{ID: blob(fmt.Sprint("job", i)), Timestamp: int64(1000 + i)}
		old[fmt.Sprintf("cube/c%d.json", i%20)] = Version{ID: blob(fmt.Sprint("cube", i%20)), Timestamp: 7}
	}
	new := map[string]Version{}
	for k, v := range old {
		new[k] = v
	}
	new["execute/job-0007"] = Version{ID: blob("changed"), Timestamp: 1007}         // content only
	new["execute/job-0100"] = Version{ID: blob("changed too"), Timestamp: 5}        // both
	new["execute/job-0200"] = Version{ID: old["execute/job-0200"].ID, Timestamp: 9} // touched
	delete(new, "execute/job-0300")
	new["execute/job-0300x"] = Version{ID: blob("new"), Timestamp: 11}
	a, b := m.snapshotTree(t, old), m.snapshotTree(t, new)

	r := NewReader(m)
	changes, _, err := r.Compare(context.Background(), a, b, keepAll{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		s := c.Key
		for _, v := range []*Version{c.Old, c.New} {
			if v == nil {
				s += " -"
			} else {
				s += fmt.Sprintf(" %.7s@%d", v.ID, v.Timestamp)
			}
		}
		got = append(got, s)
	}
	short := func(v Version) string { return fmt.Sprintf("%.7s@%d", v.ID, v.Timestamp) }
	want := []string{
		"/execute/job-0007 " + short(old["execute/job-0007"]) + " " + short(new["execute/job-0007"]),
		"/execute/job-0100 " + short(old["execute/job-0100"]) + " " + short(new["execute/job-0100"]),
		"/execute/job-0200 " + short(old["execute/job-0200"]) + " " + short(new["execute/job-0200"]),
		"/execute/job-0300 " + short(old["execute/job-0300"]) + " -",
		"/execute/job-0300x - " + short(new["execute/job-0300x"]),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for id, d := range r.dirs {
		if d.decoded {
			t.Errorf("tree %s was decoded; a comparison merges encodings in place", id)
		}
	}
	root, err := objects.DecodeTree(m.trees[b])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range root {
		if e.Name == "cube" && m.reads[e.ID] != 0 {
			t.Errorf("the unchanged folder cube/ was read %d times", m.reads[e.ID])
		}
	}
}

// TestCompareRefusesMalformedFolders checks that a folder that is not in
// git order, or lists a name twice, makes Compare fail as corrupt (its
// merge would otherwise pair the wrong entries) rather than report a wrong
// difference.
func TestCompareRefusesMalformedFolders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		folder []byte
		want   string
	}{
		{"out of order", rawTree("b.json", "a.json"), `"a.json" is not in git order`},
		{"listed twice", rawTree("a.json", "a.json"), `"a.json" is listed twice`},
		{"file and folder", rawTree("a", "a.json", "d:a"), `"a" is listed twice`},
	} {
		folder := tc.folder
		t.Run(tc.name, func(t *testing.T) {
			m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
			id := objects.HashObject(objects.KindTree, folder)
			m.trees[id] = folder
			ok := m.put(t, objects.TreeEntry{Name: "a.json", Mode: objects.ModeFile, ID: objects.HashObject(objects.KindBlob, nil)})
			ra := m.put(t, objects.TreeEntry{Name: "cube", Mode: objects.ModeDir, ID: ok})
			rb := m.put(t, objects.TreeEntry{Name: "cube", Mode: objects.ModeDir, ID: id})
			_, _, err := NewReader(m).Compare(context.Background(), ra, rb, keepAll{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "/cube/") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compare: %v, want a corrupt /cube/ (%s)", err, tc.want)
			}
		})
	}
}
