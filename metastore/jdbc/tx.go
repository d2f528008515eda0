package jdbc

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
)

// Limits of one batch of writes or deletes: rows per statement, and bytes
// of content (PostgreSQL; for MySQL half of max_allowed_packet, less some
// room for the statement itself, at most this).
const (
	maxBatchRows  = 500
	maxBatchBytes = 8 << 20
)

// errTxDone is returned by a transaction used after Commit or Rollback.
var errTxDone = errors.New("jdbc: transaction already committed or rolled back")

// Tx is a transaction on one connection: its writes and deletes take effect
// together at Commit, or not at all. Writes are sent in multi-row batches
// (INSERT ... ON CONFLICT DO UPDATE in PostgreSQL, INSERT ... ON DUPLICATE
// KEY UPDATE in MySQL), so an error may surface at a later Write, Delete or
// at Commit; it names the resources concerned. After an error the
// transaction can only be rolled back. A Tx is safe for concurrent use, but
// its calls take turns.
type Tx struct {
	s  *Store
	tx *sql.Tx

	mu      sync.Mutex
	writes  []pending
	index   map[string]int // key -> writes index
	wbytes  int            // estimated size of the pending writes
	deletes []string
	dset    map[string]bool
	undo    []func() // puts HDFSRoot files back on rollback
	err     error
	done    bool
	enc     codec
	// inflight receives the result of the batch of writes being sent, if
	// any: one batch is sent while the next one fills.
	inflight chan error
	// audit writes Kylin 5's audit log rows at Commit (audit.go); nil
	// without an audit log.
	audit *auditWriter
}

// pending is a write not yet sent.
type pending struct {
	key  string
	data []byte
	ts   int64
	gone bool // deleted again before it was sent
}

// Begin starts a transaction. The context bounds the whole transaction: if
// it is canceled before Commit, the database rolls everything back.
func (s *Store) Begin(ctx context.Context) (metastore.Tx, error) {
	if s.schema == SchemaTyped {
		return s.beginTyped(ctx)
	}
	return s.begin(ctx)
}

func (s *Store) begin(ctx context.Context) (*Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.translate(ctx, "begin a transaction", err)
	}
	t := &Tx{s: s, tx: tx, index: map[string]int{}, dset: map[string]bool{}}
	if s.schema == Schema5 {
		t.audit = s.newAuditWriter(tx)
	}
	return t, nil
}

// batchBytes is how many bytes of content one statement may carry.
func (t *Tx) batchBytes() int {
	if t.s.d.driver != MySQL {
		return maxBatchBytes
	}
	n := int(t.s.maxPacket/2) - 64<<10
	return max(64<<10, min(n, maxBatchBytes))
}

// estimate is the number of bytes data takes in a statement: MySQL's
// interpolated statements escape some bytes with a backslash.
func (t *Tx) estimate(key string, data []byte) int {
	n := len(data) + 2*len(key) + 64
	if t.s.d.driver == MySQL {
		for _, c := range []byte{0, '\n', '\r', 0x1a, '\'', '"', '\\'} {
			n += bytes.Count(data, []byte{c})
		}
	}
	return n
}

