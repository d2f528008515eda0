package objects

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// jobTree returns the encoded tree of n job outputs named from seed, plus
// the subtrees in dirs.
func jobTree(t testing.TB, names []string, dirs []string, version int) []byte {
	t.Helper()
	var es []TreeEntry
	for _, n := range names {
		es = append(es, TreeEntry{Name: n, Mode: ModeFile, ID: HashObject(KindBlob, []byte(n))})
	}
	for _, d := range dirs {
		es = append(es, TreeEntry{Name: d, Mode: ModeDir, ID: HashObject(KindTree, []byte(fmt.Sprint(d, version)))})
	}
	SortTree(es)
	b, err := EncodeTree(es)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTreeDelta(t *testing.T) {
	base := []string{"a", "b", "c", "d", "job-1", "job-2", "job-3", "x.json", "x-1"}
	tests := []struct {
		name          string
		src, target   []byte
		wantSmallerBy int // the delta is at least this many times smaller than target
	}{
		{"identical", jobTree(t, base, nil, 0), jobTree(t, base, nil, 0), 4},
		{"empty target", jobTree(t, base, nil, 0), nil, 0},
		{"added entries", jobTree(t, append(base, "job-4", "job-5"), nil, 0), jobTree(t, base, nil, 0), 4},
		{"removed entries", jobTree(t, base[:4], nil, 0), jobTree(t, base, nil, 0), 0},
		{"changed subtree", jobTree(t, base, []string{"cube", "x"}, 1), jobTree(t, base, []string{"cube", "x"}, 2), 0},
		// "x" as a folder sorts as "x/": after "x-1" and "x.json".
		{"folder and file order", jobTree(t, base, []string{"x"}, 1), jobTree(t, append(base[:4:4], "x"), []string{"x.json"}, 1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustTreeDelta(t, tt.src, tt.target)
			if tt.wantSmallerBy > 0 && len(d)*tt.wantSmallerBy > len(tt.target) {
				t.Errorf("delta of %d bytes for a target of %d, want it %dx smaller", len(d), len(tt.target), tt.wantSmallerBy)
			}
		})
	}
}

// TestTreeDeltaLarge is the case it exists for: a folder of 50,000 job
// outputs of which 1% were added and 1% removed. The delta must rebuild the
// old tree and be a small fraction of it, with copies longer than 64 KiB
// split as git expects.
func TestTreeDeltaLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var old, cur []string
	for i := 0; i < 50000; i++ {
		n := fmt.Sprintf("%08x-%04x", r.Uint32(), i)
		switch {
		case i%100 == 0:
			old = append(old, n) // removed since
		case i%100 == 1:
			cur = append(cur, n) // new
		default:
			old, cur = append(old, n), append(cur, n)
		}
	}
	src, target := jobTree(t, cur, nil, 0), jobTree(t, old, nil, 0)
	d := mustTreeDelta(t, src, target)
	if len(d) > len(target)/20 {
		t.Errorf("delta of %d bytes for a %d-byte tree with 1%% changed", len(d), len(target))
	}
}

func TestTreeDeltaRefusesMalformed(t *testing.T) {
	good := jobTree(t, []string{"a", "b"}, nil, 0)
	if _, ok := treeDelta(nil, good); ok {
		t.Error("treeDelta accepted an empty source")
	}
	for _, bad := range [][]byte{
		[]byte("100644 a"),          // no NUL
		[]byte("100644 a\x00short"), // id cut short
		[]byte("nomode\x00" + string(make([]byte, 20))),
		append(append([]byte{}, good...), "100644"...),
	} {
		if _, ok := treeDelta(good, bad); ok {
			t.Errorf("treeDelta accepted target %q", bad)
		}
		if _, ok := treeDelta(bad, good); ok {
			t.Errorf("treeDelta accepted source %q", bad)
		}
	}
}

// FuzzTreeDelta checks that whatever two trees it is given, a delta it
// returns rebuilds the target.
func FuzzTreeDelta(f *testing.F) {
	f.Add([]byte("a b c"), []byte("b c d"), uint8(3))
	f.Add([]byte("x x.json x-1"), []byte("x.json"), uint8(1))
	f.Fuzz(func(t *testing.T, a, b []byte, dirs uint8) {
		names := func(s []byte) []TreeEntry {
			seen := map[string]bool{}
			var es []TreeEntry
			for i, n := range bytes.Fields(s) {
				name := string(n)
				if seen[name] || checkEntryName(name) != nil {
					continue
				}
				seen[name] = true
				m := ModeFile
				if dirs>>(i%8)&1 == 1 {
					m = ModeDir
				}
				es = append(es, TreeEntry{Name: name, Mode: m, ID: HashObject(KindBlob, []byte(name))})
			}
			SortTree(es)
			return es
		}
		src, err := EncodeTree(names(a))
		if err != nil || len(src) == 0 {
			t.Skip()
		}
		target, err := EncodeTree(names(b))
		if err != nil {
			t.Skip()
		}
		mustTreeDelta(t, src, target)
	})
}

