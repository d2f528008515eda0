package main

// Restores into databases a running Kylin 5 cluster uses: the tables are
// those Kylin's own DDL creates (metastore/jdbc/testdata/kylin-ddl), the
// epochs those its nodes hold.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// kylinDatabase is a metastore in a test database, in the tables a Kylin
// version creates.
type kylinDatabase struct {
	name  string // "postgres", "mysql"
	url   string // metadata URL, with the password
	id    string
	raw   metastoretest.SQL
	store *jdbc.Store
}

// eachKylinDatabase runs fn against a fresh metastore made with Kylin
// version's DDL in every configured database server.
func eachKylinDatabase(t *testing.T, version string, fn func(t *testing.T, db kylinDatabase)) {
	metastoretest.EachDatabase(t, func(t *testing.T, tdb metastoretest.Database) {
		id := metastoretest.NewID(t, "mt_live_")
		db := kylinDatabase{name: tdb.Name, url: tdb.URL(id), id: id}
		db.raw = openRaw(t, db.url)
		file := map[string]string{"postgres": "postgresql", "mysql": "mysql"}[tdb.Name]
		ddl, err := os.ReadFile(filepath.Join("..", "..", "metastore", "jdbc", "testdata", "kylin-ddl", version+"-"+file+".sql"))
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		t.Cleanup(func() { db.raw.DropTables(t, tables...) })
		for _, para := range strings.Split(string(ddl), "\n\n") {
			if strings.HasPrefix(para, "--") || strings.TrimSpace(para) == "" {
				continue
			}
			st := strings.TrimSuffix(strings.TrimSpace(strings.ReplaceAll(para, "{{ID}}", id)), ";")
			if f := strings.Fields(st); len(f) > 5 && strings.EqualFold(f[0], "create") && strings.EqualFold(f[1], "table") {
				tables = append(tables, strings.Trim(strings.SplitN(f[5], "(", 2)[0], "`\""))
			}
			if _, err := db.raw.Exec(st); err != nil {
				t.Fatalf("Kylin %s DDL: %v\n%s", version, err, st)
			}
		}
		st, err := locate.OpenWith(context.Background(), db.url, locate.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", locate.Mask(db.url), err)
		}
		db.store = st.(*jdbc.Store)
		t.Cleanup(func() { db.store.Close() })
		fn(t, db)
	})
}

