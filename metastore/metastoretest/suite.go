package metastoretest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// Timestamps the suite writes, in milliseconds since the Unix epoch.
const (
	// tsKylin is a real resource timestamp from Kylin's sample metastore
	// (2016-03-09T14:36:56.410Z).
	tsKylin int64 = 1457534216410
	// ts2100 is 2100-01-01T00:00:00.123Z: past 2038 and with milliseconds.
	ts2100 int64 = 4102444800123
)

// Run runs the conformance suite against the stores that open returns. Each
// subtest calls open once and expects a fresh, empty store; open should
// register any cleanup with t.Cleanup.
//
// The suite never writes a path that is also a "directory" of another path
// it writes at the same time (say "/a/b" beside "/a/b/c"), because a folder
// cannot hold both. Where the store is Transactional, the 1,000-resource
// round trip writes through one transaction, as a restore would.
func Run(t *testing.T, open func(t *testing.T) metastore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s metastore.Store)
	}{
		{"ReadMissing", testReadMissing},
		{"Exists", testExists},
		{"RoundTrip", testRoundTrip},
		{"WriteCopiesData", testWriteCopiesData},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"ListOrder", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListStopsOnError", testListStopsOnError},
		{"ListContextCanceled", testListContextCanceled},
		{"OddNames", testOddNames},
		{"InvalidPaths", testInvalidPaths},
		{"Entries", testEntries},
		{"Transaction", testTransaction},
		{"ThousandResources", testThousandResources},
		{"Source", testSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// testSource runs RunSource on a store holding Resources.
func testSource(t *testing.T, s metastore.Store) {
	want := Resources()
	for _, r := range want {
		write(t, s, r)
	}
	RunSource(t, s, want)
}

func testReadMissing(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	write(t, s, metastore.Resource{Path: "/cube/a/b.json", Data: []byte("{}"), Timestamp: tsKylin})
	for _, p := range []string{
		"/cube/missing.json",
		"/missing/x.json",
		"/cube/a",               // a "directory", not a resource
		"/cube/a/b.json/x.json", // below a resource
		"/Cube/a/b.json",        // paths are case-sensitive
	} {
		_, err := s.Read(ctx, p)
		if !errors.Is(err, metastore.ErrNotExist) {
			t.Errorf("Read(%q) error = %v, want one wrapping fs.ErrNotExist", p, err)
		}
	}
}

// testExists checks metastore.Exister, for backends that have it, against
// Read's notion of a resource.
func testExists(t *testing.T, s metastore.Store) {
	ex, ok := s.(metastore.Exister)
	if !ok {
		t.Skip("the backend has no Exists")
	}
	ctx := t.Context()
	write(t, s, metastore.Resource{Path: "/cube/a/b.json", Data: []byte("{}"), Timestamp: tsKylin})
	write(t, s, metastore.Resource{Path: "/UUID", Data: []byte("u"), Timestamp: tsKylin})
	for p, want := range map[string]bool{
		"/cube/a/b.json":        true,
		"/UUID":                 true,
		"/cube/missing.json":    false,
		"/missing/x.json":       false,
		"/cube/a":               false, // a "directory", not a resource
		"/cube":                 false,
		"/cube/a/b.json/x.json": false, // below a resource
		"/Cube/a/b.json":        false, // paths are case-sensitive
	} {
		got, err := ex.Exists(ctx, p)
		if err != nil || got != want {
			t.Errorf("Exists(%q) = %v, %v; want %v", p, got, err, want)
		}
	}
	if _, err := ex.Exists(ctx, "/cube/../x.json"); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("Exists of an invalid path: %v, want an error wrapping ErrInvalidPath", err)
	}
	s.Delete(ctx, "/cube/a/b.json")
	if got, err := ex.Exists(ctx, "/cube/a/b.json"); got || err != nil {
		t.Errorf("Exists after Delete = %v, %v", got, err)
	}
}

func testRoundTrip(t *testing.T, s metastore.Store) {
	tests := []struct {
		name string
		r    metastore.Resource
	}{
		{"json", metastore.Resource{Path: "/project/default.json", Data: []byte(`{"uuid":"1eaca32a","name":"default"}`), Timestamp: tsKylin}},
		{"binary", metastore.Resource{Path: "/UUID", Data: []byte("\x00\x24\xff\xfe\x00invalid \xc3\x28 utf-8\x00"), Timestamp: tsKylin + 1}},
		{"empty", metastore.Resource{Path: "/empty/resource", Data: []byte{}, Timestamp: 1}},
		{"epoch", metastore.Resource{Path: "/ts/epoch", Data: []byte("zero"), Timestamp: 0}},
		{"year 2100", metastore.Resource{Path: "/ts/y2100", Data: []byte("future"), Timestamp: ts2100}},
		{"5 MB", metastore.Resource{Path: "/dict/DEFAULT.TEST_KYLIN_FACT/CAL_DT/big.dict", Data: PseudoRandom(5<<20, 1), Timestamp: tsKylin + 999}},
	}
	ctx := t.Context()
	for _, tt := range tests {
		write(t, s, tt.r)
	}
	for _, tt := range tests {
		got, err := s.Read(ctx, tt.r.Path)
		if err != nil {
			t.Errorf("%s: Read(%q): %v", tt.name, tt.r.Path, err)
			continue
		}
		if got.Path != tt.r.Path {
			t.Errorf("%s: Read(%q).Path = %q, want %q", tt.name, tt.r.Path, got.Path, tt.r.Path)
		}
		if !bytes.Equal(got.Data, tt.r.Data) {
			t.Errorf("%s: Read(%q).Data = %s, want %s", tt.name, tt.r.Path, describeBytes(got.Data), describeBytes(tt.r.Data))
		}
		if got.Timestamp != tt.r.Timestamp {
			t.Errorf("%s: Read(%q).Timestamp = %d, want %d", tt.name, tt.r.Path, got.Timestamp, tt.r.Timestamp)
		}
	}
}

func testWriteCopiesData(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	data := []byte("original")
	write(t, s, metastore.Resource{Path: "/copy/x", Data: data, Timestamp: tsKylin})
	copy(data, "MUTATED!")
	got := read(t, s, "/copy/x")
	if string(got.Data) != "original" {
		t.Errorf("after the caller changed the written slice, Read = %q, want %q", got.Data, "original")
	}
	if len(got.Data) > 0 {
		got.Data[0] = 'X'
	}
	again, err := s.Read(ctx, "/copy/x")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Data) != "original" {
		t.Errorf("after the caller changed a read slice, Read = %q, want %q", again.Data, "original")
	}
}