// FuzzCompareTreeKeys checks the comparison against its definition: git
// orders entries by name, a subtree's name followed by "/".
func FuzzCompareTreeKeys(f *testing.F) {
	f.Add("x", true, "x.json", false)
	f.Add("x", false, "x", true)
	f.Add("a", false, "ab", false)
	f.Add("job@1", false, "job", true)
	f.Fuzz(func(t *testing.T, a string, adir bool, b string, bdir bool) {
		if strings.Contains(a, "/") || strings.Contains(b, "/") {
			t.Skip()
		}
		key := func(s string, dir bool) string {
			if dir {
				return s + "/"
			}
			return s
		}
		want := strings.Compare(key(a, adir), key(b, bdir))
		if got := CompareTreeKeys(a, adir, b, bdir); got != want {
			t.Errorf("CompareTreeKeys(%q, %v, %q, %v) = %d, want %d", a, adir, b, bdir, got, want)
		}
		if got := CompareTreeKeys([]byte(a), adir, []byte(b), bdir); got != want {
			t.Errorf("CompareTreeKeys on bytes = %d, want %d", got, want)
		}
	})
}

// mustTreeDelta returns treeDelta's delta from tree src to tree target,
// failing the test if it refuses them or if the delta does not rebuild
// target from src.
func mustTreeDelta(t *testing.T, src, target []byte) []byte {
	t.Helper()
	d, ok := treeDelta(src, target)
	if !ok {
		t.Fatal("treeDelta refused two valid trees")
	}
	out, err := packfile.PatchDelta(src, d)
	if err != nil {
		t.Fatalf("PatchDelta: %v", err)
	}
	if !bytes.Equal(out, target) {
		t.Fatalf("delta rebuilds %d bytes, want the %d of the target", len(out), len(target))
	}
	c := &streamCursor{r: bufio.NewReader(bytes.NewReader(target)), size: len(target)}
	if ds, ok := buildTreeDelta(src, c, len(target)); !ok || !bytes.Equal(ds, d) {
		t.Fatalf("the delta from the target read as a stream differs (ok %v)", ok)
	}
	return d
}

// TestTreeDeltaFromStream checks that a target tree read as a stream gives
// the delta treeDelta gives from memory, and that a stream that is
// malformed, shorter or longer than its declared size is refused.
func TestTreeDeltaFromStream(t *testing.T) {
	good := jobTree(t, []string{"a", "b", "job-1", "x.json"}, []string{"x"}, 0)
	src := jobTree(t, []string{"a", "job-1", "job-2"}, []string{"x"}, 1)
	stream := func(b []byte, size int) *streamCursor {
		return &streamCursor{r: bufio.NewReaderSize(bytes.NewReader(b), 16), size: size}
	}
	want, _ := treeDelta(src, good)
	got, ok := buildTreeDelta(src, stream(good, len(good)), len(good))
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("delta from a stream = %x, %v; want %x", got, ok, want)
	}
	if !deltaMakes(KindTree, src, got, HashObject(KindTree, good)) {
		t.Error("deltaMakes: the delta does not make the target")
	}
	if deltaMakes(KindTree, src, got, HashObject(KindTree, src)) {
		t.Error("deltaMakes accepted a delta for another object")
	}
	for _, c := range []struct {
		name string
		data []byte
		size int
	}{
		{"shorter than its size", good, len(good) + 1},
		{"longer than its size", good, len(good) - 1},
		{"no NUL", []byte("100644 a"), 8},
		{"id cut short", []byte("100644 a\x00short"), 14},
		{"no mode", []byte("nomode\x00" + string(make([]byte, 20))), 27},
		{"no name", []byte("100644 \x00" + string(make([]byte, 20))), 28},
		{"name longer than the buffer", []byte("100644 " + strings.Repeat("n", 40) + "\x00" + string(make([]byte, 20))), 68},
	} {
		if _, ok := buildTreeDelta(src, stream(c.data, c.size), c.size); ok {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
