package jdbc

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's bulk path: rows go to the server with COPY ... FROM STDIN in
// binary format, streamed from the pending writes without building the
// whole batch in memory again.

// stageTable is the temporary table that upserts go through in
// PostgreSQL: COPY into it, then one INSERT ... SELECT ... ON CONFLICT into
// the metastore table. It lives until the transaction ends.
const stageTable = "metastore_stage"

// copyIn writes rows, whose keys tb does not have, into tb with COPY.
func (t *Tx) copyIn(ctx context.Context, tb table, rows []*pending) error {
	if len(rows) == 0 {
		return nil
	}
	var q string
	var cols []copyCol
	if t.s.schema == Schema5 {
		q = fmt.Sprintf("COPY %s (%s, %s, %s, %s) FROM STDIN (FORMAT binary)", tb.q, tb.key, tb.content, tb.ts, tb.mvcc)
		cols = []copyCol{colKeyOf, colContentOf, colTSOf, colZero}
	} else {
		q = fmt.Sprintf("COPY %s (%s, %s, %s) FROM STDIN (FORMAT binary)", tb.q, tb.key, tb.ts, tb.content)
		cols = []copyCol{colKeyOf, colTSOf, colContentOf}
	}
	if err := t.copy(ctx, q, rows, cols); err != nil {
		return t.s.translate(ctx, "write "+describeBatch(rows), err)
	}
	return nil
}

// upsertStaged writes rows, whose keys tb has, over their rows: COPY into
// the staging table, then INSERT ... SELECT ... ON CONFLICT DO UPDATE.
func (t *Tx) upsertStaged(ctx context.Context, tb table, rows []*pending) error {
	if len(rows) == 0 {
		return nil
	}
	what := "write " + describeBatch(rows)
	if !t.staged {
		q := fmt.Sprintf(`CREATE TEMPORARY TABLE %s (k TEXT COLLATE "C", t BIGINT, c BYTEA) ON COMMIT DROP`, stageTable)
		if _, err := t.tx.ExecContext(ctx, q); err != nil {
			return t.s.translate(ctx, what, err)
		}
		t.staged = true
	} else if _, err := t.tx.ExecContext(ctx, "TRUNCATE "+stageTable); err != nil {
		return t.s.translate(ctx, what, err)
	}
	q := fmt.Sprintf("COPY %s (k, t, c) FROM STDIN (FORMAT binary)", stageTable)
	if err := t.copy(ctx, q, rows, []copyCol{colKeyOf, colTSOf, colContentOf}); err != nil {
		return t.s.translate(ctx, what, err)
	}
	if t.s.schema == Schema5 {
		q = fmt.Sprintf("INSERT INTO %s AS x (%s, %s, %s, %s) SELECT k, c, t, 0 FROM %s ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s, %s = COALESCE(x.%s, -1) + 1",
			tb.q, tb.key, tb.content, tb.ts, tb.mvcc, stageTable, tb.key, tb.content, tb.content, tb.ts, tb.ts, tb.mvcc, tb.mvcc)
	} else {
		q = fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT k, t, c FROM %s ON CONFLICT (%s) DO UPDATE SET %s = EXCLUDED.%s, %s = EXCLUDED.%s",
			tb.q, tb.key, tb.ts, tb.content, stageTable, tb.key, tb.ts, tb.ts, tb.content, tb.content)
	}
	if _, err := t.tx.ExecContext(ctx, q); err != nil {
		return t.s.translate(ctx, what, err)
	}
	return nil
}

// copy runs the COPY ... FROM STDIN (FORMAT binary) statement q on the
// transaction's connection, sending the columns cols of rows.
func (t *Tx) copy(ctx context.Context, q string, rows []*pending, cols []copyCol) error {
	return t.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("jdbc: COPY needs a pgx connection, not %T", dc)
		}
		_, err := c.Conn().PgConn().CopyFrom(ctx, &copyReader{rows: rows, cols: cols}, q)
		return err
	})
}

// copyCol is one column of a COPY: which field of a pending write.
type copyCol int

const (
	colKeyOf     copyCol = iota // the key, as text
	colTSOf                     // the timestamp, a bigint
	colContentOf                // the bytes to store, a bytea
	colZero                     // 0, a bigint (META_TABLE_MVCC of a new row)
)

// copyReader streams rows in PostgreSQL's binary COPY format: a header,
// then for each row the number of fields and each field as a 32-bit length
// and its bytes, then -1.
type copyReader struct {
	rows    []*pending
	cols    []copyCol
	row     int    // next row to encode
	buf     []byte // encoded, not yet read: the header and field headers
	scratch []byte // buf's storage
	data    []byte // a field's bytes, read after buf
	col     int    // next column of the current row
	open    bool   // a row is being encoded
	started bool   // the signature was encoded
	end     bool   // the trailer was encoded
}

// copySignature starts binary COPY data: the signature, 32 bits of flags
// and the length of the (empty) header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (r *copyReader) Read(p []byte) (int, error) {
	if !r.started {
		r.started = true
		r.buf = copySignature
	}
	n := 0
	for n < len(p) {
		if len(r.buf) > 0 {
			n += drain(p[n:], &r.buf)
			continue
		}
		if len(r.data) > 0 {
			n += drain(p[n:], &r.data)
			continue
		}
		if !r.next() {
			break
		}
	}
	return readCount(n)
}

// drain copies as much of *src as p holds, drops it from *src and returns
// how much.
func drain(p []byte, src *[]byte) int {
	k := copy(p, *src)
	*src = (*src)[k:]
	return k
}

// readCount is what a Read of the encoders returns after n bytes: io.EOF
// when there were none left.
func readCount(n int) (int, error) {
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// next encodes the next piece (a row's field count, a field, the trailer)
// into buf and data; false when everything was encoded.
func (r *copyReader) next() bool {
	r.scratch = r.scratch[:0]
	defer func() { r.buf = r.scratch }()
	if !r.open {
		if r.row == len(r.rows) {
			if r.end {
				return false
			}
			r.end = true
			r.scratch = binary.BigEndian.AppendUint16(r.scratch, 0xffff)
			return true
		}
		r.open, r.col = true, 0
		r.scratch = binary.BigEndian.AppendUint16(r.scratch, uint16(len(r.cols)))
	}
	row := r.rows[r.row]
	switch r.cols[r.col] {
	case colKeyOf:
		r.scratch = binary.BigEndian.AppendUint32(r.scratch, uint32(len(row.key)))
		r.scratch = append(r.scratch, row.key...)
	case colTSOf:
		r.scratch = binary.BigEndian.AppendUint32(r.scratch, 8)
		r.scratch = binary.BigEndian.AppendUint64(r.scratch, uint64(row.ts))
	case colContentOf:
		r.scratch = binary.BigEndian.AppendUint32(r.scratch, uint32(len(row.out)))
		r.data = row.out
	case colZero:
		r.scratch = binary.BigEndian.AppendUint32(r.scratch, 8)
		r.scratch = binary.BigEndian.AppendUint64(r.scratch, 0)
	}
	r.col++
	if r.col == len(r.cols) {
		r.open = false
		r.row++
	}
	return true
}
