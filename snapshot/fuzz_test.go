package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// The fuzz targets of this file feed a snapshot repository damaged bytes
// and a Kylin backup folder fuzzed names and contents. Their seeds
// (testdata/fuzz/<Name> and the f.Add calls) run with the normal tests;
// RELIABILITY.md says how long each was fuzzed.

// fixedClock is the clock of the fuzz tests' repositories.
func fixedClock() func() time.Time {
	t := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func repoOptions() snapshot.Options {
	return snapshot.Options{Now: fixedClock(), User: "admin", Host: "kylin1", Workers: 2}
}

// writeFolder writes resources into dir as a folder metastore: one file per
// resource, its mtime the timestamp.
func writeFolder(t testing.TB, dir string, files map[string]string, ts int64) {
	t.Helper()
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		metastoretest.WriteFile(t, f, []byte(data), 0o644)
		mt := time.UnixMilli(ts)
		if err := os.Chtimes(f, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// dumpSource reads every resource of src as "path@timestamp" -> content.
func dumpSource(ctx context.Context, src metastore.Source) (map[string]string, error) {
	out := map[string]string{}
	err := src.List(ctx, "/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		out[fmt.Sprintf("%s@%d", p, r.Timestamp)] = string(r.Data)
		return nil
	})
	return out, err
}

// templateRepository builds a small repository with what a real one holds:
// two system snapshots (the second stored as deltas in a consolidated
// pack), a project snapshot, a tag, and the change cache and tree memo of a
// folder metastore. It returns the repository's path and the content of
// every snapshot by id.
func templateRepository(t testing.TB) (string, map[snapshot.ID]map[string]string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	meta := filepath.Join(dir, "meta")
	files := map[string]string{
		"/UUID":                           "\x00\x24d0c1fbd1-9a93-4e59-9d9d-7f2a5b8e1a11",
		"/project/learn.json":             `{"uuid":"p-1","name":"learn","realizations":[{"type":"CUBE","realization":"sales"}],"tables":["DEFAULT.FACT"],"models":["m1"]}`,
		"/cube/sales.json":                `{"uuid":"c-1","name":"sales","descriptor":"sales","segments":[]}`,
		"/cube_desc/sales.json":           `{"uuid":"d-1","name":"sales","model_name":"m1"}`,
		"/model_desc/m1.json":             `{"uuid":"m-1","name":"m1","fact_table":"DEFAULT.FACT"}`,
		"/table/DEFAULT.FACT--learn.json": `{"name":"FACT","columns":[{"name":"COL"}]}`,
		"/dict/DEFAULT.FACT/COL/d1.dict":  strings.Repeat("dictionary value line\n", 40),
		"/execute/j-1":                    `{"params":{"projectName":"learn","cubeName":"sales"},"log":"` + strings.Repeat("step done. ", 60) + `"}`,
	}
	writeFolder(t, meta, files, 1700000000123)
	src, err := folder.Open(meta)
	if err != nil {
		t.Fatal(err)
	}
	src = src.WithRacyWindow(0)
	path := filepath.Join(dir, "snapshots.git")
	r, err := snapshot.Create(path, repoOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Backup(ctx, src, snapshot.BackupOptions{Scope: scope.SystemScope()}); err != nil {
		t.Fatal(err)
	}
	writeFolder(t, meta, map[string]string{
		"/dict/DEFAULT.FACT/COL/d1.dict": strings.Repeat("dictionary value line\n", 40) + "one more value\n",
		"/execute/j-1":                   `{"params":{"projectName":"learn","cubeName":"sales"},"log":"` + strings.Repeat("step done. ", 61) + `"}`,
	}, 1700000009999)
	if _, err := r.Backup(ctx, src, snapshot.BackupOptions{Scope: scope.SystemScope(), Tags: []string{"release"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Backup(ctx, src, snapshot.BackupOptions{Scope: scope.ProjectScope("learn")}); err != nil {
		t.Fatal(err)
	}
	want := map[snapshot.ID]map[string]string{}
	all, err := r.Log(ctx, snapshot.LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range all {
		d, err := dumpSource(ctx, r.OpenInfo(in))
		if err != nil {
			t.Fatal(err)
		}
		want[in.ID] = d
	}
	if len(want) != 3 {
		t.Fatalf("template has %d snapshots, want 3", len(want))
	}
	return path, want
}

// repoFiles lists the files of a repository (relative, sorted), leaving out
// the lock file, which holds no data.
func repoFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && d.Name() != objects.LockFile {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// copyTree copies the regular files and folders of src into dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// documented reports whether err wraps one of the errors reading a damaged
// repository may give.
func documented(err error) bool {
	for _, want := range []error{
		snapshot.ErrCorrupt, objects.ErrCorrupt, objects.ErrNotFound, snapshot.ErrNotMetastoreRepository,
		snapshot.ErrNewerFormat, snapshot.ErrNotFound, snapshot.ErrNoRepository, fs.ErrNotExist,
	} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

// FuzzReadCorruptRepository damages a copy of a small valid repository (its
// packs, indexes, references, config and change cache) as the input says,
// then opens it, lists its snapshots, verifies them with --read-data, reads
// every resource and plans a restore. The promises:
//   - no panic, and every failure an error wrapping a documented sentinel;
//   - none of these reads modifies the repository;
//   - Verify is never fooled: when it finds no problem, every snapshot reads
//     exactly as it was recorded;
//   - a damaged change cache costs time, never correctness: a backup after
//     damage to the cache alone records exactly the metastore.
//
// The input is a list of 5-byte edits: which file (an index into the
// repository's sorted file list), an offset (2 bytes), an operation (flip
// bits, truncate, or set a byte) and a value.
func FuzzReadCorruptRepository(f *testing.F) {
	template, want := templateRepository(f)
	files := repoFiles(f, template)
	for i := range files {
		f.Add([]byte{byte(i), 0, 12, 0, 0x40})   // flip a bit early in the file
		f.Add([]byte{byte(i), 0, 40, 0, 0x01})   // and a little further
		f.Add([]byte{byte(i), 0, 3, 1, 0})       // truncate
		f.Add([]byte{byte(i), 0x10, 0, 0, 0x80}) // offset past most files: wraps around
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, edits []byte) {
		ctx := context.Background()
		dir := filepath.Join(t.TempDir(), "snapshots.git")
		copyTree(t, template, dir)
		cacheOnly, damaged := true, false
		for ; len(edits) >= 5; edits = edits[5:] {
			name := files[int(edits[0])%len(files)]
			p := filepath.Join(dir, filepath.FromSlash(name))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == 0 {
				continue
			}
			off := (int(edits[1])<<8 | int(edits[2])) % len(data)
			orig := string(data)
			switch edits[3] % 3 {
			case 0:
				if edits[4] == 0 {
					edits[4] = 0xff
				}
				data[off] ^= edits[4]
			case 1:
				data = data[:off]
			case 2:
				data[off] = edits[4]
			}
			if string(data) == orig {
				continue
			}
			damaged = true
			if !strings.HasPrefix(name, "metastore-cache/") {
				cacheOnly = false
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot.DirState(t, false, dir)
		check := func(what string, err error) bool {
			t.Helper()
			if err != nil && !documented(err) {
				t.Fatalf("%s: error %q wraps no documented error", what, err)
			}
			return err == nil
		}
		r, err := snapshot.Open(dir, repoOptions())
		if !check("Open", err) {
			return
		}
		defer r.Close()
		all, logErr := r.Log(ctx, snapshot.LogFilter{})
		check("Log", logErr)
		res, err := r.Verify(ctx, snapshot.VerifyOptions{ReadData: true})
		if !check("Verify", err) {
			t.Fatalf("Verify of every snapshot failed instead of reporting problems: %v", err)
		}
		for _, p := range res.Problems {
			if p.Message == "" || p.String() == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
		clean := len(res.Problems) == 0
		if clean && logErr != nil {
			t.Fatalf("Verify found no problem, but Log fails: %v", logErr)
		}
		seen := map[snapshot.ID]bool{}
		for _, in := range all {
			seen[in.ID] = true
			got, err := dumpSource(ctx, r.OpenInfo(in))
			if !check("reading snapshot "+in.ID.Short(), err) {
				if clean {
					t.Fatalf("Verify found no problem, but reading snapshot %s fails: %v", in.ID.Short(), err)
				}
				continue
			}
			if w, ok := want[in.ID]; clean && (!ok || fmt.Sprint(got) != fmt.Sprint(w)) {
				t.Fatalf("Verify found no problem, but snapshot %s reads differently from what was recorded", in.ID.Short())
			}
			if in.Scope.Kind == scope.System {
				_, err := r.Restore(ctx, r.OpenInfo(in), memory.New(), snapshot.RestoreOptions{Scope: scope.SystemScope(), DryRun: true})
				check("restore --dry-run of "+in.ID.Short(), err)
			}
		}
		if clean && len(seen) != len(want) {
			t.Fatalf("Verify found no problem, but Log lists %d snapshots of %d", len(seen), len(want))
		}
		if after := snapshot.DirState(t, false, dir); after != before {
			t.Fatalf("reading and verifying the repository modified it")
		}
		if damaged && cacheOnly {
			// The cache is no part of any snapshot: a backup must record
			// exactly the metastore, however damaged the cache is.
			meta := filepath.Join(filepath.Dir(template), "meta")
			src, err := folder.Open(meta)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Backup(ctx, src.WithRacyWindow(0), snapshot.BackupOptions{Scope: scope.SystemScope()})
			if err != nil {
				t.Fatalf("backup with a damaged change cache: %v", err)
			}
			got, err := dumpSource(ctx, r.OpenInfo(res.Snapshot))
			if err != nil {
				t.Fatal(err)
			}
			live, err := dumpSource(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(live) {
				t.Fatalf("backup with a damaged change cache recorded something else than the metastore:\n%v\nwant\n%v", got, live)
			}
		}
	})
}

// FuzzImportBackupFolder writes a Kylin backup folder with fuzzed file
// names, contents and symbolic links, imports it, and restores what was
// imported into a fresh folder. The promises: no panic; a folder with a
// symbolic link, or a file under the reserved /.metastore, or no file at all
// is refused with the error that says so; otherwise the snapshot holds
// exactly the folder's files, and restoring it gives them back; and nothing
// is ever written outside the repository and the restore target (a folder
// beside them, which the links point into, is watched).
//
// The names are the input's lines; a line "name -> target" makes a link.
// Names a file system cannot hold (with "..", NUL, or empty components) are
// not written: they cannot be in a backup folder.
func FuzzImportBackupFolder(f *testing.F) {
	f.Add("UUID\ncube/sales.json\ndict/DB.T/COL/x.dict", []byte("\x00\x24d0c1fbd1-9a93-4e59-9d9d-7f2a5b8e1a11{\"name\":\"sales\"}dictionary"))
	f.Add("cube/sales.json\ncube -> ../outside", []byte("{}"))
	f.Add("cube/x.json\nlink -> /etc/passwd", []byte("x"))
	f.Add("../../etc/passwd\n/abs/path\nok.json", []byte("data"))
	f.Add(".metastore/timestamps/x@1\ncube/a.json", []byte("ab"))
	f.Add("a\x00b\n./.\n", []byte("nul"))
	f.Add(".cube.json.metastore-tmp-123\nreal.json", []byte("tmp"))
	f.Add("", []byte{})
	f.Add("x@123/y\nx@123@/z\ndate(yyyy-mm-dd)\nü/資料", []byte("odd names"))
	f.Fuzz(func(t *testing.T, names string, content []byte) {
		ctx := context.Background()
		base := t.TempDir()
		outside := filepath.Join(base, "outside")
		if err := os.MkdirAll(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644); err != nil {
			t.Fatal(err)
		}
		folderDir := filepath.Join(base, "meta_2024_03_01_12_00_00")
		if err := os.Mkdir(folderDir, 0o755); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(names, "\n")
		written := map[string]string{} // key -> content
		links, reserved := 0, false
		for i, line := range lines {
			name, target, isLink := strings.Cut(line, " -> ")
			if !filepath.IsLocal(name) || strings.ContainsRune(name, 0) || strings.ContainsRune(target, 0) || len(name) > 200 {
				continue
			}
			p := filepath.Join(folderDir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				continue // a file is in the way
			}
			if isLink {
				if os.Symlink(target, p) == nil {
					links++
				}
				continue
			}
			data := content
			if len(lines) > 1 {
				n := len(content) / len(lines)
				data = content[i*n : (i+1)*n]
			}
			if os.WriteFile(p, data, 0o644) != nil {
				continue
			}
			key := "/" + filepath.ToSlash(filepath.Clean(name))
			written[key] = string(data)
		}
		// What a listing sees: files the temporary-file rule does not hide,
		// that nothing written later turned into a folder.
		visible := map[string]string{}
		for key, data := range written {
			if st, err := os.Lstat(filepath.Join(folderDir, filepath.FromSlash(key))); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if hidden(key) {
				continue
			}
			visible[key] = data
			if key == "/.metastore" || strings.HasPrefix(key, "/.metastore/") {
				reserved = true
			}
		}
		outsideBefore := snapshot.DirState(t, false, outside)

		r, err := snapshot.Create(filepath.Join(base, "snapshots.git"), repoOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		src, err := folder.Open(folderDir)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Import(ctx, src, snapshot.ImportOptions{Path: folderDir})
		switch {
		case err != nil && links > 0 && errors.Is(err, folder.ErrSymlink):
		case err != nil && reserved && errors.Is(err, snapshot.ErrReservedPath):
		case err != nil && len(visible) == 0 && errors.Is(err, snapshot.ErrEmptySource):
		case err != nil:
			t.Fatalf("import: unexpected error %v (links %d, reserved %v, %d files)", err, links, reserved, len(visible))
		case reserved:
			t.Fatalf("import recorded a folder with files under /.metastore")
		}
		if err == nil {
			snap := r.OpenInfo(res.Snapshot)
			got := map[string]string{}
			if err := snap.List(ctx, "/", func(p string) error {
				rr, err := snap.Read(ctx, p)
				got[p] = string(rr.Data)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(visible) {
				t.Fatalf("imported %v, want the folder's files %v", got, visible)
			}
			// Restore what was imported into a fresh folder beside the
			// watched one.
			target := filepath.Join(base, "restored")
			dst, err := folder.Create(target)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Restore(ctx, snap, dst, snapshot.RestoreOptions{Scope: scope.SystemScope()}); err != nil {
				t.Fatalf("restore of an imported folder: %v", err)
			}
			back, err := dumpSource(ctx, dst)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := dumpSource(ctx, snap)
			if fmt.Sprint(back) != fmt.Sprint(want) {
				t.Fatalf("restored %v, want %v", back, want)
			}
		}
		if got := snapshot.DirState(t, false, outside); got != outsideBefore {
			t.Fatalf("something was written outside the repository and the target:\n%s", got)
		}
		if entries, _ := os.ReadDir(base); len(entries) > 4 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("unexpected files beside the repository: %q", names)
		}
	})
}

// hidden reports whether a listing of a folder metastore skips key: a
// component is the name of a temporary file of a write (".NAME.metastore-tmp-X").
func hidden(key string) bool {
	for _, c := range strings.Split(key[1:], "/") {
		if strings.HasPrefix(c, ".") && strings.Contains(c, ".metastore-tmp-") {
			return true
		}
	}
	return false
}

// TestFuzzTemplateIsSound keeps the fuzz template honest: undamaged, it
// verifies clean and reads back as recorded.
func TestFuzzTemplateIsSound(t *testing.T) {
	dir, want := templateRepository(t)
	r, err := snapshot.Open(dir, repoOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Verify(context.Background(), snapshot.VerifyOptions{ReadData: true})
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("Verify: %v %v", err, res.Problems)
	}
	for id, w := range want {
		in, err := r.Resolve(context.Background(), id.String(), scope.SystemScope())
		if err != nil {
			t.Fatal(err)
		}
		got, err := dumpSource(context.Background(), r.OpenInfo(in))
		if err != nil || !bytes.Equal([]byte(fmt.Sprint(got)), []byte(fmt.Sprint(w))) {
			t.Fatalf("snapshot %s: %v", id.Short(), err)
		}
	}
	files := repoFiles(t, dir)
	var packs, caches int
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, ".pack"):
			packs++
		case strings.HasPrefix(f, "metastore-cache/"):
			caches++
		}
	}
	// A backup that adds almost nothing leaves its tiny pack beside the
	// others (they are merged by the next real write), so one or two packs.
	if packs < 1 || packs > 2 || caches != 2 {
		t.Errorf("template has %d packs and %d cache files (%q), want one or two packs, a change cache and a tree memo", packs, caches, files)
	}
}
