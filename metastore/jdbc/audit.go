package jdbc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
)

// Kylin 5 keeps its nodes in step through an audit log: every transaction
// (UnitOfWork) a node commits also inserts one row per resource it changed
// into IDENTIFIER_audit_log (Kylin 5.0 beta) or IDENTIFIER_audit_log_v2
// (5.0 GA and later), and every node replays the rows it has not seen, in id
// order, every few seconds (AuditLogReplayWorker.catchupToMaxId), grouped by
// unit_id, each group applied in one replayed transaction
// (AbstractAuditLogReplayWorker.replayLogs, MessageSynchronization.replay).
// A row with content is a create or update of meta_key to meta_mvcc; a row
// with NULL content a deletion (Event.fromLog). Job nodes apply an update
// only if their copy is at meta_mvcc - 1 and otherwise reload the resource
// from the metastore (handleConflictOnce), so meta_mvcc must be the row's
// new mvcc.
//
// A restore through this package writes those rows in its own transaction
// (so followers see the restore exactly when it commits, and never half of
// it), one unit per top-level folder (_global and each project, as Kylin's
// MetadataToolHelper.restore runs one UnitOfWork per folder) in Kylin 5.0
// beta, one unit for everything in the per-type layout (its restore is one
// UnitOfWork). Content is stored as in the metastore table (Kylin writes
// CompressionUtils.compress of it to both). operator and instance say who
// wrote them: Kylin's job nodes skip rows whose instance is their own
// host:port (AppInitializer's checker), which "metastore@HOST" never is.

// Table name suffixes of Kylin 5's companion tables.
const (
	auditSuffix   = "_audit_log"    // JdbcAuditLogStore.AUDIT_LOG_SUFFIX, 5.0 beta
	auditSuffixV2 = "_audit_log_v2" // JdbcAuditLogStore.AUDIT_LOG_SUFFIX, 5.0 GA and later
	epochSuffix   = "_epoch"        // EpochStore.EPOCH_SUFFIX, 5.0 beta and 5.0.0
)

// auditTable is the audit log table of the metastore.
type auditTable struct {
	name, q string
	v2      bool              // IDENTIFIER_audit_log_v2's columns
	cols    map[string]string // lower-cased -> quoted
}

// The audit log's columns (JdbcAuditLogStore.AUDIT_LOG_TABLE_*).
var (
	auditCols   = []string{"meta_key", "meta_content", "meta_ts", "meta_mvcc", "unit_id", "operator", "instance"}
	auditColsV2 = []string{"meta_key", "meta_content", "meta_ts", "meta_mvcc", "unit_id", "model_uuid", "operator", "instance", "project", "diff_flag"}
)

// findCompanions finds the audit log and epoch tables of the layout
// detected, if the database has them (Kylin creates them when it starts).
func (s *Store) findCompanions(found map[string]*foundTable) {
	name, cols := s.id+auditSuffix, auditCols
	if s.schema == SchemaTyped {
		name, cols = s.id+auditSuffixV2, auditColsV2
	}
	if f := pick(found, name); f != nil && hasCols(f, cols...) {
		a := &auditTable{name: f.name, q: s.d.quote(f.name), v2: s.schema == SchemaTyped, cols: map[string]string{}}
		for lc, c := range f.cols {
			a.cols[lc] = s.d.quote(c)
		}
		s.audit = a
	}
	if s.schema == Schema5 {
		if f := pick(found, s.id+epochSuffix); f != nil && hasCols(f, epochCols...) {
			e := &epochTable{name: f.name, q: s.d.quote(f.name), cols: map[string]string{}}
			for lc, c := range f.cols {
				e.cols[lc] = s.d.quote(c)
			}
			s.epoch = e
		}
	}
}

func hasCols(f *foundTable, cols ...string) bool {
	for _, c := range cols {
		if _, ok := f.cols[c]; !ok {
			return false
		}
	}
	return true
}