// Write creates or replaces the resource r.Path in the transaction, in the
// table Kylin keeps it in. In the Kylin 5 layout the content is compressed
// as the row it replaces is (a new row as the table's rows are), and
// META_TABLE_MVCC becomes the row's current value plus one, or 0 for a new
// row. It returns an error wrapping metastore.ErrInvalidPath for an invalid
// key.
func (t *Tx) Write(ctx context.Context, r metastore.Resource) error {
	if err := metastore.CheckPath(r.Path); err != nil {
		return fmt.Errorf("jdbc: write: %w", err)
	}
	if err := t.s.checkKeyLen(r.Path); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	if len(t.deletes) > 0 {
		if err := t.flushDeletes(ctx); err != nil {
			return t.fail(err)
		}
	}
	data := make([]byte, len(r.Data))
	copy(data, r.Data)
	if t.s.schema == Schema4 && len(data) == 0 && !isJSONMetadata(r.Path) && t.s.cfg.HDFSRoot != "" {
		undo, err := t.s.putPushedEmpty(r.Path)
		if err != nil {
			return t.fail(fmt.Errorf("jdbc: write %s: %w", r.Path, err))
		}
		t.undo = append(t.undo, undo)
	}
	est := t.estimate(r.Path, data)
	if i, ok := t.index[r.Path]; ok {
		t.audit.note(r.Path, true)
		t.wbytes -= t.estimate(r.Path, t.writes[i].data)
		t.writes[i].data, t.writes[i].ts = data, r.Timestamp
		t.wbytes += est
		return nil
	}
	if len(t.index) > 0 && t.wbytes+est > t.batchBytes() {
		if err := t.flushWrites(ctx); err != nil {
			return t.fail(err)
		}
	}
	t.audit.note(r.Path, true)
	t.index[r.Path] = len(t.writes)
	t.writes = append(t.writes, pending{key: r.Path, data: data, ts: r.Timestamp})
	t.wbytes += est
	if len(t.index) >= maxBatchRows || t.wbytes >= t.batchBytes() {
		if err := t.flushWrites(ctx); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// checkKeyLen refuses a key wider than the key column of its table, which
// the database would refuse (or, in a lax MySQL mode, cut short).
func (s *Store) checkKeyLen(key string) error {
	tb := s.main
	if s.schema == Schema4 && inLog(key) {
		tb = s.log
	}
	if n := utf8.RuneCountInString(key); tb.keyLen > 0 && n > tb.keyLen {
		return fmt.Errorf("jdbc: write %s: %w: the key is %d characters long, and %s.META_TABLE_KEY holds at most %d", key, ErrKeyTooLong, n, tb.name, tb.keyLen)
	}
	return nil
}

// Delete deletes the resource at p in the transaction, from both tables of
// the Kylin 2.5-4.x layout. Deleting a missing resource is not an error.
func (t *Tx) Delete(ctx context.Context, p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return fmt.Errorf("jdbc: delete: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	if i, ok := t.index[p]; ok {
		t.wbytes -= t.estimate(p, t.writes[i].data)
		t.writes[i].gone, t.writes[i].data = true, nil
		delete(t.index, p)
	}
	t.audit.note(p, false)
	if !t.dset[p] {
		t.dset[p] = true
		t.deletes = append(t.deletes, p)
	}
	if len(t.deletes) >= maxBatchRows {
		if err := t.flushDeletes(ctx); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// Commit sends what is pending and commits. If anything fails, the
// transaction is rolled back and the database is as it was before Begin.
func (t *Tx) Commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		if err != errTxDone {
			t.rollback()
		}
		return err
	}
	err := t.flushWrites(ctx)
	if err == nil {
		err = t.wait()
	}
	if err == nil {
		err = t.flushDeletes(ctx)
	}
	if err == nil {
		err = t.audit.commit(ctx)
	}
	if err == nil {
		if cerr := t.tx.Commit(); cerr != nil {
			err = t.s.translate(ctx, "commit", cerr)
		}
	}
	if err != nil {
		t.err = err
		t.rollback()
		return err
	}
	t.done = true
	return nil
}

// Rollback abandons the transaction. It does nothing after Commit or
// Rollback.
func (t *Tx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	return t.rollback()
}

func (t *Tx) rollback() error {
	t.done = true
	t.wait()
	err := t.tx.Rollback()
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
	if err == nil || errors.Is(err, sql.ErrTxDone) || classify(err) == classUnreachable {
		// Rolled back already (canceled context), or the connection is
		// gone, and the server rolls back with it.
		return nil
	}
	return t.s.translate(nil, "roll back", err)
}

func (t *Tx) usable() error {
	if t.done {
		return errTxDone
	}
	return t.err
}

// fail records the first error: the transaction can only be rolled back.
func (t *Tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// flushWrites starts sending the pending writes, one statement per table,
// once the previous batch is through; it returns that batch's error.
func (t *Tx) flushWrites(ctx context.Context) error {
	var main, log []pending
	for _, w := range t.writes {
		switch {
		case w.gone:
		case t.s.schema == Schema4 && inLog(w.key):
			log = append(log, w)
		default:
			main = append(main, w)
		}
	}
	t.writes, t.index, t.wbytes = nil, map[string]int{}, 0
	if err := t.wait(); err != nil {
		return err
	}
	if len(main)+len(log) == 0 {
		return nil
	}
	done := make(chan error, 1)
	t.inflight = done
	go func() {
		err := t.upsert(ctx, t.s.main, main)
		if err == nil {
			err = t.upsert(ctx, t.s.log, log)
		}
		done <- err
	}()
	return nil
}

// wait waits for the batch being sent, if any, and returns its error.
func (t *Tx) wait() error {
	if t.inflight == nil {
		return nil
	}
	err := <-t.inflight
	t.inflight = nil
	return err
}

// upsert writes rows into tb with one statement.
func (t *Tx) upsert(ctx context.Context, tb table, rows []pending) error {
	if len(rows) == 0 {
		return nil
	}
	s, d := t.s, t.s.d
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.key
	}
	kylin5 := s.schema == Schema5
	var compressed map[string]bool
	if kylin5 {
		var err error
		if compressed, err = t.compressedRows(ctx, tb, keys); err != nil {
			return err
		}
	}
	a := &args{d: d}
	var sqlb strings.Builder
	if kylin5 {
		alias := ""
		if d.driver == Postgres {
			alias = " AS x"
		}
		fmt.Fprintf(&sqlb, "INSERT INTO %s%s (%s, %s, %s, %s) VALUES ", tb.q, alias, tb.key, tb.content, tb.ts, tb.mvcc)
	} else {
		fmt.Fprintf(&sqlb, "INSERT INTO %s (%s, %s, %s) VALUES ", tb.q, tb.key, tb.ts, tb.content)
	}
	for i, r := range rows {
		data := r.data
		if kylin5 && len(data) > 0 {
			compress, existing := compressed[r.key]
			if !existing {
				compress = s.compressNew
			}
			if compress || isGzipped(data) {
				data = clone(t.enc.encode(data))
			}
		}
		if d.driver == MySQL {
			if n := t.estimate(r.key, data) + 256; int64(n) > s.maxPacket {
				stored := ""
				if len(data) != len(r.data) {
					stored = fmt.Sprintf(", %d bytes compressed", len(data))
				}
				return fmt.Errorf("jdbc: write %s: %w: the resource is %d bytes%s, and with the statement around it more than the server's max_allowed_packet of %d bytes; raise max_allowed_packet on the server (my.cnf [mysqld] max_allowed_packet=%dM or more) and retry",
					r.key, ErrPacketTooLarge, len(r.data), stored, s.maxPacket, (n>>20)+2)
			}
		}
		if i > 0 {
			sqlb.WriteByte(',')
		}
		if kylin5 {
			fmt.Fprintf(&sqlb, "(%s, %s, %s, 0)", a.add(r.key), a.add(data), a.add(r.ts))
		} else {
			fmt.Fprintf(&sqlb, "(%s, %s, %s)", a.add(r.key), a.add(r.ts), a.add(data))
		}
	}
	switch {
	case d.driver == Postgres && kylin5:
		fmt.Fprintf(&sqlb, " ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s, %s = COALESCE(x.%s, -1) + 1",
			tb.key, tb.content, tb.content, tb.ts, tb.ts, tb.mvcc, tb.mvcc)
	case d.driver == Postgres:
		fmt.Fprintf(&sqlb, " ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s",
			tb.key, tb.ts, tb.ts, tb.content, tb.content)
	case kylin5:
		fmt.Fprintf(&sqlb, " ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s), %s = COALESCE(%s, -1) + 1",
			tb.content, tb.content, tb.ts, tb.ts, tb.mvcc, tb.mvcc)
	default:
		fmt.Fprintf(&sqlb, " ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s)",
			tb.ts, tb.ts, tb.content, tb.content)
	}
	if _, err := t.tx.ExecContext(ctx, sqlb.String(), a.vals...); err != nil {
		return s.translate(ctx, "write "+describeBatch(rows), err)
	}
	if d.driver == MySQL {
		return t.verify(ctx, tb, keys)
	}
	return nil
}

// describeBatch names the resources of a batch for an error message: the
// first, the largest and how many.
func describeBatch(rows []pending) string {
	if len(rows) == 1 {
		return fmt.Sprintf("%s (%d bytes)", rows[0].key, len(rows[0].data))
	}
	big := rows[0]
	for _, r := range rows {
		if len(r.data) > len(big.data) {
			big = r
		}
	}
	return fmt.Sprintf("%d resources from %s (the largest %s, %d bytes)", len(rows), rows[0].key, big.key, len(big.data))
}

// compressedRows tells, for the keys that already have a row in tb,
// whether their content is compressed.
func (t *Tx) compressedRows(ctx context.Context, tb table, keys []string) (map[string]bool, error) {
	a := &args{d: t.s.d}
	q := fmt.Sprintf("SELECT %s, CASE WHEN %s THEN 1 ELSE 0 END FROM %s WHERE %s",
		tb.key, t.s.d.gzipped(tb.content), tb.q, t.s.d.keysCond(a, tb.key, keys))
	rows, err := t.tx.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return nil, t.s.translate(ctx, "read "+tb.name, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		var c int
		if err := rows.Scan(&k, &c); err != nil {
			return nil, t.s.translate(ctx, "read "+tb.name, err)
		}
		out[k] = c == 1
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.translate(ctx, "read "+tb.name, err)
	}
	return out, nil
}

// verify checks, after an upsert into a MySQL table, that every key has a
// row of its own: a collation that ignores case, accents or trailing spaces
// makes ON DUPLICATE KEY UPDATE overwrite another key's row instead.
func (t *Tx) verify(ctx context.Context, tb table, keys []string) error {
	a := &args{d: t.s.d}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (%s)", tb.key, tb.q, tb.key, a.list(keys))
	rows, err := t.tx.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return t.s.translate(ctx, "read "+tb.name, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return t.s.translate(ctx, "read "+tb.name, err)
		}
		have[k] = true
	}
	if err := rows.Err(); err != nil {
		return t.s.translate(ctx, "read "+tb.name, err)
	}
	for _, k := range keys {
		if !have[k] {
			return fmt.Errorf("jdbc: write %s: %w: table %s compares keys with collation %s, under which %s is the same key as another resource's (differing only in case, accents or trailing spaces); the table cannot hold both: give its META_TABLE_KEY a binary collation (utf8mb4_bin)",
				k, ErrKeyCollision, tb.name, tb.collation, k)
		}
	}
	return nil
}

// flushDeletes sends the pending deletes, after the writes sent before.
func (t *Tx) flushDeletes(ctx context.Context) error {
	if len(t.deletes) == 0 {
		return nil
	}
	if err := t.wait(); err != nil {
		return err
	}
	keys := t.deletes
	t.deletes, t.dset = nil, map[string]bool{}
	tables := []table{t.s.main}
	if t.s.schema == Schema4 {
		tables = append(tables, t.s.log)
	}
	for _, tb := range tables {
		a := &args{d: t.s.d}
		q := fmt.Sprintf("DELETE FROM %s WHERE %s", tb.q, t.s.d.keysCond(a, tb.key, keys))
		if _, err := t.tx.ExecContext(ctx, q, a.vals...); err != nil {
			what := keys[0]
			if len(keys) > 1 {
				what = fmt.Sprintf("%d resources from %s", len(keys), keys[0])
			}
			return t.s.translate(ctx, "delete "+what, err)
		}
	}
	return nil
}