// openRaw connects to the database of a metadata URL, closed when the test
// ends.
func openRaw(t *testing.T, url string) metastoretest.SQL {
	t.Helper()
	db, err := rawDB(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawDB connects to the database of a metadata URL.
func rawDB(url string) (metastoretest.SQL, error) {
	_, ju, user, pw, err := dbLogin(url)
	if err != nil {
		return metastoretest.SQL{}, err
	}
	return metastoretest.ConnectSQL(string(ju.Driver), ju.Hosts[0], user, pw, ju.Database)
}

// dbLogin reads a database metadata URL: the URL, its JDBC URL, and the
// user and password the tool logs in with.
func dbLogin(url string) (u locate.URL, ju jdbc.JDBCURL, user, pw string, err error) {
	if u, err = locate.ParseURL(url); err != nil {
		return
	}
	cfg, err := u.JDBCConfig()
	if err != nil {
		return
	}
	if user, pw, err = cfg.Login(); err != nil {
		return
	}
	ju, err = jdbc.ParseJDBCURL(cfg.URL)
	return
}

// epochRow is a row of Kylin 5.0 beta's epoch table.
type epochRow struct {
	target, owner, reason string
	id, renew             int64
}

func (db kylinDatabase) epochs(t *testing.T) map[string]epochRow {
	t.Helper()
	rows, err := db.raw.Query("SELECT epoch_target, COALESCE(current_epoch_owner, ''), COALESCE(maintenance_mode_reason, ''), epoch_id, last_epoch_renew_time FROM " + db.raw.Quote(db.id+"_epoch"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]epochRow{}
	for rows.Next() {
		var e epochRow
		if err := rows.Scan(&e.target, &e.owner, &e.reason, &e.id, &e.renew); err != nil {
			t.Fatal(err)
		}
		out[e.target] = e
	}
	return out
}

// holdEpochs makes running Kylin nodes hold the epochs of targets.
func (db kylinDatabase) holdEpochs(t *testing.T, targets ...string) {
	t.Helper()
	now := time.Now().UnixMilli()
	for i, target := range targets {
		_, err := db.raw.Exec(fmt.Sprintf("INSERT INTO %s (epoch_id, epoch_target, current_epoch_owner, last_epoch_renew_time, server_mode, maintenance_mode_reason, mvcc) VALUES (5, %s, %s, %s, 'all', NULL, 0)",
			db.raw.Quote(db.id+"_epoch"), db.raw.Placeholder(1), db.raw.Placeholder(2), db.raw.Placeholder(3)), target, fmt.Sprintf("10.0.0.%d:7070|%d", i+1, now-60000), now)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// seed writes resources as Kylin would have.
func (db kylinDatabase) seed(t *testing.T, rs map[string]string) {
	t.Helper()
	ctx := context.Background()
	for k, v := range rs {
		if err := db.store.Write(ctx, metastore.Resource{Path: k, Data: []byte(v), Timestamp: 1700000000000}); err != nil {
			t.Fatal(err)
		}
	}
	db.raw.Exec("DELETE FROM " + db.raw.Quote(db.id+"_audit_log")) // what Kylin logged before does not matter here
}

var kylin5Beta = map[string]string{
	"/_global/project/learn.json":           `{"uuid":"p-1","name":"learn"}`,
	"/learn/model_desc/m-1.json":            `{"uuid":"m-1","alias":"sales","fact_table":"DB.F"}`,
	"/learn/index_plan/m-1.json":            `{"uuid":"m-1"}`,
	"/learn/table/DB.F.json":                `{"name":"F","database":"DB"}`,
	"/_global/user/ADMIN":                   `{"username":"ADMIN"}`,
	"/_global/resource_group/relation.json": `{"resource_group_enabled":false}`,
}

// TestRestoreIntoLiveKylin5Beta restores into a Kylin 5.0.0-beta database
// whose epochs running nodes hold: the restore puts Kylin in maintenance
// mode as MaintainModeTool does, writes the audit log rows the nodes
// replay, and gives the maintenance mode back.
func TestRestoreIntoLiveKylin5Beta(t *testing.T) {
	eachKylinDatabase(t, "5.0.0-beta", func(t *testing.T, db kylinDatabase) {
		db.seed(t, kylin5Beta)
		db.holdEpochs(t, "_global", "learn")
		before := db.epochs(t)
		cli := newCLI(t, "METASTORE_METADATA_URL="+db.url, "METASTORE_REPO="+filepath.Join(t.TempDir(), "repo.git"))
		cli.mustRun("-q", "backup")
		if err := db.store.Write(context.Background(), metastore.Resource{Path: "/learn/model_desc/m-1.json", Data: []byte(`{"uuid":"m-1","alias":"changed"}`), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		db.raw.Exec("DELETE FROM " + db.raw.Quote(db.id+"_audit_log"))

		dry := cli.mustRun("restore", "latest", "--dry-run")
		if !strings.Contains(dry.stdout, "10.0.0.1:7070 (_global)") || !strings.Contains(dry.stdout, "would take Kylin's maintenance mode") {
			t.Errorf("dry run does not say which nodes hold the epochs and that maintenance mode would be taken:\n%s", dry)
		}
		r := cli.mustRun("--json", "restore", "latest")
		var doc struct {
			Live struct {
				AuditLog    string   `json:"audit_log"`
				Maintenance string   `json:"maintenance"`
				HeldBy      []string `json:"held_by"`
			} `json:"live_cluster"`
			Reminder string `json:"reminder"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r)
		}
		if doc.Live.Maintenance != "taken" || !strings.HasSuffix(doc.Live.AuditLog, "_audit_log") || len(doc.Live.HeldBy) != 2 || doc.Reminder != "" {
			t.Errorf("live_cluster = %+v, reminder %q; want maintenance taken, the audit log named, the two nodes, no reload reminder", doc.Live, doc.Reminder)
		}
		for target, e := range db.epochs(t) {
			if e.owner != "" || e.reason != "" || e.id != before[target].id+2 {
				t.Errorf("epoch %s after the restore: %+v; want released (no owner, no reason) with its id plus 2 (taken, given back)", target, e)
			}
		}
		var n int
		var key string
		db.raw.QueryRow("SELECT COUNT(*), MAX(meta_key) FROM "+db.raw.Quote(db.id+"_audit_log")).Scan(&n, &key)
		if n != 1 || key != "/learn/model_desc/m-1.json" {
			t.Errorf("audit log after the restore: %d rows (last %s), want the one resource restored", n, key)
		}

		// Kylin's own maintenance mode (an administrator's
		// MaintainModeTool -on): refused, exit 4; with --force the restore
		// runs inside it and leaves it on.
		db.raw.Exec("UPDATE " + db.raw.Quote(db.id+"_epoch") + " SET current_epoch_owner = '10.0.0.7:0000|9223372036854775807', maintenance_mode_reason = 'upgrade'")
		if r := cli.run("restore", "latest"); r.code != 4 || !strings.Contains(r.stderr, "maintenance mode") || !strings.Contains(r.stderr, "--force") {
			t.Errorf("restore in Kylin's maintenance mode: %s\nwant exit 4 naming the maintenance mode and --force", r)
		}
		cli.mustRun("restore", "latest", "--force")
		if e := db.epochs(t)["_global"]; e.owner != "10.0.0.7:0000|9223372036854775807" || e.reason != "upgrade" {
			t.Errorf("--force changed the administrator's maintenance mode: %+v", e)
		}
	})
}

// TestKilledRestoreGivesMaintenanceBack kills (SIGKILL) a restore that holds
// Kylin 5.0 beta's maintenance mode: its guardian process gives the epochs
// back, and the restore's transaction leaves nothing behind.
func TestKilledRestoreGivesMaintenanceBack(t *testing.T) {
	eachKylinDatabase(t, "5.0.0-beta", func(t *testing.T, db kylinDatabase) {
		db.seed(t, kylin5Beta)
		db.holdEpochs(t, "_global", "learn")
		cli := newCLI(t, "METASTORE_METADATA_URL="+db.url, "METASTORE_REPO="+filepath.Join(t.TempDir(), "repo.git"))
		cli.mustRun("-q", "backup")
		changed := `{"uuid":"m-1","alias":"changed"}`
		if err := db.store.Write(context.Background(), metastore.Resource{Path: "/learn/model_desc/m-1.json", Data: []byte(changed), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}

		// Hold the row the restore must write, so that it waits in its
		// transaction, holding the maintenance mode.
		lock, err := db.raw.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lock.Exec("SELECT META_TABLE_KEY FROM "+db.raw.Quote(db.id)+" WHERE META_TABLE_KEY = "+db.raw.Placeholder(1)+" FOR UPDATE", "/learn/model_desc/m-1.json"); err != nil {
			t.Fatal(err)
		}
		inMaintenance := func() bool { return strings.Contains(db.epochs(t)["_global"].owner, ":0000") }
		k := cli.killAfter(60*time.Second, inMaintenance, "restore", "latest")
		if k.Finished {
			t.Fatalf("the restore ended before it was killed: exit %d\n%s", k.Code, k.Stderr)
		}
		lock.Rollback()

		deadline := time.Now().Add(45 * time.Second)
		for time.Now().Before(deadline) && strings.Contains(db.epochs(t)["_global"].owner, ":0000") {
			time.Sleep(100 * time.Millisecond)
		}
		for target, e := range db.epochs(t) {
			if e.owner != "" || e.reason != "" {
				t.Errorf("epoch %s after the killed restore: %+v; want given back by the guardian", target, e)
			}
		}
		r, err := db.store.Read(context.Background(), "/learn/model_desc/m-1.json")
		if err != nil || string(r.Data) != changed {
			t.Errorf("after the killed restore the model is %q, %v; want it untouched (%s)", r.Data, err, changed)
		}
	})
}

// TestRestoreTypedLayout backs up a Kylin 5.0.2 database (per-type tables)
// and restores it into another one through the command line.
func TestRestoreTypedLayout(t *testing.T) {
	eachKylinDatabase(t, "5.0.2", func(t *testing.T, from kylinDatabase) {
		rs := map[string]string{
			"/PROJECT/learn.json":         `{"uuid":"00000000-0000-0000-0000-0000000000p1","name":"learn"}`,
			"/MODEL/m-1.json":             `{"uuid":"00000000-0000-0000-0000-0000000000m1","project":"learn","alias":"sales"}`,
			"/SYSTEM/UUID.json":           `{"uuid":"00000000-0000-0000-0000-000000000uid","name":"UUID","str":"x"}`,
			"/TABLE_INFO/learn.DB.F.json": `{"uuid":"00000000-0000-0000-0000-0000000000t1","project":"learn","name":"F","database":"DB"}`,
		}
		from.seed(t, rs)
		repo := filepath.Join(t.TempDir(), "repo.git")
		cli := newCLI(t, "METASTORE_METADATA_URL="+from.url, "METASTORE_REPO="+repo)
		cli.mustRun("-q", "backup")
		if r := cli.run("backup-project", "learn"); r.code != 4 || !strings.Contains(r.stderr, "per-type layout") {
			t.Errorf("backup-project on the per-type layout: %s\nwant exit 4 saying the layout supports the system scope only", r)
		}
		eachKylinDatabase(t, "5.0.2", func(t *testing.T, to kylinDatabase) {
			cli := newCLI(t, "METASTORE_METADATA_URL="+to.url, "METASTORE_REPO="+repo)
			cli.mustRun("restore", "latest", "--allow-foreign")
			got, err := readSource(context.Background(), to.store)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range rs {
				if got[k].data != v {
					t.Errorf("%s after the restore: %q, want %q", k, got[k].data, v)
				}
			}
			var alias string
			to.raw.QueryRow("SELECT alias FROM " + to.raw.Quote(to.id+"_model")).Scan(&alias)
			if alias != "sales" {
				t.Errorf("model table's alias column = %q, want sales", alias)
			}
		})
	})
}
