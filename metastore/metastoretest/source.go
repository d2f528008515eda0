package metastoretest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// Resources returns the resources a source under RunSource holds when the
// test stored them first (as Run does): Kylin's odd names, nested folders,
// keys that are prefixes of one another ("/table/DEFAULT.T.json" and
// "/table/DEFAULT.T--learn.json"), names and folders that look like a
// snapshot's timestamp records ("x@1"), empty and binary content, and
// timestamps from 0 to the year 2100, with milliseconds. No key is also the
// folder of another.
func Resources() []metastore.Resource {
	out := []metastore.Resource{
		{Path: "/UUID", Data: []byte("\x00\x243591078f-9401-481a-a233-e7755c1142d0"), Timestamp: tsKylin},
		{Path: "/a/x.json", Data: []byte(`{"name":"x"}`), Timestamp: 1},
		{Path: "/a/y/z.dict", Data: PseudoRandom(700, 1), Timestamp: 0},
		{Path: "/a.json", Data: []byte("{}"), Timestamp: 2},
		{Path: "/b", Data: PseudoRandom(3000, 2), Timestamp: ts2100},
		{Path: "/empty/resource", Data: []byte{}, Timestamp: 3},
		{Path: "/table/DEFAULT.T--learn.json", Data: []byte(`{"t":1}`), Timestamp: tsKylin + 7},
		{Path: "/table/DEFAULT.T.json", Data: []byte(`{"t":2}`), Timestamp: tsKylin + 8},
		{Path: "/odd/name@1457534216410", Data: []byte("a resource named like a timestamp record"), Timestamp: 9},
		{Path: "/odd/folder@12/x.json", Data: []byte("in a folder named like one"), Timestamp: 10},
	}
	for i, p := range oddNames {
		if p != "/UUID" {
			out = append(out, metastore.Resource{Path: p, Data: []byte("content of " + p), Timestamp: tsKylin + 100 + int64(i)})
		}
	}
	return out
}

// RunSource checks a read-only metastore.Source against the contracts of
// package metastore, as testing/fstest.TestFS checks a file system: src must
// hold exactly the resources want (in any order), list them in byte order
// under any prefix, read them byte for byte with their timestamps, report
// what it lacks with an error wrapping fs.ErrNotExist, agree with its
// optional abilities (Exister, EntryLister), refuse invalid keys, stop
// listing at a callback's error, and give up on a canceled context. It
// writes nothing.
func RunSource(t *testing.T, src metastore.Source, want []metastore.Resource) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b metastore.Resource) int { return strings.Compare(a.Path, b.Path) })
	tests := []struct {
		name string
		fn   func(*testing.T, metastore.Source, []metastore.Resource)
	}{
		{"ListPrefixes", sourceListPrefixes},
		{"Read", sourceRead},
		{"ReadMissing", sourceReadMissing},
		{"Exists", sourceExists},
		{"Entries", sourceEntries},
		{"ListStopsOnError", sourceListStops},
		{"Canceled", sourceCanceled},
		{"InvalidPaths", sourceInvalidPaths},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, src, want) })
	}
}

