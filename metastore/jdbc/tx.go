package jdbc

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
)

// Limits of one batch of writes or deletes: rows per statement, and bytes
// of content (PostgreSQL; for MySQL half of max_allowed_packet, less some
// room for the statement itself, at most this).
const (
	maxBatchRows  = 1000
	maxBatchBytes = 8 << 20
)

// errTxDone is returned by a transaction used after Commit or Rollback.
var errTxDone = errors.New("jdbc: transaction already committed or rolled back")

// Tx is a transaction on one connection: its writes and deletes take effect
// together at Commit, or not at all. Writes are sent in batches, one batch
// while the next one fills: the batch first asks which of its keys have a
// row already; new rows are then sent in bulk (PostgreSQL: COPY FROM STDIN
// in binary format; MySQL: a multi-row INSERT), and rows that replace
// others as an upsert (PostgreSQL: COPY into a temporary table, then INSERT
// ... SELECT ... ON CONFLICT DO UPDATE; MySQL: INSERT ... ON DUPLICATE KEY
// UPDATE). In the Kylin 5 layout, content is compressed on several
// goroutines as the batch fills. So an error may surface at a later Write,
// Delete or at Commit; it names the resources concerned. After an error
// the transaction can only be rolled back. A Tx is safe for concurrent
// use, but its calls take turns.
type Tx struct {
	s    *Store
	conn *sql.Conn
	tx   *sql.Tx

	mu      sync.Mutex
	batch   []*pending
	index   map[string]*pending // key -> its pending write in batch
	wbytes  int                 // estimated size of the batch
	zipping *sync.WaitGroup     // compressions of the batch's content under way
	zip     chan zipJob         // Kylin 5: content to compress; nil until needed
	deletes []string
	dset    map[string]bool
	undo    []func() // puts HDFSRoot files back on rollback
	err     error
	done    bool
	// inflight receives the result of the batch of writes being sent, if
	// any: one batch is sent while the next one fills.
	inflight chan error
	// audit writes Kylin 5's audit log rows at Commit (audit.go); nil
	// without an audit log.
	audit *auditWriter
	// Used only by the goroutine sending a batch.
	enc    codec // compresses what the zipper did not
	staged bool  // PostgreSQL: the staging table of upserts exists
}

// pending is a write not yet sent.
type pending struct {
	key  string
	data []byte
	ts   int64
	gone bool   // deleted again before it was sent
	zenc []byte // Kylin 5: data compressed, if the zipper compressed it or the writer gave it
	out  []byte // the bytes to store, once the sender chose them
}

