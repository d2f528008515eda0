package folder

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// chunkTree writes a tree with one large folder (bigFiles files and a few
// subfolders whose keys sort among the files: "0100/" after "0100.json"),
// a temporary file of Write, and small folders around it. It returns the
// root and the paths of the files, sorted.
func chunkTree(t *testing.T, bigFiles int) (string, []string) {
	t.Helper()
	root := t.TempDir()
	files := []string{"UUID", "a.json", "a/x", "cube/c1.json", "z"}
	for i := range bigFiles {
		files = append(files, fmt.Sprintf("execute_output/%04d.json", i))
	}
	for _, i := range []int{0, 100, 101, 355, bigFiles - 1} {
		files = append(files, fmt.Sprintf("execute_output/%04d/step", i), fmt.Sprintf("execute_output/%04d/a/b", i))
	}
	files = append(files, "execute_output/0100-x", "execute_output/0100/0", "execute_output/0100!")
	for _, f := range files {
		metastoretest.WriteFile(t, filepath.Join(root, filepath.FromSlash(f)), []byte(f), 0o644)
	}
	if err := os.WriteFile(filepath.Join(root, "execute_output", tempName("0001.json", 1)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = "/" + f
	}
	slices.Sort(paths)
	return root, paths
}

// TestListingHoldsOneChunkPerFolder lists a folder of 1,000 files with
// small chunks: the same paths in the same (byte) order as with the whole
// folder at once, while the listing never holds more than two chunks per
// folder level being listed, on both paths, for List, ListEntries and a
// prefix inside the large folder.
func TestListingHoldsOneChunkPerFolder(t *testing.T) {
	const big = 400
	root, want := chunkTree(t, big)
	ctx := context.Background()
	for _, portable := range []bool{false, true} {
		s, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		s.portable = portable || !fastPath
		for _, chunk := range []int{1, 3, 16, big + 100} {
			for _, prefix := range []string{"/", "/execute_output/", "/execute_output/01"} {
				c := *s
				c.chunk, c.workers, c.racy, c.held = chunk, 1, 0, &heldStats{}
				var got, gotEntries []string
				if err := c.List(ctx, prefix, func(p string) error { got = append(got, p); return nil }); err != nil {
					t.Fatal(err)
				}
				if err := c.ListEntries(ctx, prefix, func(e metastore.Entry) error {
					if e.Change == "" || e.Size != int64(len(e.Path)-1) {
						t.Fatalf("entry %+v: no fingerprint or wrong size", e)
					}
					gotEntries = append(gotEntries, e.Path)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				var w []string
				for _, p := range want {
					if strings.HasPrefix(p, prefix) {
						w = append(w, p)
					}
				}
				if !slices.Equal(got, w) || !slices.Equal(gotEntries, w) {
					t.Fatalf("portable %v, chunk %d, prefix %s: listed %d and %d paths, want %d in byte order:\n%v\n%v", s.portable, chunk, prefix, len(got), len(gotEntries), len(w), got, gotEntries)
				}
				// Three levels at most (root, execute_output, its
				// subfolders), each with under two chunks before a
				// trim.
				if limit := 3 * 2 * chunk; chunk < big && c.held.dirents > limit {
					t.Errorf("portable %v, chunk %d, prefix %s: held %d entries at once, want at most %d", s.portable, chunk, prefix, c.held.dirents, limit)
				}
				if chunk > big && prefix != "/execute_output/01" && c.held.dirents < big {
					t.Errorf("chunk %d: held at most %d entries; the large folder whole is %d (the check above would not see a folder held whole)", chunk, c.held.dirents, big)
				}
			}
		}
	}
}

// TestParallelListingHoldsLittleAhead lists the root on several goroutines
// with a caller that is slow to take the first entry: the folders listed
// ahead of it stop at a few batches each instead of holding their whole
// listing, and the caller still gets every path in order.
func TestParallelListingHoldsLittleAhead(t *testing.T) {
	root := t.TempDir()
	var want []string
	for _, d := range []string{"cube", "execute", "execute_output", "model_desc", "table"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 400 {
			f := fmt.Sprintf("%s/%04d", d, i)
			if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			want = append(want, "/"+f)
		}
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	const chunk, workers = 4, 4
	s.chunk, s.workers, s.held = chunk, workers, &heldStats{}
	var got []string
	err = s.ListEntries(context.Background(), "/", func(e metastore.Entry) error {
		if len(got) == 0 {
			time.Sleep(200 * time.Millisecond) // let the other folders run ahead
		}
		got = append(got, e.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d paths, want %d in order", len(got), len(want))
	}
	// Each folder being listed: batchesAhead batches in its channel, one
	// being filled, and one being handed out.
	if limit := workers * (batchesAhead + 2) * chunk; s.held.entries > limit {
		t.Errorf("held %d entries ahead of the caller, want at most %d (a folder is 400)", s.held.entries, limit)
	}
	if s.held.entries < chunk {
		t.Errorf("held %d entries ahead of the caller: not counted?", s.held.entries)
	}
}

// TestSortKeyOrdersAsBytes checks that ordering keys by sortKey, then by
// bytes.Compare on a tie, is bytes.Compare's order: prefixes of each other,
// keys longer and shorter than 8 bytes, folders' "/" and bytes over 0x7f.
func TestSortKeyOrdersAsBytes(t *testing.T) {
	keys := []string{"", "a", "a/", "a-", "a.b", "a0", "ab", "abcdefgh", "abcdefg", "abcdefgh/", "abcdefghi",
		"abcdefgh-1", "abcdefgg~", "ü", "u", "\xff\xff\xff\xff\xff\xff\xff\xff", "\xff", "0a1b2c3d-e5f6", "0a1b2c3d-e5f7"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(14))
		for i := range b {
			b[i] = "ab/-.\x01\xfe"[rng.IntN(7)]
		}
		keys = append(keys, string(b))
	}
	for _, a := range keys {
		for _, b := range keys[:40] {
			got := cmp.Compare(sortKey([]byte(a)), sortKey([]byte(b)))
			if got == 0 {
				got = bytes.Compare([]byte(a), []byte(b))
			}
			if want := bytes.Compare([]byte(a), []byte(b)); got != want {
				t.Fatalf("%q vs %q: sortKey order %d, bytes.Compare %d", a, b, got, want)
			}
		}
	}
}