func testOverwrite(t *testing.T, s metastore.Store) {
	write(t, s, metastore.Resource{Path: "/cube/c.json", Data: []byte("a much longer first version"), Timestamp: tsKylin})
	write(t, s, metastore.Resource{Path: "/cube/c.json", Data: []byte("second"), Timestamp: ts2100})
	got := read(t, s, "/cube/c.json")
	if string(got.Data) != "second" || got.Timestamp != ts2100 {
		t.Errorf("after overwrite Read = (%q, %d), want (%q, %d)", got.Data, got.Timestamp, "second", ts2100)
	}
	// An older timestamp is written as given: the store keeps no history.
	write(t, s, metastore.Resource{Path: "/cube/c.json", Data: []byte("third"), Timestamp: 5})
	got = read(t, s, "/cube/c.json")
	if string(got.Data) != "third" || got.Timestamp != 5 {
		t.Errorf("after overwrite with an older timestamp Read = (%q, %d), want (%q, %d)", got.Data, got.Timestamp, "third", 5)
	}
	if got, want := list(t, s, "/"), []string{"/cube/c.json"}; !slices.Equal(got, want) {
		t.Errorf("List(/) = %q, want %q", got, want)
	}
}

func testDelete(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	for _, p := range []string{"/a/b/c", "/a/b/d", "/a/e"} {
		write(t, s, metastore.Resource{Path: p, Data: []byte(p), Timestamp: tsKylin})
	}
	steps := []struct {
		del  string
		want []string
	}{
		{"/a/b/c", []string{"/a/b/d", "/a/e"}},
		{"/a/b/c", []string{"/a/b/d", "/a/e"}}, // again: not an error
		{"/missing", []string{"/a/b/d", "/a/e"}},
		{"/missing/dir/x", []string{"/a/b/d", "/a/e"}},
		{"/a/e/below", []string{"/a/b/d", "/a/e"}}, // below a resource
		{"/a/b/d", []string{"/a/e"}},
	}
	for _, st := range steps {
		if err := s.Delete(ctx, st.del); err != nil {
			t.Errorf("Delete(%q): %v", st.del, err)
		}
		if got := list(t, s, "/"); !slices.Equal(got, st.want) {
			t.Errorf("after Delete(%q) List(/) = %q, want %q", st.del, got, st.want)
		}
	}
	if _, err := s.Read(ctx, "/a/b/c"); !errors.Is(err, metastore.ErrNotExist) {
		t.Errorf("Read of a deleted resource: error = %v, want one wrapping fs.ErrNotExist", err)
	}
	// Once nothing is left below /a/b, /a/b can be a resource itself.
	write(t, s, metastore.Resource{Path: "/a/b", Data: []byte("now a resource"), Timestamp: 7})
	if got := read(t, s, "/a/b"); string(got.Data) != "now a resource" || got.Timestamp != 7 {
		t.Errorf("Read(/a/b) = (%q, %d), want (%q, 7)", got.Data, got.Timestamp, "now a resource")
	}
	// A deleted resource can be written again.
	if err := s.Delete(ctx, "/a/e"); err != nil {
		t.Fatalf("Delete(/a/e): %v", err)
	}
	if got, want := list(t, s, "/"), []string{"/a/b"}; !slices.Equal(got, want) {
		t.Errorf("after Delete(/a/e) List(/) = %q, want %q", got, want)
	}
	write(t, s, metastore.Resource{Path: "/a/e", Data: []byte("back"), Timestamp: 8})
	if got := read(t, s, "/a/e"); string(got.Data) != "back" || got.Timestamp != 8 {
		t.Errorf("Read(/a/e) = (%q, %d), want (%q, 8)", got.Data, got.Timestamp, "back")
	}
	if got, want := list(t, s, "/"), []string{"/a/b", "/a/e"}; !slices.Equal(got, want) {
		t.Errorf("List(/) = %q, want %q", got, want)
	}
}