// zipJob is a pending write whose content a zipper goroutine compresses.
type zipJob struct {
	p  *pending
	wg *sync.WaitGroup
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
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.translate(ctx, "begin a transaction", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		discard(conn)
		return nil, s.translate(ctx, "begin a transaction", err)
	}
	t := &Tx{s: s, conn: conn, tx: tx, index: map[string]*pending{}, dset: map[string]bool{}}
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
	data := r.Data
	if !r.Owned {
		// Kept until the batch is sent: a copy, unless handed over.
		data = bytes.Clone(r.Data)
	}
	if data == nil {
		data = []byte{} // empty content, not NULL
	}
	if t.s.schema == Schema4 && len(data) == 0 && !isJSONMetadata(r.Path) && t.s.cfg.HDFSRoot != "" {
		undo, err := t.s.putPushedEmpty(r.Path)
		if err != nil {
			return t.fail(fmt.Errorf("jdbc: write %s: %w", r.Path, err))
		}
		t.undo = append(t.undo, undo)
	}
	est := t.estimate(r.Path, data)
	if p, ok := t.index[r.Path]; ok {
		t.audit.note(r.Path, true)
		// Written twice in one batch: the batch's compressions must be done
		// before the pending write changes.
		t.waitZips()
		t.wbytes -= t.estimate(r.Path, p.data)
		p.data, p.ts, p.zenc = data, r.Timestamp, t.given(data, r.Zlib)
		t.wbytes += est
		t.compress(p)
		return nil
	}
	if len(t.index) > 0 && t.wbytes+est > t.batchBytes() {
		if err := t.flushWrites(ctx); err != nil {
			return t.fail(err)
		}
	}
	t.audit.note(r.Path, true)
	p := &pending{key: r.Path, data: data, ts: r.Timestamp, zenc: t.given(data, r.Zlib)}
	t.index[r.Path] = p
	t.batch = append(t.batch, p)
	t.wbytes += est
	t.compress(p)
	if len(t.index) >= maxBatchRows || t.wbytes >= t.batchBytes() {
		if err := t.flushWrites(ctx); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// TakesZlib reports that the transaction stores content compressed as a
// zlib stream (the Kylin 5.0 beta layout), so that a writer who has one for
// a resource (metastore.Resource.Zlib) saves compressing the content again.
func (t *Tx) TakesZlib() bool { return t.s.schema == Schema5 }

// given returns Kylin 5's compressed form of data from its zlib stream z:
// "GZIP" and z, which Kylin's CompressionUtils inflates whatever the level
// it was deflated at; nil if there is none to give, or data will most
// likely be stored uncompressed (as compress decides).
func (t *Tx) given(data, z []byte) []byte {
	if t.s.schema != Schema5 || len(data) == 0 || len(z) == 0 || !(t.s.compressNew || isGzipped(data)) {
		return nil
	}
	return append(append(make([]byte, 0, len(gzipMagic)+len(z)), gzipMagic...), z...)
}

// compress has p's content compressed in the background if it will most
// likely be stored compressed: in the Kylin 5 layout, when new rows are
// (the row it replaces, if any, decides in the end: see content), or when
// it starts with "GZIP" itself.
func (t *Tx) compress(p *pending) {
	if t.s.schema != Schema5 || len(p.data) == 0 || !(t.s.compressNew || isGzipped(p.data)) || p.zenc != nil {
		return
	}
	if t.zip == nil {
		n := max(1, runtime.GOMAXPROCS(0))
		t.zip = make(chan zipJob, 4*n)
		for range n {
			go func(jobs <-chan zipJob) {
				var c codec
				for j := range jobs {
					j.p.zenc = clone(c.encode(j.p.data))
					j.wg.Done()
				}
			}(t.zip)
		}
	}
	if t.zipping == nil {
		t.zipping = &sync.WaitGroup{}
	}
	t.zipping.Add(1)
	t.zip <- zipJob{p, t.zipping}
}

// waitZips waits for the compressions of the batch's content.
func (t *Tx) waitZips() {
	if t.zipping != nil {
		t.zipping.Wait()
	}
}

// stopZips ends the zipper goroutines.
func (t *Tx) stopZips() {
	if t.zip != nil {
		close(t.zip)
		t.zip = nil
	}
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
	if w, ok := t.index[p]; ok {
		t.waitZips()
		t.wbytes -= t.estimate(p, w.data)
		w.gone, w.data, w.zenc = true, nil, nil
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
	t.stopZips()
	t.release(nil)
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
	t.waitZips()
	t.stopZips()
	err := t.tx.Rollback()
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
	t.release(err)
	if err == nil || errors.Is(err, sql.ErrTxDone) || classify(err) == classUnreachable {
		// Rolled back already (canceled context), or the connection is
		// gone, and the server rolls back with it.
		return nil
	}
	return t.s.translate(nil, "roll back", err)
}

// release gives the transaction's connection back to the pool, or closes
// it if the transaction did not end cleanly (rollbackErr, or an error met
// on the way).
func (t *Tx) release(rollbackErr error) {
	if rollbackErr != nil || (t.err != nil && (classify(t.err) == classUnreachable || t.s.silence(t.err) != nil)) {
		discard(t.conn)
		return
	}
	t.conn.Close()
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

// flushWrites starts sending the batch once the previous one is through
// (and the batch's content compressed); it returns that batch's error.
func (t *Tx) flushWrites(ctx context.Context) error {
	var main, log []*pending
	for _, w := range t.batch {
		switch {
		case w.gone:
		case t.s.schema == Schema4 && inLog(w.key):
			log = append(log, w)
		default:
			main = append(main, w)
		}
	}
	zipping := t.zipping
	t.batch, t.index, t.wbytes, t.zipping = nil, map[string]*pending{}, 0, nil
	if err := t.wait(); err != nil {
		return err
	}
	if len(main)+len(log) == 0 {
		return nil
	}
	done := make(chan error, 1)
	t.inflight = done
	go func() {
		if zipping != nil {
			zipping.Wait()
		}
		err := t.store(ctx, t.s.main, main)
		if err == nil {
			err = t.store(ctx, t.s.log, log)
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

// store writes rows into tb: new rows in bulk, the others as upserts.
func (t *Tx) store(ctx context.Context, tb table, rows []*pending) error {
	if len(rows) == 0 {
		return nil
	}
	s := t.s
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.key
	}
	existing, err := t.existing(ctx, tb, keys)
	if err != nil {
		return err
	}
	var fresh, old []*pending
	for _, r := range rows {
		compressed, ok := existing[r.key]
		r.out = t.content(r, compressed, ok)
		if s.d.driver == MySQL {
			if n := t.estimate(r.key, r.out) + 256; int64(n) > s.maxPacket {
				stored := ""
				if len(r.out) != len(r.data) {
					stored = fmt.Sprintf(", %d bytes compressed", len(r.out))
				}
				return fmt.Errorf("jdbc: write %s: %w: the resource is %d bytes%s, and with the statement around it more than the server's max_allowed_packet of %d bytes; raise max_allowed_packet on the server (my.cnf [mysqld] max_allowed_packet=%dM or more) and retry",
					r.key, ErrPacketTooLarge, len(r.data), stored, s.maxPacket, (n>>20)+2)
			}
		}
		if ok {
			old = append(old, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	if s.d.driver == Postgres {
		if err := t.copyIn(ctx, tb, fresh); err != nil {
			return err
		}
		return t.upsertStaged(ctx, tb, old)
	}
	loaded, err := t.loadData(ctx, tb, fresh)
	if err != nil {
		return err
	}
	if !loaded {
		if err := t.insert(ctx, tb, fresh, false); err != nil {
			return err
		}
	}
	if err := t.insert(ctx, tb, old, true); err != nil {
		return err
	}
	if len(old) > 0 {
		okeys := make([]string, len(old))
		for i, r := range old {
			okeys[i] = r.key
		}
		return t.verify(ctx, tb, okeys)
	}
	return nil
}

// content returns the bytes to store for r: in the Kylin 5 layout,
// compressed if the row it replaces is (exists, compressed), or for a new
// row if new rows are, and always if the content starts with "GZIP" itself.
func (t *Tx) content(r *pending, compressed, exists bool) []byte {
	if t.s.schema != Schema5 || len(r.data) == 0 {
		return r.data
	}
	compress := t.s.compressNew
	if exists {
		compress = compressed
	}
	if !compress && !isGzipped(r.data) {
		return r.data
	}
	if r.zenc != nil {
		return r.zenc
	}
	return clone(t.enc.encode(r.data))
}

// describeBatch names the resources of a batch for an error message: the
// first, the largest and how many.
func describeBatch(rows []*pending) string {
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

// existing tells, for the keys that already have a row in tb, whether their
// content is compressed (Kylin 5; false in the Kylin 2.5-4.x layout).
func (t *Tx) existing(ctx context.Context, tb table, keys []string) (map[string]bool, error) {
	a := &args{d: t.s.d}
	flag := "0"
	if t.s.schema == Schema5 {
		flag = fmt.Sprintf("CASE WHEN %s THEN 1 ELSE 0 END", t.s.d.gzipped(tb.content))
	}
	var cond string
	if t.s.d.driver == Postgres {
		cond = tb.key + " = ANY(" + a.add(keys) + ")"
	} else {
		cond = t.s.d.keysCond(a, tb.key, keys)
	}
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s", tb.key, flag, tb.q, cond)
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

// insert writes rows into tb with one multi-row INSERT (MySQL): a plain one
// for new rows, whose keys the table has not, so that a key the column's
// collation takes for another one fails instead of overwriting it, or
// INSERT ... ON DUPLICATE KEY UPDATE for rows that replace others.
func (t *Tx) insert(ctx context.Context, tb table, rows []*pending, upsert bool) error {
	if len(rows) == 0 {
		return nil
	}
	kylin5 := t.s.schema == Schema5
	a := &args{d: t.s.d}
	var sqlb strings.Builder
	if kylin5 {
		fmt.Fprintf(&sqlb, "INSERT INTO %s (%s, %s, %s, %s) VALUES ", tb.q, tb.key, tb.content, tb.ts, tb.mvcc)
	} else {
		fmt.Fprintf(&sqlb, "INSERT INTO %s (%s, %s, %s) VALUES ", tb.q, tb.key, tb.ts, tb.content)
	}
	for i, r := range rows {
		if i > 0 {
			sqlb.WriteByte(',')
		}
		if kylin5 {
			fmt.Fprintf(&sqlb, "(%s, %s, %s, 0)", a.add(r.key), a.add(r.out), a.add(r.ts))
		} else {
			fmt.Fprintf(&sqlb, "(%s, %s, %s)", a.add(r.key), a.add(r.ts), a.add(r.out))
		}
	}
	switch {
	case upsert && kylin5:
		fmt.Fprintf(&sqlb, " ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s), %s = COALESCE(%s, -1) + 1",
			tb.content, tb.content, tb.ts, tb.ts, tb.mvcc, tb.mvcc)
	case upsert:
		fmt.Fprintf(&sqlb, " ON DUPLICATE KEY UPDATE %s = VALUES(%s), %s = VALUES(%s)",
			tb.ts, tb.ts, tb.content, tb.content)
	}
	if _, err := t.tx.ExecContext(ctx, sqlb.String(), a.vals...); err != nil {
		if !upsert && isDuplicate(err) {
			return t.collision(tb, rows, err)
		}
		return t.s.translate(ctx, "write "+describeBatch(rows), err)
	}
	return nil
}

// collision is the error of new rows that the table refused as duplicates:
// under a collation that ignores case, accents or trailing spaces, one of
// them is the same key as a row the table has (or as another of them).
func (t *Tx) collision(tb table, rows []*pending, err error) error {
	return fmt.Errorf("jdbc: write %s: %w: table %s compares keys with collation %s, under which one of them is the same key as another resource's (differing only in case, accents or trailing spaces); the table cannot hold both: give its META_TABLE_KEY a binary collation (utf8mb4_bin): %s",
		describeBatch(rows), ErrKeyCollision, tb.name, tb.collation, t.s.scrub(err.Error()))
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
		var cond string
		if t.s.d.driver == Postgres {
			cond = tb.key + " = ANY(" + a.add(keys) + ")"
		} else {
			cond = t.s.d.keysCond(a, tb.key, keys)
		}
		q := fmt.Sprintf("DELETE FROM %s WHERE %s", tb.q, cond)
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
