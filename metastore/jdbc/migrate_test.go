package jdbc_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

func newRepo(t *testing.T) *snapshot.Repository {
	t.Helper()
	repo, err := snapshot.Create(filepath.Join(t.TempDir(), "snapshots.git"), snapshot.Options{User: "admin", Host: "kylin1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

func openStore(t *testing.T, cfg jdbc.Config) *jdbc.Store {
	t.Helper()
	s, err := jdbc.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contents reads every resource of src in byte order of path.
func contents(t *testing.T, src metastore.Source) []metastore.Resource {
	t.Helper()
	var out []metastore.Resource
	if err := src.List(t.Context(), "/", func(p string) error {
		r, err := src.Read(t.Context(), p)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("reading %s: %v", metastore.Describe(src), err)
	}
	return out
}

func sameResources(t *testing.T, what string, got, want []metastore.Resource) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s holds %d resources, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) || got[i].Timestamp != want[i].Timestamp {
			t.Fatalf("%s: resource %d = %s (%d bytes, ts %d), want %s (%d bytes, ts %d)", what, i,
				got[i].Path, len(got[i].Data), got[i].Timestamp, want[i].Path, len(want[i].Data), want[i].Timestamp)
		}
	}
}

// TestMigrationChain moves a metastore the way Kyligence documents moving
// one between databases, through snapshots: folder -> snapshot ->
// PostgreSQL -> snapshot -> MySQL -> snapshot -> folder, and checks that the
// resources arrive byte for byte with their timestamps, in both layouts.
func TestMigrationChain(t *testing.T) {
	for _, c := range []struct {
		schema jdbc.Schema
		sample string
	}{
		{jdbc.Schema4, metastoretest.Sample("kylin-3.1.3")},
		{jdbc.Schema5, metastoretest.Sample("kylin5")},
	} {
		t.Run("kylin"+string(c.schema), func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(c.sample); err != nil {
				t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
			}
			pg := openStore(t, jdbc.NewTestConfig(t, jdbc.Postgres, c.schema))
			myCfg := jdbc.NewTestConfig(t, jdbc.MySQL, c.schema)
			my := openStore(t, myCfg)
			ctx := t.Context()
			src, err := folder.Create(filepath.Join(t.TempDir(), "meta"))
			if err != nil {
				t.Fatal(err)
			}
			want := metastoretest.Seed(t, src, c.sample)
			repo := newRepo(t)
			system := scope.SystemScope()

			hop := func(from metastore.Store, to metastore.Store) {
				t.Helper()
				b, err := repo.Backup(ctx, from, snapshot.BackupOptions{Scope: system})
				if err != nil {
					t.Fatalf("backup of %s: %v", metastore.Describe(from), err)
				}
				if len(b.Warnings) > 0 || b.Resources != len(want) {
					t.Fatalf("backup of %s: %d resources, warnings %v; want %d resources", metastore.Describe(from), b.Resources, b.Warnings, len(want))
				}
				r, err := repo.Restore(ctx, repo.OpenInfo(b.Snapshot), to, snapshot.RestoreOptions{Scope: system})
				if err != nil {
					t.Fatalf("restore into %s: %v", metastore.Describe(to), err)
				}
				if !r.Applied || r.Counts[snapshot.Added] != len(want) {
					t.Fatalf("restore into %s: applied %v, counts %v", metastore.Describe(to), r.Applied, r.Counts)
				}
				sameResources(t, metastore.Describe(to), contents(t, to), want)
			}
			dst, err := folder.Create(filepath.Join(t.TempDir(), "restored"))
			if err != nil {
				t.Fatal(err)
			}
			hop(src, pg)
			hop(pg, my)
			hop(my, dst)

			// The three backups are one snapshot content: restoring any of
			// them again changes nothing.
			again, err := repo.Backup(ctx, my, snapshot.BackupOptions{Scope: system, SkipIfUnchanged: true})
			if err != nil {
				t.Fatal(err)
			}
			if again.Recorded {
				t.Error("a backup of the MySQL copy differs from the previous snapshot")
			}
			if src := again.Snapshot.Source; strings.Contains(src, myCfg.Password) || !strings.Contains(src, "password=***") {
				t.Errorf("the snapshot records its source as %q: want the password masked", src)
			}
		})
	}
}

// TestBackupReportsPushedContent checks that a backup of a Kylin 2.5-4.x
// metastore reports, and does not store, resources whose content Kylin
// keeps in HDFS, and stores them once their HDFS copy is given.
func TestBackupReportsPushedContent(t *testing.T) {
	cfg := jdbc.NewTestConfig(t, jdbc.Postgres, jdbc.Schema4)
	s := openStore(t, cfg)
	ctx := t.Context()
	for _, r := range []metastore.Resource{
		{Path: "/UUID", Data: []byte("\x00\x0aabcdefghij"), Timestamp: 1},
		{Path: "/cube/c.json", Data: []byte(`{"name":"c"}`), Timestamp: 2},
		// An empty row under a key that is not JSON: Kylin's marker of a
		// dictionary it pushed to HDFS.
		{Path: "/dict/DEFAULT.T/C/d.dict", Data: nil, Timestamp: 3},
	} {
		if err := s.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	repo := newRepo(t)
	b, err := repo.Backup(ctx, s, snapshot.BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Resources != 2 || len(b.Warnings) != 1 || b.Warnings[0].Path != "/dict/DEFAULT.T/C/d.dict" || !strings.Contains(b.Warnings[0].Message, "resources-jdbc/dict/DEFAULT.T/C/d.dict") {
		t.Errorf("backup: %d resources, warnings %+v; want 2 and a warning naming the HDFS path of /dict/DEFAULT.T/C/d.dict", b.Resources, b.Warnings)
	}

	root := t.TempDir()
	f := filepath.Join(root, cfg.Identifier, "resources-jdbc", "dict", "DEFAULT.T", "C", "d.dict")
	metastoretest.WriteFile(t, f, []byte("dictionary bytes"), 0o644)
	cfg.CreateSchema, cfg.HDFSRoot = "", root
	withRoot := openStore(t, cfg)
	time.Sleep(time.Millisecond)
	b, err = repo.Backup(ctx, withRoot, snapshot.BackupOptions{Scope: scope.SystemScope()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Resources != 3 || len(b.Warnings) != 0 {
		t.Errorf("backup with HDFSRoot: %d resources, warnings %+v; want 3 and none", b.Resources, b.Warnings)
	}
	snap := repo.OpenInfo(b.Snapshot)
	if r, err := snap.Read(ctx, "/dict/DEFAULT.T/C/d.dict"); err != nil || string(r.Data) != "dictionary bytes" || r.Timestamp != 3 {
		t.Errorf("the snapshot holds (%q, %d, %v), want the HDFS copy's bytes at timestamp 3", r.Data, r.Timestamp, err)
	}
}

// TestScopedRestore checks that a project restore into a database writes the
// project's resources and touches nothing outside the project.
func TestScopedRestore(t *testing.T) {
	sample := metastoretest.Sample("kylin-3.1.3")
	if _, err := os.Stat(sample); err != nil {
		t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
	}
	for _, d := range []jdbc.Driver{jdbc.Postgres, jdbc.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openStore(t, jdbc.NewTestConfig(t, d, jdbc.Schema4))
			want := metastoretest.Seed(t, s, sample)
			repo := newRepo(t)
			b, err := repo.Backup(ctx, s, snapshot.BackupOptions{Scope: scope.ProjectScope("default")})
			if err != nil {
				t.Fatal(err)
			}
			// Damage one resource of the project, change one outside it.
			const inside, outside = "/cube/ssb.json", "/outside/kept.json"
			if err := s.Write(ctx, metastore.Resource{Path: inside, Data: []byte("{}"), Timestamp: 5}); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(ctx, metastore.Resource{Path: outside, Data: []byte(`{"kept":true}`), Timestamp: 6}); err != nil {
				t.Fatal(err)
			}
			r, err := repo.Restore(ctx, repo.OpenInfo(b.Snapshot), s, snapshot.RestoreOptions{Scope: scope.ProjectScope("default"), AfterTruncate: true})
			if err != nil {
				t.Fatal(err)
			}
			if r.Counts[snapshot.Changed] != 1 || r.Counts[snapshot.Deleted] != 0 {
				t.Errorf("restore plan counts %v, want 1 changed and nothing deleted", r.Counts)
			}
			got := contents(t, s)
			var restored metastore.Resource
			for _, g := range got {
				if g.Path == inside {
					restored = g
				}
			}
			for _, w := range want {
				if w.Path == inside && (!bytes.Equal(restored.Data, w.Data) || restored.Timestamp != w.Timestamp) {
					t.Errorf("%s after the restore: %d bytes, ts %d; want %d bytes, ts %d", inside, len(restored.Data), restored.Timestamp, len(w.Data), w.Timestamp)
				}
			}
			if o, err := s.Read(ctx, outside); err != nil || string(o.Data) != `{"kept":true}` || o.Timestamp != 6 {
				t.Errorf("a resource outside the project after the restore: (%q, %d, %v), want it untouched", o.Data, o.Timestamp, err)
			}
			if len(got) != len(want)+1 {
				t.Errorf("after the restore the store holds %d resources, want %d", len(got), len(want)+1)
			}
		})
	}
}