// AuditLog returns the name of the audit log table a transaction writes
// rows into, and false when the database has none (Kylin 2.5-4.x, or a
// Kylin 5 database no Kylin has started on: then running Kylin nodes would
// not see a restore until they restart).
func (s *Store) AuditLog() (string, bool) {
	if s.audit == nil {
		return "", false
	}
	return s.audit.name, true
}

// auditIdentity is what the audit log's operator and instance columns say
// of this process: "metastore:USER" and "metastore@HOST" (varchar(200) and
// varchar(100) in Kylin's DDL).
func auditIdentity() (operator, instance string) {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	operator, instance = "metastore:"+name, "metastore@"+host
	if len(operator) > 200 {
		operator = operator[:200]
	}
	if len(instance) > 100 {
		instance = instance[:100]
	}
	return operator, instance
}

// newUnitID returns a unit id as Kylin makes them: a random UUID
// (UnitOfWork's RandomUtil.randomUUIDStr, within unit_id varchar(50)).
func newUnitID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// auditWriter writes the audit log rows of one transaction.
type auditWriter struct {
	s                  *Store
	tx                 *sql.Tx
	operator, instance string
	unit               string // the per-type layout's one unit
	// pending rows of the per-type layout, sent by flush.
	rows []auditRow
	size int
	// Kylin 5.0 beta: the keys written and deleted, in order, with their
	// final state (true: written), sent by commit.
	order []string
	state map[string]bool
	n     int // rows written so far
}

// auditRow is one row of IDENTIFIER_audit_log_v2.
type auditRow struct {
	key            string
	content        []byte // nil for a deletion
	ts             int64
	mvcc           sql.NullInt64
	model, project sql.NullString
}

// newAuditWriter returns the audit writer of a transaction, or nil when the
// database has no audit log; a nil *auditWriter does nothing.
func (s *Store) newAuditWriter(tx *sql.Tx) *auditWriter {
	if s.audit == nil {
		return nil
	}
	op, inst := auditIdentity()
	return &auditWriter{s: s, tx: tx, operator: op, instance: inst, unit: newUnitID(), state: map[string]bool{}}
}

// note records, for Kylin 5.0 beta, that key was written (or deleted).
func (w *auditWriter) note(key string, written bool) {
	if w == nil {
		return
	}
	if _, ok := w.state[key]; !ok {
		w.order = append(w.order, key)
	}
	w.state[key] = written
}

// auditProject is the audit log's project of a per-type resource: its JSON
// project (RawResource.getProject), "_global" for types without one.
func auditProject(t *typedType, f jsonFields) sql.NullString {
	for _, c := range t.cols {
		if c.column == "project" {
			return sql.NullString{String: f.str(c.field), Valid: true}
		}
	}
	return sql.NullString{String: "_global", Valid: true}
}

// auditModel is the audit log's model_uuid of a per-type resource
// (RawResource.getModelUuid), NULL for types without a model.
func auditModel(t *typedType, f jsonFields) sql.NullString {
	for _, field := range t.modelFields {
		if v := f.str(field); v != "" {
			return sql.NullString{String: v, Valid: true}
		}
	}
	return sql.NullString{}
}

// typedWrite queues the row of a write of the per-type layout.
func (w *auditWriter) typedWrite(t *typedType, mk string, stored []byte, ts, mvcc int64, project, model sql.NullString) {
	if w == nil {
		return
	}
	w.rows = append(w.rows, auditRow{key: t.name + "/" + mk, content: stored, ts: ts, mvcc: sql.NullInt64{Int64: mvcc, Valid: true}, project: project, model: model})
	w.size += len(stored) + len(mk)
}

