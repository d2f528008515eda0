package tree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/kylin-tools/metastore/objects"
)

// TestRecordSetTake checks take against a set: names taken in order (the
// resources of a folder), out of order, missing, and twice.
func TestRecordSetTake(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var names []string
	for i := 0; i < 2000; i++ {
		names = append(names, fmt.Sprintf("job-%05d", rng.IntN(100000)))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, order := range []string{"sorted", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			r := &recordSet{names: names, used: make([]bool, len(names))}
			var asks []string
			for i := 0; i < 100000; i += 7 {
				asks = append(asks, fmt.Sprintf("job-%05d", i))
			}
			asks = append(asks, names...)
			if order == "sorted" {
				slices.Sort(asks)
			} else {
				rng.Shuffle(len(asks), func(i, j int) { asks[i], asks[j] = asks[j], asks[i] })
			}
			taken := map[string]bool{}
			for _, a := range asks {
				_, has := slices.BinarySearch(names, a)
				want := has && !taken[a]
				if got := r.take(a); got != want {
					t.Fatalf("take(%q) = %v, want %v", a, got, want)
				}
				taken[a] = taken[a] || has
			}
			for i, n := range names {
				if !r.used[i] {
					t.Errorf("%q not marked used", n)
				}
			}
		})
	}
}

// TestCheckFlatFolderSmall checks a snapshot of one flat folder of 50,000
// jobs (their names end "JOB" and "JOB-00", whose timestamp records sort
// otherwise): no problems, every resource reported, and what the check
// allocates is about a name's string and a slice slot per resource. It
// copied both trees, decoded them into slices, encoded them again and kept
// two maps of names: over 300 bytes a resource.
func TestCheckFlatFolderSmall(t *testing.T) {
	const n = 50000
	objs := map[objects.ID][]byte{}
	put := func(data []byte) objects.ID {
		id := objects.HashObject(objects.KindTree, data)
		objs[id] = data
		return id
	}
	empty := objects.HashObject(objects.KindBlob, nil)
	var folder, mirror objects.TreeEncoder
	var names []string
	for i := 0; i < n/2; i++ {
		job := fmt.Sprintf("%08x-%04x-job", uint32(i)*2654435761, i)
		names = append(names, job, job+"-00")
	}
	slices.Sort(names)
	var records []string
	for _, name := range names {
		if err := folder.Add(name, false, objects.HashObject(objects.KindBlob, []byte(name))); err != nil {
			t.Fatal(err)
		}
		records = append(records, string(AppendMirrorEntry(nil, name, 1700000000000)))
	}
	slices.Sort(records)
	for _, r := range records {
		if err := mirror.Add(r, false, empty); err != nil {
			t.Fatal(err)
		}
	}
	ts := put(encodeTree(t, objects.TreeEntry{Name: "execute", Mode: objects.ModeDir, ID: put(mirror.Bytes())}))
	rec := put(encodeTree(t, objects.TreeEntry{Name: TimestampsDir, Mode: objects.ModeDir, ID: ts}))
	root := put(encodeTree(t,
		objects.TreeEntry{Name: RecordsDir, Mode: objects.ModeDir, ID: rec},
		objects.TreeEntry{Name: "execute", Mode: objects.ModeDir, ID: put(folder.Bytes())}))
	var problems []string
	resources := 0
	c := &Checker{
		Read: func(id objects.ID, _ objects.Kind) ([]byte, error) { return objs[id], nil },
		Problem: func(key string, _ objects.ID, msg string) {
			problems = append(problems, key+": "+msg)
		},
		Resource: func(string, objects.ID) { resources++ },
		Folder:   func() {},
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, ok := c.Check(root)
	runtime.ReadMemStats(&after)
	if !ok || got != n || resources != n || len(problems) > 0 {
		t.Fatalf("Check = %d, %v; %d resources; problems %q", got, ok, resources, problems)
	}
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 100 {
		t.Errorf("checking a flat folder allocated %d bytes a resource, want at most 100", per)
	}
}

func encodeTree(t *testing.T, entries ...objects.TreeEntry) []byte {
	t.Helper()
	objects.SortTree(entries)
	b, err := objects.EncodeTree(entries)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
