package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// The database tests use the servers metastoretest.EachDatabase names.
// Each test works in tables of its own and drops them.

// testDatabase is a fresh metastore in one of the test database servers.
type testDatabase struct {
	name  string // "postgres", "mysql"
	url   string // the metadata URL, with the password
	store *jdbc.Store
}

// eachDatabase runs fn against a fresh Kylin 2.5-4.x metastore in every
// configured database server.
func eachDatabase(t *testing.T, fn func(t *testing.T, db testDatabase)) {
	metastoretest.EachDatabase(t, func(t *testing.T, tdb metastoretest.Database) {
		url := tdb.URL(metastoretest.NewID(t, "mt_rel_"))
		st, err := locate.OpenWith(context.Background(), url, locate.Options{CreateSchema: "4"})
		if err != nil {
			t.Fatalf("open %s: %v", locate.Mask(url), err)
		}
		store := st.(*jdbc.Store)
		t.Cleanup(func() {
			store.Close()
			dropTables(t, url, store.Tables())
		})
		fn(t, testDatabase{name: tdb.Name, url: url, store: store})
	})
}

// dropTables drops a test metastore's tables.
func dropTables(t *testing.T, url string, tables []string) {
	t.Helper()
	db, err := rawDB(url)
	if err != nil {
		t.Errorf("drop tables: %v", err)
		return
	}
	defer db.Close()
	db.DropTables(t, tables...)
}

// setDatabase makes the metastore hold exactly st, in one transaction.
func setDatabase(t *testing.T, s *jdbc.Store, st state) {
	t.Helper()
	ctx := context.Background()
	cur, err := readSource(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for k := range cur {
		if _, ok := st[k]; !ok {
			if err := tx.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, v := range st {
		if cur[k] != v {
			if err := tx.Write(ctx, metastore.Resource{Path: k, Data: []byte(v.data), Timestamp: v.ts}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// jsonOnly keeps the resources a Kylin 2.5-4.x database holds in its rows
// (dictionaries and table snapshots go to HDFS).
func jsonOnly(st state) state {
	out := state{}
	for k, v := range st {
		if !strings.HasPrefix(k, "/dict/") && !strings.HasPrefix(k, "/table_snapshot/") {
			out[k] = v
		}
	}
	return out
}

// TestCrashDuringDatabaseRestore kills restores of snapshot A over a
// database metastore in state B at 20 points. A restore into a database
// writes in one transaction: after every kill the database holds exactly
// B (killed before the commit) or exactly A (after), never a mix, and
// restoring again gives exactly A.
func TestCrashDuringDatabaseRestore(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db testDatabase) {
		c := newCLI(t)
		dir := t.TempDir()
		repo := filepath.Join(dir, "snap.git")
		a := jsonOnly(genMetastore(t, filepath.Join(dir, "gen"), crashResources(t), 5))
		b := churn(t, "", a, rand.New(rand.NewPCG(11, 11)), 0.5)
		setDatabase(t, db.store, a)
		c.mustRun("-q", "--metadata-url", db.url, "--repo", repo, "backup", "--tag", "A")
		restore := []string{"-q", "--metadata-url", db.url, "--repo", repo, "restore", "A", "--after-truncate"}
		read := func() state {
			st, err := readSource(context.Background(), db.store)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		setDatabase(t, db.store, b)
		c.mustRun(restore...)
		setDatabase(t, db.store, b)
		start := time.Now()
		c.mustRun(restore...)
		d := time.Since(start)
		if diff := diffStates(read(), a); diff != "" {
			t.Fatalf("restore did not give A:\n%s", diff)
		}
		t.Logf("%s: restoring %d resources over a 50%% churn takes %v", db.name, len(a), d)
		var kills, interrupted, before, after int
		for round := 0; round < longRuns(t); round++ {
			for _, delay := range killPoints(d, 20) {
				t0 := time.Now()
				setDatabase(t, db.store, b)
				t1 := time.Now()
				k := c.killAfter(delay, nil, restore...)
				t2 := time.Now()
				kills++
				if !k.Finished {
					interrupted++
				}
				got := read()
				switch {
				case diffStates(got, b) == "":
					before++
				case diffStates(got, a) == "":
					after++
				default:
					t.Fatalf("kill after %v: the database is neither as before nor as restored:\nagainst B:\n%s\nagainst A:\n%s", delay, diffStates(got, b), diffStates(got, a))
				}
				checkRepository(t, repo, false)
				if res := c.run(restore...); res.code != 0 {
					t.Fatalf("kill after %v: restoring again failed: %s", delay, res)
				}
				if diff := diffStates(read(), a); diff != "" {
					t.Fatalf("kill after %v: restoring again did not give A:\n%s", delay, diff)
				}
				if testing.Verbose() {
					t.Logf("kill after %v: reset %v, killed run %v, check and restore again %v", delay, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
				}
			}
		}
		t.Logf("%s: %d kills (%d interrupted a running restore): %d left the database as before, %d as restored, none mixed",
			db.name, kills, interrupted, before, after)
	})
}
