package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// bigJobs builds a snapshot whose folder "execute" is big enough to be
// streamed (bigFolderBytes), with names that git order and the timestamps
// mirror's order sort apart ("j1" after "j1-01" and "j1.json" among its
// records), a subfolder, and a small folder beside it; it returns the root
// and every resource's blob and timestamp.
func bigJobs(t *testing.T, m *memObjects) (objects.ID, map[string]Entry) {
	t.Helper()
	empty := objects.HashObject(objects.KindBlob, nil)
	want := map[string]Entry{}
	var files, mirror []objects.TreeEntry
	add := func(dir string, name string, ms int64) {
		key := "/" + dir + "/" + name
		id := objects.HashObject(objects.KindBlob, []byte(key))
		want[key] = Entry{Key: key, ID: id, Timestamp: ms}
		files = append(files, objects.TreeEntry{Name: name, Mode: objects.ModeFile, ID: id})
		mirror = append(mirror, objects.TreeEntry{Name: MirrorEntry(name, ms), Mode: objects.ModeFile, ID: empty})
	}
	for i := range 6000 {
		job := fmt.Sprintf("%08x-aaaa-bbbb-cccc-%012x", i*7919, i)
		add("execute", job, int64(1700000000000+i))
		if i%10 == 0 {
			add("execute", job+"-00", int64(i))
			add("execute", job+".json", -int64(i))
			add("execute", job+"@1", int64(2*i)) // a name that looks like a record
		}
	}
	subFiles, subMirror := files, mirror
	files, mirror = nil, nil
	add("execute/sub", "x", 5)
	sub, msub := m.put(t, files...), m.put(t, mirror...)
	files, mirror = nil, nil
	add("cube", "c.json", 7)
	cube, mcube := m.put(t, files...), m.put(t, mirror...)
	files = append(subFiles, objects.TreeEntry{Name: "sub", Mode: objects.ModeDir, ID: sub})
	mirror = append(subMirror, objects.TreeEntry{Name: "sub", Mode: objects.ModeDir, ID: msub})
	exec, mexec := m.put(t, files...), m.put(t, mirror...)
	if len(m.trees[exec]) < bigFolderBytes {
		t.Fatalf("execute's tree is %d bytes, not big", len(m.trees[exec]))
	}
	ts := m.put(t, objects.TreeEntry{Name: "execute", Mode: objects.ModeDir, ID: mexec}, objects.TreeEntry{Name: "cube", Mode: objects.ModeDir, ID: mcube})
	tsDir := m.put(t, objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: ts})
	root := m.put(t, objects.TreeEntry{Name: "execute", Mode: objects.ModeDir, ID: exec},
		objects.TreeEntry{Name: "cube", Mode: objects.ModeDir, ID: cube},
		objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: tsDir})
	return root, want
}

// TestWalkKeepsNoBigFolder checks that a walk passes every resource of a
// big folder with its blob and timestamp, as Lookup finds them, in git
// order, and keeps neither the folder nor its timestamps mirror, in the
// snapshot or in the Reader's cache: a project resolved from a snapshot of
// a million resources walks /execute (300,000 jobs), and kept it decoded,
// with a map of their timestamps, until the restore ended.
func TestWalkKeepsNoBigFolder(t *testing.T) {
	tests := []struct {
		name       string
		prefix     string
		timestamps bool
		n          int
	}{
		{"execute with timestamps", "/execute/", true, 6000 + 3*600 + 1},
		{"execute without", "/execute/", false, 6000 + 3*600 + 1},
		{"a prefix of names", "/execute/00000000", true, 4},
		{"everything", "/", true, 6000 + 3*600 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
			root, want := bigJobs(t, m)
			rd := NewReader(m)
			r := rd.Open(root, "snapshot test")
			var prev string
			n := 0
			err := r.Walk(context.Background(), tt.prefix, tt.timestamps, func(e Entry) error {
				n++
				if e.Key <= prev && !(prev == "/execute/sub/x") {
					t.Errorf("%s after %s", e.Key, prev)
				}
				prev = e.Key
				w, ok := want[e.Key]
				if !tt.timestamps {
					w.Timestamp = 0
				}
				if !ok || e != w {
					t.Errorf("walk passed %+v, want %+v", e, w)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n {
				t.Errorf("walk passed %d resources, want %d", n, tt.n)
			}
			for _, p := range []string{"execute", MirrorPath("execute")} {
				if _, ok := r.dirs[p]; ok {
					t.Errorf("the snapshot kept folder %s", p)
				}
				if id := r.TreeAt(p); rd.dirs[id] != nil {
					t.Errorf("the reader cached folder %s", p)
				}
			}
			// Lookups agree, and keep the folder as before.
			for key, w := range want {
				id, ms, err := r.Lookup(key)
				if err != nil || id != w.ID || ms != w.Timestamp {
					t.Fatalf("Lookup(%s) = %s, %d, %v; want %s, %d", key, id, ms, err, w.ID, w.Timestamp)
				}
			}
		})
	}
}

// TestWalkOfBigFolderRefusesWhatDecodeRefuses checks that a big folder
// with a timestamp record listed twice, or a bad record, fails the walk
// before it passes any of the folder's resources, as a decoded one does.
func TestWalkOfBigFolderRefusesWhatDecodeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		extra string // a mirror entry added to execute's
	}{
		{"record twice", "00000000-aaaa-bbbb-cccc-000000000000@5"},
		{"record twice, far apart", "00000000-aaaa-bbbb-cccc-000000000000@19"},
		{"bad record", "00000000-aaaa-bbbb-cccc-000000000000@x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memObjects{trees: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
			root, _ := bigJobs(t, m)
			// Rebuild the root with the extra record in execute's mirror.
			r := NewReader(m).Open(root, "snapshot test")
			mp := MirrorPath("execute")
			entries, _, err := r.Folder(mp)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(append([]objects.TreeEntry(nil), entries...), objects.TreeEntry{Name: tt.extra, Mode: objects.ModeFile, ID: entries[0].ID})
			mexec := m.put(t, entries...)
			tsEntries, _, _ := r.Folder(RecordsDir + "/" + TimestampsDir)
			tsEntries = append([]objects.TreeEntry(nil), tsEntries...)
			for i := range tsEntries {
				if tsEntries[i].Name == "execute" {
					tsEntries[i].ID = mexec
				}
			}
			ts := m.put(t, tsEntries...)
			tsDir := m.put(t, objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: ts})
			rootEntries, _, _ := r.Folder("")
			rootEntries = append(rootEntries, objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: tsDir})
			bad := NewReader(m).Open(m.put(t, rootEntries...), "snapshot test")
			n := 0
			err = bad.Walk(context.Background(), "/execute/", true, func(Entry) error {
				n++
				return nil
			})
			if err == nil || n != 0 {
				t.Errorf("walk passed %d resources and returned %v, want an error before any", n, err)
			}
		})
	}
}
