package main

// Restores into databases a running Kylin 5 cluster uses: the tables are
// those Kylin's own DDL creates (metastore/jdbc/testdata/kylin-ddl), the
// epochs those its nodes hold.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
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
		// Project and model scopes work on it too (TestScopesTypedLayout).
		cli.mustRun("-q", "backup-project", "learn")
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

// typedLearn is a per-type metastore of two projects: learn, whose model
// sales has a segment with its layout and layout details, a computed
// column, a table with its table_exd; and other, with a model of its own.
var typedLearn = map[string]string{
	"/PROJECT/learn.json":                                             `{"uuid":"00000000-0000-0000-0000-0000000000p1","name":"learn"}`,
	"/PROJECT/other.json":                                             `{"uuid":"00000000-0000-0000-0000-0000000000p2","name":"other"}`,
	"/SYSTEM/UUID.json":                                               `{"uuid":"00000000-0000-0000-0000-000000000uid","name":"UUID","str":"x"}`,
	"/USER_INFO/ADMIN.json":                                           `{"uuid":"00000000-0000-0000-0000-0000000000u1","username":"ADMIN"}`,
	"/RESOURCE_GROUP/relation.json":                                   `{"uuid":"00000000-0000-0000-0000-0000000000g1","resource_group_enabled":false}`,
	"/MODEL/00000000-0000-0000-0000-0000000000m1.json":                `{"uuid":"00000000-0000-0000-0000-0000000000m1","project":"learn","alias":"sales","fact_table":"DB.F"}`,
	"/INDEX_PLAN/00000000-0000-0000-0000-0000000000m1.json":           `{"uuid":"00000000-0000-0000-0000-0000000000m1","project":"learn"}`,
	"/DATAFLOW/00000000-0000-0000-0000-0000000000m1.json":             `{"uuid":"00000000-0000-0000-0000-0000000000m1","project":"learn","segment_uuids":["00000000-0000-0000-0000-0000000000s1"]}`,
	"/SEGMENT/00000000-0000-0000-0000-0000000000s1.json":              `{"uuid":"00000000-0000-0000-0000-0000000000s1","project":"learn","model_uuid":"00000000-0000-0000-0000-0000000000m1","name":"s1"}`,
	"/LAYOUT/00000000-0000-0000-0000-0000000000s1.json":               `{"uuid":"00000000-0000-0000-0000-0000000000s1","project":"learn","dataflow":"00000000-0000-0000-0000-0000000000m1","layout_instances":[]}`,
	"/LAYOUT_DETAILS/00000000-0000-0000-0000-0000000000m1-1.json":     `{"uuid":"00000000-0000-0000-0000-0000000000d1","project":"learn","dataflow":"00000000-0000-0000-0000-0000000000m1","layout":1}`,
	"/TABLE_INFO/learn.DB.F.json":                                     `{"uuid":"00000000-0000-0000-0000-0000000000t1","project":"learn","name":"F","database":"DB"}`,
	"/TABLE_INFO/learn.DB.UNUSED.json":                                `{"uuid":"00000000-0000-0000-0000-0000000000t2","project":"learn","name":"UNUSED","database":"DB"}`,
	"/TABLE_EXD/learn.DB.F.json":                                      `{"uuid":"00000000-0000-0000-0000-0000000000x1","project":"learn","table_name":"F"}`,
	"/COMPUTE_COLUMN/00000000-0000-0000-0000-0000000000c1.json":       `{"uuid":"00000000-0000-0000-0000-0000000000c1","project":"learn","columnName":"CC1","tableIdentity":"DB.F","expression":"1+1","expressionMD5":"00000000000000000000000000000001"}`,
	"/CC_MODEL_RELATION/00000000-0000-0000-0000-0000000000r1.json":    `{"uuid":"00000000-0000-0000-0000-0000000000r1","project":"learn","cc_uuid":"00000000-0000-0000-0000-0000000000c1","model_uuid":"00000000-0000-0000-0000-0000000000m1"}`,
	"/TABLE_MODEL_RELATION/00000000-0000-0000-0000-0000000000r2.json": `{"uuid":"00000000-0000-0000-0000-0000000000r2","project":"learn","table_identity":"DB.F","model_uuid":"00000000-0000-0000-0000-0000000000m1"}`,
	"/MODEL/00000000-0000-0000-0000-0000000000m2.json":                `{"uuid":"00000000-0000-0000-0000-0000000000m2","project":"other","alias":"sales2","fact_table":"DB.F"}`,
	"/TABLE_INFO/other.DB.F.json":                                     `{"uuid":"00000000-0000-0000-0000-0000000000t3","project":"other","name":"F","database":"DB"}`,
}