// prefixes returns prefixes to list src with: the root, every folder of
// every key with and without its slash, every key, every key but its last
// byte, and prefixes of nothing.
func prefixes(want []metastore.Resource) []string {
	out := []string{"/", "/zzz", "/missing/"}
	for _, r := range want {
		out = append(out, r.Path, r.Path[:len(r.Path)-1], r.Path+"zzz")
		for i := 1; i < len(r.Path); i++ {
			if r.Path[i] == '/' {
				out = append(out, r.Path[:i], r.Path[:i+1])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// under returns the keys of want that start with prefix, in order.
func under(want []metastore.Resource, prefix string) []string {
	var out []string
	for _, r := range want {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r.Path)
		}
	}
	return out
}

func sourceListPrefixes(t *testing.T, src metastore.Source, want []metastore.Resource) {
	for _, p := range prefixes(want) {
		if metastore.CheckPrefix(p) != nil {
			continue
		}
		if got, w := list(t, src, p), under(want, p); !slices.Equal(got, w) {
			t.Errorf("List(%q) =\n%q\nwant\n%q", p, got, w)
		}
	}
}

func sourceRead(t *testing.T, src metastore.Source, want []metastore.Resource) {
	for _, r := range want {
		got := read(t, src, r.Path)
		if got.Path != r.Path || !slices.Equal(got.Data, r.Data) || got.Timestamp != r.Timestamp {
			t.Errorf("Read(%q) = (%q, %s, %d), want (%q, %s, %d)", r.Path, got.Path, describeBytes(got.Data), got.Timestamp,
				r.Path, describeBytes(r.Data), r.Timestamp)
		}
	}
}

// missing returns keys src lacks: beside, below and above its resources.
func missing(want []metastore.Resource) []string {
	have := map[string]bool{}
	for _, r := range want {
		have[r.Path] = true
	}
	var out []string
	for _, r := range want {
		out = append(out, r.Path+".missing", r.Path+"/below", strings.ToUpper(r.Path)+"X")
		if i := strings.LastIndexByte(r.Path, '/'); i > 0 && !have[r.Path[:i]] {
			out = append(out, r.Path[:i]) // a folder, not a resource
		}
	}
	return slices.DeleteFunc(out, func(p string) bool { return have[p] || metastore.CheckPath(p) != nil })
}

func sourceReadMissing(t *testing.T, src metastore.Source, want []metastore.Resource) {
	for _, p := range missing(want) {
		if _, err := src.Read(t.Context(), p); !errors.Is(err, metastore.ErrNotExist) {
			t.Errorf("Read(%q) error = %v, want one wrapping fs.ErrNotExist", p, err)
		}
	}
}

func sourceExists(t *testing.T, src metastore.Source, want []metastore.Resource) {
	ex, ok := src.(metastore.Exister)
	if !ok {
		t.Skipf("%T has no Exists", src)
	}
	check := func(p string, want bool) {
		if got, err := ex.Exists(t.Context(), p); got != want || err != nil {
			t.Errorf("Exists(%q) = %v, %v; want %v, as Read says", p, got, err, want)
		}
	}
	for _, r := range want {
		check(r.Path, true)
	}
	for _, p := range missing(want) {
		check(p, false)
	}
	if _, err := ex.Exists(t.Context(), "/a/../x"); !errors.Is(err, metastore.ErrInvalidPath) {
		t.Errorf("Exists of an invalid key: %v, want an error wrapping ErrInvalidPath", err)
	}
}

// sourceEntries checks metastore.ListEntries (the source's EntryLister, or
// the fallback) against List and the resources.
func sourceEntries(t *testing.T, src metastore.Source, want []metastore.Resource) {
	byPath := map[string]metastore.Resource{}
	for _, r := range want {
		byPath[r.Path] = r
	}
	for _, p := range prefixes(want) {
		if metastore.CheckPrefix(p) != nil {
			continue
		}
		var paths []string
		err := metastore.ListEntries(t.Context(), src, p, func(e metastore.Entry) error {
			paths = append(paths, e.Path)
			if r := byPath[e.Path]; e.Size != int64(len(r.Data)) || e.Timestamp != r.Timestamp {
				t.Errorf("ListEntries(%q): %q has size %d, timestamp %d; want %d, %d", p, e.Path, e.Size, e.Timestamp, len(r.Data), r.Timestamp)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ListEntries(%q): %v", p, err)
		}
		if w := under(want, p); !slices.Equal(paths, w) {
			t.Errorf("ListEntries(%q) paths = %q, want %q", p, paths, w)
		}
	}
}

func sourceListStops(t *testing.T, src metastore.Source, want []metastore.Resource) {
	if len(want) < 3 {
		t.Skip("fewer than 3 resources")
	}
	stop := errors.New("stop here")
	var got []string
	err := src.List(t.Context(), "/", func(p string) error {
		got = append(got, p)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(got, under(want, "/")[:2]) {
		t.Errorf("List stopped by its callback: %v after %q, want %v after the first two", err, got, stop)
	}
}

func sourceCanceled(t *testing.T, src metastore.Source, want []metastore.Resource) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	if err := src.List(ctx, "/", func(string) error { calls++; return nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("List with a canceled context: %v after %d calls, want context.Canceled and none", err, calls)
	}
	err := metastore.ListEntries(ctx, src, "/", func(metastore.Entry) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("ListEntries with a canceled context: %v after %d calls, want context.Canceled and none", err, calls)
	}
	if len(want) > 0 {
		if _, err := src.Read(ctx, want[0].Path); !errors.Is(err, context.Canceled) {
			t.Errorf("Read with a canceled context: %v, want an error wrapping context.Canceled", err)
		}
	}
}

func sourceInvalidPaths(t *testing.T, src metastore.Source, _ []metastore.Resource) {
	for _, p := range invalidPaths {
		if _, err := src.Read(t.Context(), p); !errors.Is(err, metastore.ErrInvalidPath) {
			t.Errorf("Read(%q) error = %v, want one wrapping ErrInvalidPath", p, err)
		}
	}
	for _, p := range invalidPrefixes {
		calls := 0
		if err := src.List(t.Context(), p, func(string) error { calls++; return nil }); !errors.Is(err, metastore.ErrInvalidPath) || calls != 0 {
			t.Errorf("List(%q): %v after %d calls, want an error wrapping ErrInvalidPath and none", p, err, calls)
		}
	}
}
