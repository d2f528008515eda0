package jdbc

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
)

// auditRow5 is a row of Kylin 5.0 beta's audit log.
type auditRow5 struct {
	id       int64
	key      string
	content  []byte
	ts       int64
	mvcc     sql.NullInt64
	unit     string
	operator string
	instance string
}

func auditRows5(t *testing.T, s *Store, raw *sql.DB) []auditRow5 {
	t.Helper()
	rows, err := raw.Query("SELECT id, meta_key, meta_content, meta_ts, meta_mvcc, unit_id, operator, instance FROM " + s.audit.q + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow5
	for rows.Next() {
		var r auditRow5
		if err := rows.Scan(&r.id, &r.key, &r.content, &r.ts, &r.mvcc, &r.unit, &r.operator, &r.instance); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestKylin5BetaAuditLog restores into the tables Kylin 5.0.0-beta creates
// and checks the audit log rows its nodes replay: one per resource
// changed, in the transaction, consecutive ids per unit, one unit per
// top-level folder, meta_mvcc the row's new mvcc, NULL content for a
// deletion; nothing for a rolled-back transaction.
func TestKylin5BetaAuditLog(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, raw := kylinMetastore(t, db, "5.0.0-beta")
		if s.Schema() != Schema5 {
			t.Fatalf("Schema() = %s", s.Schema())
		}
		if name, ok := s.AuditLog(); !ok || !strings.HasSuffix(name, "_audit_log") {
			t.Fatalf("AuditLog() = %q, %v", name, ok)
		}
		// Rows Kylin wrote before.
		insertRaw(t, s, "/p1/model_desc/m.json", javaCompress(t, []byte(`{"uuid":"m","alias":"a"}`)), 5, 3)
		insertRaw(t, s, "/p1/table/DB.GONE.json", javaCompress(t, []byte(`{"name":"GONE"}`)), 5, 0)

		// A rolled-back transaction writes nothing.
		tx, _ := s.Begin(ctx)
		tx.Write(ctx, metastore.Resource{Path: "/p1/x.json", Data: []byte(`{}`), Timestamp: 1})
		tx.Rollback()
		if rows := auditRows5(t, s, raw); len(rows) != 0 {
			t.Fatalf("a rolled-back transaction left %d audit rows", len(rows))
		}

		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		writes := []metastore.Resource{
			{Path: "/_global/project/p1.json", Data: []byte(`{"name":"p1"}`), Timestamp: 10},
			{Path: "/p1/model_desc/m.json", Data: []byte(`{"uuid":"m","alias":"b"}`), Timestamp: 11},
			{Path: "/p2/table/DB.T.json", Data: []byte(`{"name":"T"}`), Timestamp: 12},
			{Path: "/_global/user/ADMIN", Data: []byte(`{"username":"ADMIN"}`), Timestamp: 13},
		}
		for _, w := range writes {
			if err := tx.Write(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Delete(ctx, "/p1/table/DB.GONE.json"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		rows := auditRows5(t, s, raw)
		if len(rows) != 5 {
			t.Fatalf("audit log has %d rows, want 5", len(rows))
		}
		byKey := map[string]auditRow5{}
		units := map[string]string{} // top folder -> unit
		for i, r := range rows {
			byKey[r.key] = r
			top := strings.SplitN(strings.TrimPrefix(r.key, "/"), "/", 2)[0]
			if u, ok := units[top]; ok && u != r.unit {
				t.Errorf("%s is in unit %s, another %s resource in %s", r.key, r.unit, top, u)
			}
			units[top] = r.unit
			if i > 0 && r.id != rows[i-1].id+1 {
				t.Errorf("audit ids %d, %d are not consecutive", rows[i-1].id, r.id)
			}
			if i > 0 && r.unit != rows[i-1].unit {
				for _, prev := range rows[:i-1] {
					if prev.unit == r.unit {
						t.Errorf("unit %s's rows are not consecutive", r.unit)
					}
				}
			}
			if !strings.HasPrefix(r.instance, "metastore@") || !strings.HasPrefix(r.operator, "metastore:") {
				t.Errorf("row %s: instance %q, operator %q", r.key, r.instance, r.operator)
			}
		}
		if len(units) != 3 || units["_global"] == units["p1"] || units["p1"] == units["p2"] {
			t.Errorf("units = %v, want one per top-level folder (_global, p1, p2)", units)
		}
		for _, w := range writes {
			r, ok := byKey[w.Path]
			if !ok {
				t.Errorf("no audit row for %s", w.Path)
				continue
			}
			stored, mvcc := rawRow(t, s, w.Path)
			if !bytes.Equal(r.content, stored) || !bytes.Equal(inflate(t, r.content), w.Data) || r.ts != w.Timestamp || !r.mvcc.Valid || r.mvcc.Int64 != mvcc {
				t.Errorf("audit row of %s: ts %d, mvcc %v; want the row's content, ts %d and mvcc %d", w.Path, r.ts, r.mvcc, w.Timestamp, mvcc)
			}
		}
		if r := byKey["/p1/model_desc/m.json"]; r.mvcc.Int64 != 4 {
			t.Errorf("an update of a row at mvcc 3 has audit mvcc %v, want 4 (Kylin's replay checks mvcc - 1)", r.mvcc)
		}
		if r := byKey["/p1/table/DB.GONE.json"]; r.content != nil || r.mvcc.Valid {
			t.Errorf("the deletion's row has %d bytes of content, mvcc %v; want NULL, NULL", len(r.content), r.mvcc)
		}
	})
}

// holdEpochs inserts epoch rows as running Kylin 5.0 beta nodes hold them.
func holdEpochs(t *testing.T, s *Store, raw *sql.DB, targets ...string) {
	t.Helper()
	now := time.Now().UnixMilli()
	for i, target := range targets {
		a := &args{d: s.d}
		q := fmt.Sprintf("INSERT INTO %s (epoch_id, epoch_target, current_epoch_owner, last_epoch_renew_time, server_mode, maintenance_mode_reason, mvcc) VALUES (%s, %s, %s, %s, 'all', NULL, %s)",
			s.epoch.q, a.add(int64(7+i)), a.add(target), a.add(fmt.Sprintf("10.0.0.%d:7070|%d", i+1, now-3600000)), a.add(now), a.add(int64(2)))
		if _, err := raw.Exec(q, a.vals...); err != nil {
			t.Fatal(err)
		}
	}
}

func epochMap(t *testing.T, s *Store) map[string]Epoch {
	t.Helper()
	eps, ok, err := s.Epochs(context.Background())
	if err != nil || !ok {
		t.Fatalf("Epochs: %v, %v", ok, err)
	}
	out := map[string]Epoch{}
	for _, e := range eps {
		out[e.Target] = e
	}
	return out
}

// TestKylin5BetaMaintenance takes and gives back Kylin 5.0 beta's
// maintenance mode in the epoch table Kylin creates, as MaintainModeTool
// -on and -off do.
func TestKylin5BetaMaintenance(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, raw := kylinMetastore(t, db, "5.0.0-beta")
		if _, ok := s.EpochTable(); !ok {
			t.Fatal("no epoch table found")
		}
		for _, p := range []string{"p1", "p2"} {
			insertRaw(t, s, "/_global/project/"+p+".json", []byte(`{"name":"`+p+`"}`), 1, 0)
		}
		holdEpochs(t, s, raw, "_global", "p1")
		before := epochMap(t, s)
		if !before["_global"].Live(time.Now(), DefaultEpochExpiry) || before["_global"].InMaintenance() {
			t.Fatalf("the nodes' epoch %+v should be live and not in maintenance", before["_global"])
		}

		m, err := s.EnterMaintenance(ctx, MaintenanceOptions{Reason: "metastore restore"})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Taken || len(m.Live()) != 2 {
			t.Errorf("Taken %v, live epochs before %d; want true, 2", m.Taken, len(m.Live()))
		}
		during := epochMap(t, s)
		if len(during) != 3 {
			t.Errorf("epochs during maintenance: %d, want 3 (_global, p1, and p2 inserted as MaintainModeTool does)", len(during))
		}
		for target, e := range during {
			if !e.InMaintenance() || !strings.HasSuffix(e.Owner, "|9223372036854775807") || e.RenewTime != math.MaxInt64 || !strings.Contains(e.Reason, "token=") {
				t.Errorf("epoch %s during maintenance: %+v; want Kylin's maintenance identity, renew time Long.MAX_VALUE, our reason", target, e)
			}
			if b, ok := before[target]; ok && (e.ID != b.ID+1 || e.MVCC != b.MVCC+1) {
				t.Errorf("epoch %s: id %d, mvcc %d; want %d, %d", target, e.ID, e.MVCC, b.ID+1, b.MVCC+1)
			}
		}

		// A second restore is refused; with Force it runs inside.
		if _, err := s.EnterMaintenance(ctx, MaintenanceOptions{}); !errors.Is(err, ErrMaintenance) || !strings.Contains(err.Error(), "another metastore restore") {
			t.Errorf("EnterMaintenance while taken: %v, want ErrMaintenance naming another metastore restore", err)
		}
		joined, err := s.EnterMaintenance(ctx, MaintenanceOptions{Force: true})
		if err != nil || !joined.Joined || joined.Taken {
			t.Errorf("EnterMaintenance with Force: %+v, %v; want joined, not taken", joined, err)
		}
		if err := joined.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if e := epochMap(t, s)["_global"]; !e.InMaintenance() {
			t.Errorf("releasing a joined maintenance mode gave it back: %+v", e)
		}

		if err := m.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Release(ctx); err != nil {
			t.Errorf("second Release: %v", err)
		}
		for target, e := range epochMap(t, s) {
			if e.Owner != "" || e.Reason != "" || e.ID != during[target].ID+1 || time.Since(time.UnixMilli(e.RenewTime)) > time.Minute {
				t.Errorf("epoch %s after Release: %+v; want MaintainModeTool -off's: no owner, no reason, id %d, renewed now", target, e, during[target].ID+1)
			}
		}

		// Kylin's own maintenance mode is refused, also with a stale-looking
		// renew time; an expired lease of ours is taken over.
		execSQL(t, s, "UPDATE "+s.epoch.q+" SET current_epoch_owner = '10.0.0.9:0000|9223372036854775807', maintenance_mode_reason = 'metastore tool'")
		if _, err := s.EnterMaintenance(ctx, MaintenanceOptions{}); !errors.Is(err, ErrMaintenance) || !strings.Contains(err.Error(), "MaintainModeTool") {
			t.Errorf("EnterMaintenance in Kylin's maintenance mode: %v, want ErrMaintenance naming MaintainModeTool", err)
		}
		stale := fmt.Sprintf("metastore restore (metastore pid 1 on h, token=0123456789abcdef01234567): lease until %d (...)", time.Now().Add(-time.Minute).UnixMilli())
		a := &args{d: s.d}
		execSQL(t, s, "UPDATE "+s.epoch.q+" SET maintenance_mode_reason = "+a.add(stale), a.vals...)
		m2, err := s.EnterMaintenance(ctx, MaintenanceOptions{})
		if err != nil || !m2.StaleTakenOver || !m2.Taken {
			t.Fatalf("EnterMaintenance over an expired lease: %+v, %v; want it taken over", m2, err)
		}
		m2.Release(ctx)
		if e := epochMap(t, s)["_global"]; e.InMaintenance() {
			t.Errorf("after taking over a stale lease and releasing: %+v", e)
		}
	})
}

// TestKylin5BetaMaintenanceRenewal checks that the lease is renewed while
// the maintenance mode is held.
func TestKylin5BetaMaintenanceRenewal(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, _ := kylinMetastore(t, db, "5.0.0-beta")
		m, err := s.EnterMaintenance(ctx, MaintenanceOptions{Lease: 900 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release(ctx)
		_, first, _ := leaseOf(epochMap(t, s)["_global"].Reason)
		time.Sleep(1500 * time.Millisecond)
		_, later, ok := leaseOf(epochMap(t, s)["_global"].Reason)
		if !ok || later <= first || later < time.Now().UnixMilli() {
			t.Errorf("lease until %d, then %d at %d: not renewed", first, later, time.Now().UnixMilli())
		}
	})
}

// TestKylin5BetaGuardian checks that the guardian process gives the
// maintenance mode back when the process that took it ends without
// releasing it (its end of the pipe closes, as when it is killed).
func TestKylin5BetaGuardian(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, cfg, raw := kylinMetastore(t, db, "5.0.0-beta")
		holdEpochs(t, s, raw, "_global")
		guard := func() (*exec.Cmd, error) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGuardian$")
			cmd.Env = append(os.Environ(), "JDBC_HELPER_GUARDIAN=1")
			return cmd, nil
		}
		m, err := s.EnterMaintenance(ctx, MaintenanceOptions{Guardian: guard})
		if err != nil {
			t.Fatal(err)
		}
		if !epochMap(t, s)["_global"].InMaintenance() {
			t.Fatal("not in maintenance mode")
		}
		// The taking process "dies": it stops renewing, and its end of the
		// guardian's pipe closes without "released".
		close(m.stop)
		m.renewed.Wait()
		m.guardian.stdin.Close()
		select {
		case err := <-m.guardian.exit:
			if err != nil {
				t.Errorf("guardian: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("the guardian did not end")
		}
		if e := epochMap(t, s)["_global"]; e.InMaintenance() || e.Owner != "" {
			t.Errorf("after the guardian: %+v; want the epoch released", e)
		}
		_ = cfg
	})
}

// TestHelperGuardian is the guardian process of TestKylin5BetaGuardian.
func TestHelperGuardian(t *testing.T) {
	if os.Getenv("JDBC_HELPER_GUARDIAN") != "1" {
		t.Skip("only run as a helper process")
	}
	os.Exit(RunGuardian(os.Stdin, os.Stderr))
}
