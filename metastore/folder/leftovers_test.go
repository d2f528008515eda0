package folder_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// putFiles writes files (path relative to root -> content) with os, as
// Kylin, or a killed writer, leaves them.
func putFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, data := range files {
		metastoretest.WriteFile(t, filepath.Join(root, filepath.FromSlash(rel)), []byte(data), 0o600)
	}
}

// exists reports whether rel is in root.
func exists(root, rel string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil
}

// noticed returns the notices of s as "path: message" lines.
func noticed(s metastore.Noticer) []string {
	var out []string
	for _, n := range s.Notices() {
		out = append(out, n.Path+": "+n.Message)
	}
	return out
}

// TestLeftovers plants what a killed Write leaves (a torn file named
// ".NAME.metastore-tmp-DIGITS", as a restore killed while writing a large
// resource leaves it) and checks that listings skip and report them, never
// removing them (a backup changes nothing), while writes and deletes remove
// those of the folders they touch, Tidy those the listings met, and none
// removes the temporary file of a write still running.
func TestLeftovers(t *testing.T) { bothPaths(t, testLeftovers) }

func testLeftovers(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	const (
		cubeTmp  = "cube/.a.json.metastore-tmp-2l8f0x5kq1m3z"
		jobTmp   = "execute/.j1.metastore-tmp-3k9" // an earlier version's shorter name
		tableTmp = "table/.T.json.metastore-tmp-0000000000005"
		userTmp  = "user/.ADMIN.metastore-tmp-1b2c3d4e5f6g7" // a write still running
		notOurs  = "cube/.a.json.metastore-tmp-NOT-OURS"
	)
	putFiles(t, root, map[string]string{
		"cube/a.json": "a", "execute/j1": "j", "table/T.json": "t", "user/ADMIN": "u",
		cubeTmp: "tor", jobTmp: "to", tableTmp: "t", userTmp: "being written", notOurs: "a resource",
	})
	running, err := os.Open(filepath.Join(root, userTmp))
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	if err := unix.Flock(int(running.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	temps := []string{cubeTmp, jobTmp, tableTmp, userTmp}

	// A backup's listing: the leftovers are skipped and reported, and stay.
	var listed []string
	if err := s.ListEntries(ctx, "/", func(e metastore.Entry) error { listed = append(listed, e.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/" + notOurs, "/cube/a.json", "/execute/j1", "/table/T.json", "/user/ADMIN"}; !slices.Equal(listed, want) {
		t.Errorf("ListEntries(/) = %q, want %q", listed, want)
	}
	got := noticed(s)
	if len(got) != len(temps) {
		t.Errorf("Notices after the listing = %q, want one per temporary file %q", got, temps)
	}
	for i, tmp := range slices.Sorted(slices.Values(temps)) {
		if i < len(got) && (!strings.HasPrefix(got[i], "/"+tmp+": ") || !strings.Contains(got[i], "skipped")) {
			t.Errorf("notice %d = %q, want one naming /%s as skipped", i, got[i], tmp)
		}
	}
	if again := noticed(s); len(again) != 0 {
		t.Errorf("Notices again = %q, want nothing (they were told)", again)
	}
	for _, tmp := range temps {
		if !exists(root, tmp) {
			t.Errorf("the listing removed %s", tmp)
		}
	}

	// A restore's writes and deletes tidy the folders they touch.
	mustWrite(t, s, "/cube/b.json", "b", 2)
	mustWrite(t, s, "/user/ADMIN", "u2", 2)
	if err := s.Delete(ctx, "/execute/j1"); err != nil {
		t.Fatal(err)
	}
	if exists(root, cubeTmp) || exists(root, jobTmp) {
		t.Errorf("after a write in cube and a delete in execute, their leftovers remain (cube %v, execute %v)", exists(root, cubeTmp), exists(root, jobTmp))
	}
	if exists(root, "execute") {
		t.Error("the folder execute, left with nothing but a leftover, was not removed")
	}
	if !exists(root, userTmp) || !exists(root, notOurs) || !exists(root, tableTmp) {
		t.Errorf("removed a running write's file (%v), a resource named like one (%v) or a leftover in a folder not touched (%v)",
			!exists(root, userTmp), !exists(root, notOurs), !exists(root, tableTmp))
	}
	// Tidy removes what the listings met, but not a running write's file.
	if _, err := listAll(s, "/"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tidy(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(root, tableTmp) || !exists(root, userTmp) {
		t.Errorf("after Tidy: table's leftover there %v (want removed), the running write's file there %v (want kept)", exists(root, tableTmp), exists(root, userTmp))
	}
	got = noticed(s)
	want := []string{
		"/" + cubeTmp + ": temporary file left by an interrupted write (a killed restore): removed",
		"/" + jobTmp + ": temporary file left by an interrupted write (a killed restore): removed",
		"/" + tableTmp + ": temporary file left by an interrupted write (a killed restore): removed",
		"/" + userTmp + ": temporary file left by an interrupted write (a killed restore): not a resource, skipped; a restore into this folder removes it",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Notices =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Once the writer is gone (killed: the kernel drops its lock), the next
	// restore removes its file too.
	running.Close()
	if _, err := listAll(s, "/user/"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tidy(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(root, userTmp) {
		t.Error("Tidy left the file of a write that ended without renaming it")
	}
	if got, _ := listAll(s, "/"); !slices.Equal(got, []string{"/" + notOurs, "/cube/a.json", "/cube/b.json", "/table/T.json", "/user/ADMIN"}) {
		t.Errorf("List(/) at the end = %q", got)
	}
}

// TestTempLikeKeys checks that only the exact names of Write's temporary
// files are reserved: keys that merely contain ".metastore-tmp-" (which a
// database metastore may hold, and which a backup records) are written,
// read, listed and deleted as any other.
func TestTempLikeKeys(t *testing.T) { bothPaths(t, testTempLikeKeys) }

func testTempLikeKeys(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, root := newStore(t)
	keys := []string{
		"/.metastore-tmp-1",                    // nothing before the marker
		"/odd/.a.metastore-tmp-",               // no digits
		"/odd/.a.metastore-tmp-1.json",         // not at the end
		"/odd/.a.metastore-tmp-1F",             // upper case
		"/odd/.a.metastore-tmp-12345678901234", // 14 digits
		"/odd/.a.metastore-tmp-zzzzzzzzzzzzz",  // beyond 64 bits
		"/odd/a.json.metastore-tmp-1",          // not hidden
		"/odd/.metastore-tmp-x/y.json",         // in a folder so named
		"/odd/x.metastore-tmp-/.b.metastore-tmp-c.json",
	}
	for i, k := range keys {
		mustWrite(t, s, k, k, int64(i))
	}
	for i, k := range keys {
		r, err := s.Read(ctx, k)
		if err != nil || string(r.Data) != k || r.Timestamp != int64(i) {
			t.Errorf("Read(%q) = (%q, %d, %v), want what was written", k, r.Data, r.Timestamp, err)
		}
	}
	want := slices.Sorted(slices.Values(keys))
	if got, err := listAll(s, "/"); err != nil || !slices.Equal(got, want) {
		t.Errorf("List(/) = (%q, %v), want %q", got, err, want)
	}
	if n := noticed(s); len(n) != 0 {
		t.Errorf("Notices = %q, want none", n)
	}
	// Exactly the names Write makes are refused, with a message that says
	// why.
	for _, k := range []string{"/odd/.a.metastore-tmp-1", "/odd/.a.json.metastore-tmp-0123456789abc", "/.UUID.metastore-tmp-3w5e11264sgsf"} {
		err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte("x")})
		if !errors.Is(err, metastore.ErrInvalidPath) || !strings.Contains(err.Error(), "temporary file") {
			t.Errorf("Write(%q) error = %v, want one wrapping ErrInvalidPath that says it is a temporary file's name", k, err)
		}
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("after deleting every key the root holds %v (%v)", entries, err)
	}
}

// TestClampedTimestamp writes timestamps beyond what most file systems
// store (ext4 keeps 1901-2446, XFS 1901-2486) and checks that a timestamp
// stored otherwise is reported, naming the resource and the timestamp
// stored.
func TestClampedTimestamp(t *testing.T) { bothPaths(t, testClampedTimestamp) }

func testClampedTimestamp(t *testing.T, newStore storeMaker) {
	ctx := t.Context()
	s, _ := newStore(t)
	tests := []struct {
		path string
		ts   int64
	}{
		{"/ts/year3000", 32503680000000},
		{"/ts/year1800", -5364662400000},
		{"/ts/far", 1 << 60},
		{"/ts/fine", 1457534216410},
	}
	clamped := map[string]int64{}
	for _, tt := range tests {
		mustWrite(t, s, tt.path, "x", tt.ts)
		r, err := s.Read(ctx, tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timestamp != tt.ts {
			clamped[tt.path] = r.Timestamp
		}
	}
	got := s.Notices()
	if len(got) != len(clamped) {
		t.Errorf("Notices = %v, want one for each of the %d timestamps stored otherwise (%v)", got, len(clamped), clamped)
	}
	for _, n := range got {
		stored, ok := clamped[n.Path]
		if !ok {
			t.Errorf("notice %q about a timestamp stored as given", n.Path+": "+n.Message)
			continue
		}
		if !strings.Contains(n.Message, "beyond") || !strings.Contains(n.Message, "stored as "+strconv.FormatInt(stored, 10)) {
			t.Errorf("notice %q: want it to say the timestamp is beyond the file system's range and stored as %d", n.Path+": "+n.Message, stored)
		}
	}
	if len(clamped) == 0 {
		t.Skip("this file system stores every timestamp tried: nothing clamped to report")
	}
}