// keysOf returns the keys of typedLearn that pass keep, sorted.
func keysOf(keep func(k string) bool) []string {
	var out []string
	for k := range typedLearn {
		if keep(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestScopesTypedLayout backs up a project and a model of a Kylin 5.0.2
// database (per-type tables, KYLIN-5945) and restores them into another
// one: exactly the scope's resources, byte for byte, with an audit log row
// for each one written; the model without --with-segments leaves its
// segments, layouts and layout details out; a model cannot move to another
// project on this layout (exit 4).
func TestScopesTypedLayout(t *testing.T) {
	ctx := context.Background()
	m1 := "00000000-0000-0000-0000-0000000000m1"
	learnKeys := keysOf(func(k string) bool {
		return strings.Contains(typedLearn[k], `"project":"learn"`) || k == "/PROJECT/learn.json" || k == "/USER_INFO/ADMIN.json"
	})
	segKeys := []string{"/LAYOUT/00000000-0000-0000-0000-0000000000s1.json", "/LAYOUT_DETAILS/" + m1 + "-1.json", "/SEGMENT/00000000-0000-0000-0000-0000000000s1.json"}
	modelKeys := keysOf(func(k string) bool {
		return slices.Contains(learnKeys, k) && k != "/TABLE_INFO/learn.DB.UNUSED.json" && k != "/USER_INFO/ADMIN.json" && !slices.Contains(segKeys, k)
	})
	eachKylinDatabase(t, "5.0.2", func(t *testing.T, from kylinDatabase) {
		from.seed(t, typedLearn)
		repo := filepath.Join(t.TempDir(), "repo.git")
		cli := newCLI(t, "METASTORE_METADATA_URL="+from.url, "METASTORE_REPO="+repo)
		ls := func(ref string) []string {
			var out []string
			for _, f := range strings.Fields(cli.mustRun("ls", ref).stdout) {
				if strings.HasPrefix(f, "/") {
					out = append(out, f)
				}
			}
			return out
		}
		cli.mustRun("-q", "backup-project", "learn", "--tag", "p")
		if got := ls("p"); !slices.Equal(got, learnKeys) {
			t.Errorf("backup-project learn holds\n%q\nwant\n%q", got, learnKeys)
		}
		cli.mustRun("-q", "backup-model", "sales", "--tag", "m")
		if got := ls("m"); !slices.Equal(got, modelKeys) {
			t.Errorf("backup-model sales holds\n%q\nwant\n%q", got, modelKeys)
		}
		cli.mustRun("-q", "backup-model", "learn.sales", "--with-segments", "--tag", "ms")
		withSegs := append(slices.Clone(modelKeys), segKeys...)
		sort.Strings(withSegs)
		if got := ls("ms"); !slices.Equal(got, withSegs) {
			t.Errorf("backup-model sales --with-segments holds\n%q\nwant\n%q", got, withSegs)
		}
		eachKylinDatabase(t, "5.0.2", func(t *testing.T, to kylinDatabase) {
			cli := newCLI(t, "METASTORE_METADATA_URL="+to.url, "METASTORE_REPO="+repo)
			audit := to.raw.Quote(to.id + "_audit_log_v2")
			auditRows := func() int {
				var n int
				if err := to.raw.QueryRow("SELECT COUNT(*) FROM " + audit).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			cli.mustRun("-q", "restore-project", "learn", "p")
			got, err := readSource(ctx, to.store)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.keys(), learnKeys) {
				t.Errorf("after restore-project learn the target holds\n%q\nwant\n%q", got.keys(), learnKeys)
			}
			for _, k := range learnKeys {
				if got[k].data != typedLearn[k] {
					t.Errorf("%s after restore-project: %q, want %q", k, got[k].data, typedLearn[k])
				}
			}
			if n := auditRows(); n != len(learnKeys) {
				t.Errorf("audit log has %d rows after restore-project, want %d (one per resource written)", n, len(learnKeys))
			}
			// The model changed and lost its segment in the target; the
			// model snapshot with segments puts both back.
			to.raw.Exec("UPDATE "+to.raw.Quote(to.id+"_model")+" SET content = "+to.raw.Placeholder(1), []byte(`{"uuid":"`+m1+`","project":"learn","alias":"sales"}`))
			to.raw.Exec("DELETE FROM " + to.raw.Quote(to.id+"_segment"))
			before := auditRows()
			cli.mustRun("-q", "restore-model", "learn", "ms", "--model", "sales")
			got, err = readSource(ctx, to.store)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range withSegs {
				if got[k].data != typedLearn[k] {
					t.Errorf("%s after restore-model: %q, want %q", k, got[k].data, typedLearn[k])
				}
			}
			if n := auditRows() - before; n != 2 {
				t.Errorf("restore-model wrote %d audit log rows, want 2 (the model, the segment)", n)
			}
			var key string
			to.raw.QueryRow("SELECT meta_key FROM " + audit + " WHERE meta_key LIKE 'SEGMENT/%' ORDER BY id DESC").Scan(&key)
			if key != "SEGMENT/00000000-0000-0000-0000-0000000000s1" {
				t.Errorf("the segment's audit log row has key %q", key)
			}
			if r := cli.run("restore-model", "other", "m", "--model", "sales"); r.code != 4 || !strings.Contains(r.stderr, "per-type layout") {
				t.Errorf("restore-model into another project on the per-type layout: %s\nwant exit 4", r)
			}
		})
	})
}

// TestBackupOfKylin5LeavesKnownRowsUnread backs up a Kylin 5.0.0-beta
// database, and a Kylin 5.0.2 one (per-type tables), again and again: the
// next backup inflates none of the rows the change cache knows, the one
// after a change only the changed row (of the same size); each snapshot's
// tree is the one a backup into a new repository records.
func TestBackupOfKylin5LeavesKnownRowsUnread(t *testing.T) {
	for _, c := range []struct {
		version string
		seed    map[string]string
		change  string
	}{
		{"5.0.0-beta", kylin5Beta, "/learn/table/DB.F.json"},
		{"5.0.2", typedLearn, "/TABLE_INFO/learn.DB.F.json"},
	} {
		t.Run(c.version, func(t *testing.T) { backupLeavesKnownRowsUnread(t, c.version, c.seed, c.change) })
	}
}

func backupLeavesKnownRowsUnread(t *testing.T, version string, seed map[string]string, changed string) {
	eachKylinDatabase(t, version, func(t *testing.T, db kylinDatabase) {
		db.seed(t, seed)
		dir := t.TempDir()
		backup := func(repo string) int {
			t.Helper()
			cli := newCLI(t, "METASTORE_METADATA_URL="+db.url, "METASTORE_REPO="+filepath.Join(dir, repo))
			var res struct {
				Resources int `json:"resources"`
				Unread    int `json:"unread_unchanged"`
			}
			if err := json.Unmarshal([]byte(cli.mustRun("--json", "backup").stdout), &res); err != nil {
				t.Fatal(err)
			}
			if res.Resources != len(seed) {
				t.Fatalf("%d resources backed up, want %d", res.Resources, len(seed))
			}
			return res.Unread
		}
		tree := func(repo string) string {
			t.Helper()
			out, err := exec.Command("git", "--git-dir", filepath.Join(dir, repo), "rev-parse", "refs/heads/system^{tree}").CombinedOutput()
			if err != nil {
				t.Fatalf("git rev-parse: %v: %s", err, out)
			}
			return strings.TrimSpace(string(out))
		}
		if n := backup("repo.git"); n != 0 {
			t.Errorf("first backup: %d resources unread", n)
		}
		if n := backup("repo.git"); n != len(seed) {
			t.Errorf("unchanged backup: %d resources unread, want %d", n, len(seed))
		}
		data := []byte(seed[changed])
		data[bytes.LastIndexByte(data, '"')-1] ^= 1 // same size, other content
		if err := db.store.Write(context.Background(), metastore.Resource{Path: changed, Data: data, Timestamp: 1700000000000}); err != nil {
			t.Fatal(err)
		}
		if n := backup("repo.git"); n != len(seed)-1 {
			t.Errorf("backup after a change: %d resources unread, want %d", n, len(seed)-1)
		}
		backup("new.git")
		if got, want := tree("repo.git"), tree("new.git"); got != want {
			t.Errorf("snapshot after a change: tree %s, a new repository's %s", got, want)
		}
	})
}