// orderPaths are pairs that sort differently by bytes than by path
// components, by locale or by case-insensitive collation.
var orderPaths = []string{
	"/a/b", "/a.b", "/a-b", "/a_b", "/a0", "/aB", "/ab", "/A",
	"/a/c/d", "/a/b.c",
	"/dict/T/C/x.dict", "/dict/T/C.dict", "/dict/T.C/y.dict", "/dict/T-C/z.dict", "/dict/TC",
	"/table/DEFAULT.T--learn.json", "/table/DEFAULT.T.json", "/table/数据.表.json", "/table/Z.json",
	"/UUID", "/user/ADMIN",
}

func testListOrder(t *testing.T, s metastore.Store) {
	// Write in an order that is neither sorted nor reverse sorted.
	scrambled := slices.Clone(orderPaths)
	slices.SortFunc(scrambled, func(a, b string) int { return cmp.Compare(hash(a), hash(b)) })
	for i, p := range scrambled {
		write(t, s, metastore.Resource{Path: p, Data: []byte(p), Timestamp: int64(i)})
	}
	want := slices.Clone(orderPaths)
	slices.Sort(want) // Go compares strings byte by byte
	if got := list(t, s, "/"); !slices.Equal(got, want) {
		t.Errorf("List(/) =\n%s\nwant (byte order)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func testListPrefix(t *testing.T, s metastore.Store) {
	for i, p := range []string{
		"/UUID", "/back\\slash.json", "/cube/a/b.json", "/cube/x.json", "/cube_desc/y.json", "/cubex",
		"/project/default.json", "/table/DEFAULT.T--learn.json", "/table/DEFAULT.T.json",
	} {
		write(t, s, metastore.Resource{Path: p, Data: []byte(p), Timestamp: int64(i)})
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"/", []string{"/UUID", "/back\\slash.json", "/cube/a/b.json", "/cube/x.json", "/cube_desc/y.json", "/cubex", "/project/default.json", "/table/DEFAULT.T--learn.json", "/table/DEFAULT.T.json"}},
		{"/cube", []string{"/cube/a/b.json", "/cube/x.json", "/cube_desc/y.json", "/cubex"}},
		{"/cube/", []string{"/cube/a/b.json", "/cube/x.json"}},
		{"/cube/a", []string{"/cube/a/b.json"}},
		{"/cube/x", []string{"/cube/x.json"}},
		{"/cube/x.json", []string{"/cube/x.json"}},
		{"/cube/x.json/", nil},
		{"/cube//", nil},
		{"/cube_", []string{"/cube_desc/y.json"}}, // "_" is no wildcard
		{"/cube%", nil},                           // nor is "%"
		{"/back\\", []string{"/back\\slash.json"}},
		{"/U", []string{"/UUID"}},
		{"/u", nil},
		{"/UUID", []string{"/UUID"}},
		{"/UUID/", nil},
		{"/missing", nil},
		{"/missing/", nil},
		{"/table/DEFAULT.T", []string{"/table/DEFAULT.T--learn.json", "/table/DEFAULT.T.json"}},
		{"/table/DEFAULT.T.", []string{"/table/DEFAULT.T.json"}},
	}
	for _, tt := range tests {
		if got := list(t, s, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func testListStopsOnError(t *testing.T, s metastore.Store) {
	var want []metastore.Resource
	for i := range 5 {
		r := metastore.Resource{Path: fmt.Sprintf("/stop/r%d", i), Timestamp: int64(i)}
		write(t, s, r)
		want = append(want, r)
	}
	sourceListStops(t, s, want)
}

func testListContextCanceled(t *testing.T, s metastore.Store) {
	const n = 20
	for i := range n {
		write(t, s, metastore.Resource{Path: fmt.Sprintf("/ctx/r%02d", i), Timestamp: int64(i)})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := s.List(ctx, "/", func(string) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context: error = %v, want one wrapping context.Canceled", err)
	}
	if calls != 0 {
		t.Errorf("List with a canceled context called back %d times, want 0", calls)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls = 0
	err = s.List(ctx, "/", func(string) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List canceled during the listing: error = %v, want one wrapping context.Canceled", err)
	}
	if calls >= n {
		t.Errorf("List canceled during the listing called back %d times, want fewer than %d", calls, n)
	}
}

// oddNames are resource keys Kylin really produces, and a few more that a
// store must keep byte for byte.
var oddNames = []string{
	"/dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict",
	"/table/数据.表.json",
	"/table/DEFAULT.TEST KYLIN FACT.json",
	"/table/DEFAULT.TEST_KYLIN_FACT--learn_kylin.json",
	"/table_exd/DEFAULT.TEST_COUNTRY--default.json",
	"/execute/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
	"/execute_output/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d-00",
	"/UUID",
	"/cube_desc/test_kylin_cube.json.bad",
	"/table_snapshot/TEST_CAL_DT.csv/8ff1339e-f804-47f3-b42c-1d4fa4ff0cf7.snapshot",
	"/acl/legacy-test-domain-object",
	"/user/ADMIN",
	"/odd/it's \"quoted\" & <tagged>.json",
	"/odd/back\\slash.json",
	"/odd/percent%20_under.json",
	"/odd/.hidden",
	"/odd/.hidden.metastore-tmp-1.json", // like a folder's temporary file, but not one
	"/odd/x.json.metastore-tmp-2",
	"/odd/émoji-😀.json",
	"/odd/" + strings.Repeat("long-", 40) + ".json",
}

func testOddNames(t *testing.T, s metastore.Store) {
	var want []metastore.Resource
	for i, p := range oddNames {
		r := metastore.Resource{Path: p, Data: []byte("content of " + p), Timestamp: tsKylin + int64(i)}
		write(t, s, r)
		want = append(want, r)
	}
	RunSource(t, s, want)
}

// invalidPaths are keys every store refuses with metastore.ErrInvalidPath.
var invalidPaths = []string{
	"",
	"cube/x.json",
	"../etc/passwd",
	"/",
	"/..",
	"/../etc/passwd",
	"/a/../b",
	"/a/./b",
	"/.",
	"/a//b",
	"//a",
	"/a/",
	"/a/b/",
	"/a\x00b",
}

// invalidPrefixes are prefixes every store refuses to list with
// metastore.ErrInvalidPath.
var invalidPrefixes = []string{"", "cube", "../x", "/../etc", "/a/../", "/a/./b", "/a\x00"}

func testInvalidPaths(t *testing.T, s metastore.Store) {
	ctx := t.Context()
	write(t, s, metastore.Resource{Path: "/a/b", Data: []byte("x"), Timestamp: 1})
	for _, p := range invalidPaths {
		if _, err := s.Read(ctx, p); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Read(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
		if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte("x"), Timestamp: 1}); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Write(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
		if err := s.Delete(ctx, p); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Delete(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
	}
	for _, p := range invalidPrefixes {
		calls := 0
		err := s.List(ctx, p, func(string) error { calls++; return nil })
		if !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("List(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
		if calls != 0 {
			t.Errorf("List(%q) called back %d times, want 0", p, calls)
		}
	}
	if got, want := list(t, s, "/"), []string{"/a/b"}; !slices.Equal(got, want) {
		t.Errorf("after refused writes and deletes List(/) = %q, want %q", got, want)
	}
}

func testEntries(t *testing.T, s metastore.Store) {
	el, ok := s.(metastore.EntryLister)
	if !ok {
		t.Skipf("%T is not a metastore.EntryLister", s)
	}
	want := []metastore.Entry{
		{Path: "/UUID", Size: 38, Timestamp: tsKylin},
		{Path: "/a/x.json", Size: 10, Timestamp: 1},
		{Path: "/a/y/z.dict", Size: 0, Timestamp: 0},
		{Path: "/b", Size: 1000, Timestamp: ts2100},
	}
	for i, e := range want {
		write(t, s, metastore.Resource{Path: e.Path, Data: PseudoRandom(int(e.Size), uint64(i)), Timestamp: e.Timestamp})
	}
	entries := func(prefix string) []metastore.Entry { return collect(t, "ListEntries", prefix, el.ListEntries) }
	for _, tt := range []struct {
		prefix string
		want   []metastore.Entry
	}{
		{"/", want},
		{"/a/", want[1:3]},
		{"/a/x", want[1:2]},
		{"/nothing", nil},
	} {
		got := entries(tt.prefix)
		var gotPaths []string
		for _, e := range got {
			gotPaths = append(gotPaths, e.Path)
		}
		if listed := list(t, s, tt.prefix); !slices.Equal(gotPaths, listed) {
			t.Errorf("ListEntries(%q) paths = %q, want List's %q", tt.prefix, gotPaths, listed)
		}
		if len(got) != len(tt.want) {
			t.Errorf("ListEntries(%q) gave %d entries, want %d", tt.prefix, len(got), len(tt.want))
			continue
		}
		for i := range got {
			g, w := got[i], tt.want[i]
			if g.Path != w.Path || g.Size != w.Size || g.Timestamp != w.Timestamp {
				t.Errorf("ListEntries(%q)[%d] = {%q size %d ts %d}, want {%q size %d ts %d}",
					tt.prefix, i, g.Path, g.Size, g.Timestamp, w.Path, w.Size, w.Timestamp)
			}
		}
	}

	entriesRewrite(t, s, el)
}

// entriesRewrite checks that ListEntries' change fingerprint tells a
// rewrite apart, that a callback's error stops it, and that it refuses
// invalid prefixes and a canceled context.
func entriesRewrite(t *testing.T, s metastore.Store, el metastore.EntryLister) {
	ctx := t.Context()
	entries := func(prefix string) []metastore.Entry { return collect(t, "ListEntries", prefix, el.ListEntries) }
	// Rewrite /a/x.json with other bytes of the same size and timestamp.
	before := entries("/a/x.json")
	write(t, s, metastore.Resource{Path: "/a/x.json", Data: []byte("0123456789"), Timestamp: 1})
	after := entries("/a/x.json")
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("ListEntries(/a/x.json) gave %d then %d entries, want 1", len(before), len(after))
	}
	if before[0].Change != "" && before[0].Change == after[0].Change {
		t.Errorf("Change after a rewrite with the same size and timestamp = %q, unchanged; want a different fingerprint", after[0].Change)
	}

	stop := errors.New("stop here")
	calls := 0
	if err := el.ListEntries(ctx, "/", func(metastore.Entry) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListEntries with a failing callback: (%v, %d calls), want (%v, 1 call)", err, calls, stop)
	}
	for _, p := range invalidPrefixes {
		if err := el.ListEntries(ctx, p, func(metastore.Entry) error { return nil }); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("ListEntries(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := el.ListEntries(canceled, "/", func(metastore.Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ListEntries with a canceled context: error = %v, want one wrapping context.Canceled", err)
	}
}

// txInitial is what the store holds before each transaction of
// testTransaction.
var txInitial = []metastore.Resource{
	{Path: "/gone", Data: []byte("deleted by the transaction"), Timestamp: 1},
	{Path: "/keep", Data: []byte("untouched"), Timestamp: 2},
	{Path: "/over", Data: []byte("old"), Timestamp: 3},
}

func testTransaction(t *testing.T, s metastore.Store) {
	ts, ok := s.(metastore.Transactional)
	if !ok {
		t.Skipf("%T is not metastore.Transactional", s)
	}
	ctx := t.Context()
	for _, r := range txInitial {
		write(t, s, r)
	}
	t.Run("Rollback", func(t *testing.T) {
		tx := txApplied(ctx, t, ts, s, "Rollback")
		if err := tx.Rollback(); err != nil {
			t.Errorf("Rollback: %v", err)
		}
		txUnchanged(t, s, "after Rollback")
	})
	t.Run("Commit", func(t *testing.T) {
		tx := txApplied(ctx, t, ts, s, "Commit")
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		want := []metastore.Resource{
			{Path: "/keep", Data: []byte("untouched"), Timestamp: 2},
			{Path: "/new", Data: []byte("new"), Timestamp: 4},
			{Path: "/over", Data: []byte("new version"), Timestamp: 5},
		}
		txHolds(t, s, "after Commit", want)
		if err := tx.Rollback(); err != nil {
			t.Errorf("Rollback after Commit: %v, want nil (it does nothing)", err)
		}
		txHolds(t, s, "after Rollback following Commit", want)
	})
	// A transaction keeps what it writes until it commits: a copy of the
	// caller's slice, unless the caller hands it over (Owned).
	t.Run("WriteCopiesData", func(t *testing.T) {
		tx, err := ts.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		defer tx.Rollback()
		data := []byte("original")
		for _, r := range []metastore.Resource{
			{Path: "/tx/copied", Data: data, Timestamp: 7},
			{Path: "/tx/handed", Data: []byte("handed over"), Timestamp: 8, Owned: true},
			{Path: "/tx/empty", Data: nil, Timestamp: 9, Owned: true},
		} {
			if err := tx.Write(ctx, r); err != nil {
				t.Fatalf("Write %s: %v", r.Path, err)
			}
		}
		copy(data, "MUTATED!")
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		for path, want := range map[string]string{"/tx/copied": "original", "/tx/handed": "handed over", "/tx/empty": ""} {
			if got := read(t, s, path); string(got.Data) != want {
				t.Errorf("after Commit, Read(%s) = %q, want %q", path, got.Data, want)
			}
		}
	})
}

// txApplied begins a transaction of ts (with ctx), makes txApply's changes
// in it and checks that the store s does not see them yet, before end
// (Commit or Rollback).
func txApplied(ctx context.Context, t *testing.T, ts metastore.Transactional, s metastore.Store, end string) metastore.Tx {
	t.Helper()
	tx, err := ts.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	txApply(t, tx)
	txUnchanged(t, s, "before "+end)
	return tx
}

// txApply makes the same changes in each transaction of testTransaction.
func txApply(t *testing.T, tx metastore.Tx) {
	t.Helper()
	ctx := t.Context()
	steps := []struct {
		name string
		err  error
	}{
		{"Write /new", tx.Write(ctx, metastore.Resource{Path: "/new", Data: []byte("new"), Timestamp: 4})},
		{"Write /over", tx.Write(ctx, metastore.Resource{Path: "/over", Data: []byte("new version"), Timestamp: 5})},
		{"Delete /gone", tx.Delete(ctx, "/gone")},
		{"Write /tmp", tx.Write(ctx, metastore.Resource{Path: "/tmp", Data: []byte("short-lived"), Timestamp: 6})},
		{"Delete /tmp", tx.Delete(ctx, "/tmp")},
		{"Delete /missing", tx.Delete(ctx, "/missing")},
	}
	for _, st := range steps {
		if st.err != nil {
			t.Fatalf("in a transaction, %s: %v", st.name, st.err)
		}
	}
	if err := tx.Write(ctx, metastore.Resource{Path: "/a/../b", Timestamp: 1}); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("in a transaction, Write(/a/../b) error = %v, want one wrapping ErrInvalidPath", err)
	}
}

// txUnchanged checks that the store still holds txInitial.
func txUnchanged(t *testing.T, s metastore.Store, when string) {
	t.Helper()
	txHolds(t, s, when, txInitial)
}

// txHolds checks that the store holds exactly want.
func txHolds(t *testing.T, s metastore.Store, when string, want []metastore.Resource) {
	t.Helper()
	var wantPaths []string
	for _, r := range want {
		wantPaths = append(wantPaths, r.Path)
		if got := read(t, s, r.Path); !bytes.Equal(got.Data, r.Data) || got.Timestamp != r.Timestamp {
			t.Errorf("%s: Read(%q) = (%q, %d), want (%q, %d)", when, r.Path, got.Data, got.Timestamp, r.Data, r.Timestamp)
		}
	}
	if got := list(t, s, "/"); !slices.Equal(got, wantPaths) {
		t.Errorf("%s: List(/) = %q, want %q", when, got, wantPaths)
	}
}

func testThousandResources(t *testing.T, s metastore.Store) {
	const n = 1000
	ctx := t.Context()
	want := make([]metastore.Resource, n)
	for i := range want {
		var p string
		switch i % 4 {
		case 0:
			p = fmt.Sprintf("/cube/cube_%04d.json", i)
		case 1:
			p = fmt.Sprintf("/dict/DEFAULT.T%d/COL%d/%08x.dict", i%7, i%3, i*2654435761)
		case 2:
			p = fmt.Sprintf("/execute_output/%08x-0000-4000-8000-%012x-%02d", i, i*31, i%3)
		default:
			p = fmt.Sprintf("/table/DEFAULT.TABLE_%d--project_%d.json", i, i%5)
		}
		want[i] = metastore.Resource{Path: p, Data: PseudoRandom(i%300, uint64(i)), Timestamp: tsKylin + int64(i)*1013}
	}
	var sink metastore.Sink = s
	var tx metastore.Tx
	if ts, ok := s.(metastore.Transactional); ok {
		var err error
		if tx, err = ts.Begin(ctx); err != nil {
			t.Fatalf("Begin: %v", err)
		}
		sink = tx
	}
	for _, r := range want {
		if err := sink.Write(ctx, r); err != nil {
			t.Fatalf("Write(%q): %v", r.Path, err)
		}
	}
	if tx != nil {
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	slices.SortFunc(want, func(a, b metastore.Resource) int { return strings.Compare(a.Path, b.Path) })
	got := list(t, s, "/")
	if len(got) != n {
		t.Fatalf("List(/) gave %d paths, want %d", len(got), n)
	}
	for i, r := range want {
		if got[i] != r.Path {
			t.Fatalf("List(/)[%d] = %q, want %q", i, got[i], r.Path)
		}
		back := read(t, s, r.Path)
		if !bytes.Equal(back.Data, r.Data) || back.Timestamp != r.Timestamp {
			t.Errorf("Read(%q) = (%s, %d), want (%s, %d)", r.Path, describeBytes(back.Data), back.Timestamp, describeBytes(r.Data), r.Timestamp)
		}
	}
}

// write writes r to s and fails the test on error.
func write(t *testing.T, s metastore.Sink, r metastore.Resource) {
	t.Helper()
	if err := s.Write(t.Context(), r); err != nil {
		t.Fatalf("Write(%q): %v", r.Path, err)
	}
}

// read reads path from s and fails the test on error.
func read(t *testing.T, s metastore.Source, path string) metastore.Resource {
	t.Helper()
	r, err := s.Read(t.Context(), path)
	if err != nil {
		t.Fatalf("Read(%q): %v", path, err)
	}
	return r
}

// list returns the paths s lists under prefix, failing the test on error.
func list(t *testing.T, s metastore.Source, prefix string) []string {
	t.Helper()
	return collect(t, "List", prefix, s.List)
}

// collect returns what a listing (List, ListEntries) gives under prefix,
// failing the test on error.
func collect[T any](t *testing.T, what, prefix string, listing func(context.Context, string, func(T) error) error) []T {
	t.Helper()
	var got []T
	if err := listing(t.Context(), prefix, func(x T) error { got = append(got, x); return nil }); err != nil {
		t.Fatalf("%s(%q): %v", what, prefix, err)
	}
	return got
}

// PseudoRandom returns n deterministic bytes that depend on seed: every byte
// value appears, NUL and invalid UTF-8 included, and they do not compress.
func PseudoRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range b {
		// xorshift64
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// describeBytes summarises b for a failure message without printing
// megabytes.
func describeBytes(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes starting %q", len(b), b[:32])
}