// typedDelete queues the row of a deletion of the per-type layout
// (JdbcAuditLogStore.save: NULL content and mvcc, the time of the
// deletion).
func (w *auditWriter) typedDelete(t *typedType, mk, project string) {
	if w == nil {
		return
	}
	p := sql.NullString{String: project, Valid: project != ""}
	if !p.Valid {
		p = sql.NullString{String: "_global", Valid: true}
	}
	w.rows = append(w.rows, auditRow{key: t.name + "/" + mk, ts: time.Now().UnixMilli(), project: p})
}

// flush sends the queued rows of the per-type layout.
func (w *auditWriter) flush(ctx context.Context) error {
	if w == nil || len(w.rows) == 0 {
		return nil
	}
	a, d := w.s.audit, w.s.d
	for len(w.rows) > 0 {
		n, bytes := 0, 0
		for n < len(w.rows) && n < maxBatchRows && (n == 0 || bytes+len(w.rows[n].content) < maxBatchBytes/2) {
			bytes += len(w.rows[n].content)
			n++
		}
		batch := w.rows[:n]
		w.rows = w.rows[n:]
		ar := &args{d: d}
		var vals []string
		for _, r := range batch {
			var content any
			if r.content != nil {
				content = r.content
			}
			var mvcc any
			if r.mvcc.Valid {
				mvcc = r.mvcc.Int64
			}
			var model, project any
			if r.model.Valid {
				model = r.model.String
			}
			if r.project.Valid {
				project = r.project.String
			}
			vals = append(vals, "("+strings.Join([]string{ar.add(r.key), ar.add(content), ar.add(r.ts), ar.add(mvcc), ar.add(w.unit),
				ar.add(model), ar.add(w.operator), ar.add(w.instance), ar.add(project), "FALSE"}, ", ")+")")
		}
		var cols []string
		for _, c := range auditColsV2 {
			cols = append(cols, a.cols[c])
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", a.q, strings.Join(cols, ", "), strings.Join(vals, ", "))
		if _, err := w.tx.ExecContext(ctx, q, ar.vals...); err != nil {
			return w.s.translate(ctx, fmt.Sprintf("write %d rows of audit log %s", len(batch), a.name), err)
		}
		w.n += len(batch)
	}
	w.size = 0
	return nil
}

// commit writes, for Kylin 5.0 beta, one audit log row per key the
// transaction wrote or deleted, after its writes were sent and before it
// commits: a written key's row copies the metastore row (content as
// stored, ts, the new mvcc) with INSERT ... SELECT, so nothing is sent
// twice.
func (w *auditWriter) commit(ctx context.Context) error {
	if w == nil || len(w.order) == 0 {
		return nil
	}
	s, d, a := w.s, w.s.d, w.s.audit
	units := map[string]string{}
	unitOf := func(key string) string {
		top, _, _ := strings.Cut(strings.TrimPrefix(key, "/"), "/")
		u, ok := units[top]
		if !ok {
			u = newUnitID()
			units[top] = u
		}
		return u
	}
	// Group by unit, in the order units first appear, so that each unit's
	// rows are consecutive.
	var unitOrder []string
	byUnit := map[string][]string{}
	for _, k := range w.order {
		u := unitOf(k)
		if _, ok := byUnit[u]; !ok {
			unitOrder = append(unitOrder, u)
		}
		byUnit[u] = append(byUnit[u], k)
	}
	cols := make([]string, len(auditCols))
	for i, c := range auditCols {
		cols[i] = a.cols[c]
	}
	colList := strings.Join(cols, ", ")
	m := s.main
	for _, u := range unitOrder {
		keys := byUnit[u]
		for start := 0; start < len(keys); start += maxBatchRows {
			batch := keys[start:min(start+maxBatchRows, len(keys))]
			var written, deleted []string
			for _, k := range batch {
				if w.state[k] {
					written = append(written, k)
				} else {
					deleted = append(deleted, k)
				}
			}
			if len(written) > 0 && d.driver == Postgres {
				ar := &args{d: d}
				unit, op, inst := ar.add(u), ar.add(w.operator), ar.add(w.instance)
				q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s, %s, %s, %s, %s, %s, %s FROM %s WHERE %s ORDER BY %s",
					a.q, colList, m.key, m.content, m.ts, m.mvcc, unit, op, inst, m.q, d.keysCond(ar, m.key, written), d.bin(m.key))
				res, err := w.tx.ExecContext(ctx, q, ar.vals...)
				if err != nil {
					return s.translate(ctx, fmt.Sprintf("write %d rows of audit log %s", len(written), a.name), err)
				}
				if n, err := res.RowsAffected(); err == nil {
					w.n += int(n)
				}
			} else if len(written) > 0 {
				// InnoDB gives an INSERT ... SELECT more auto-increment
				// ids than rows (innodb_autoinc_lock_mode 1 and 2), and
				// Kylin's replay waits for the missing ids
				// (AuditLogReplayWorker.waitLogCommit): send the rows with
				// VALUES, whose ids are consecutive.
				if err := w.copyRows(ctx, u, written); err != nil {
					return err
				}
			}
			if len(deleted) > 0 {
				ar := &args{d: d}
				now := time.Now().UnixMilli()
				var vals []string
				for _, k := range deleted {
					vals = append(vals, "("+strings.Join([]string{ar.add(k), "NULL", ar.add(now), "NULL", ar.add(u), ar.add(w.operator), ar.add(w.instance)}, ", ")+")")
				}
				q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", a.q, colList, strings.Join(vals, ", "))
				if _, err := w.tx.ExecContext(ctx, q, ar.vals...); err != nil {
					return s.translate(ctx, fmt.Sprintf("write %d rows of audit log %s", len(deleted), a.name), err)
				}
				w.n += len(deleted)
			}
		}
	}
	w.order, w.state = nil, map[string]bool{}
	return nil
}

// copyRows writes the audit log rows of keys, written in the transaction,
// reading their metastore rows and inserting them with VALUES, in batches
// that fit max_allowed_packet.
func (w *auditWriter) copyRows(ctx context.Context, unit string, keys []string) error {
	s, d, a, m := w.s, w.s.d, w.s.audit, w.s.main
	ar := &args{d: d}
	q := fmt.Sprintf("SELECT %s, %s, %s, %s FROM %s WHERE %s ORDER BY %s", m.key, m.content, m.ts, m.mvcc, m.q, d.keysCond(ar, m.key, keys), d.bin(m.key))
	rows, err := w.tx.QueryContext(ctx, q, ar.vals...)
	if err != nil {
		return s.translate(ctx, "read "+m.name, err)
	}
	type rec struct {
		key     string
		content []byte
		ts      int64
		mvcc    sql.NullInt64
	}
	var recs []rec
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.key, &r.content, &r.ts, &r.mvcc); err != nil {
			rows.Close()
			return s.translate(ctx, "read "+m.name, err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.translate(ctx, "read "+m.name, err)
	}
	cols := make([]string, len(auditCols))
	for i, c := range auditCols {
		cols[i] = a.cols[c]
	}
	limit := int(s.maxPacket/2) - 64<<10
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+2*len(recs[n].content)+512 < limit) {
			size += 2*len(recs[n].content) + 512
			n++
		}
		ar := &args{d: d}
		var vals []string
		for _, r := range recs[:n] {
			var mvcc any
			if r.mvcc.Valid {
				mvcc = r.mvcc.Int64
			}
			vals = append(vals, "("+strings.Join([]string{ar.add(r.key), ar.add(r.content), ar.add(r.ts), ar.add(mvcc), ar.add(unit), ar.add(w.operator), ar.add(w.instance)}, ", ")+")")
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", a.q, strings.Join(cols, ", "), strings.Join(vals, ", "))
		if _, err := w.tx.ExecContext(ctx, q, ar.vals...); err != nil {
			return s.translate(ctx, fmt.Sprintf("write %d rows of audit log %s", n, a.name), err)
		}
		w.n += n
		recs = recs[n:]
	}
	return nil
}
