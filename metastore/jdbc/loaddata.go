package jdbc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// MySQL's bulk path: new rows go to the server with LOAD DATA LOCAL
// INFILE, streamed from the pending writes through go-sql-driver's reader
// handlers, in the tab-separated text that LOAD DATA reads by default.

// loadData writes rows, whose keys tb does not have, into tb with LOAD DATA
// LOCAL INFILE. It returns false, having written nothing, when the server
// does not allow it (local_infile off, as MySQL 8 has it by default) or a
// key is not valid UTF-8 (LOAD DATA LOCAL would store it mangled, with a
// warning): then the caller inserts them.
func (t *Tx) loadData(ctx context.Context, tb table, rows []*pending) (bool, error) {
	if len(rows) == 0 {
		return true, nil
	}
	if t.s.noLoadData.Load() {
		return false, nil
	}
	for _, r := range rows {
		if !utf8.ValidString(r.key) {
			return false, nil
		}
	}
	var id [8]byte
	rand.Read(id[:])
	name := "metastore-" + hex.EncodeToString(id[:])
	cols := []copyCol{colKeyOf, colTSOf, colContentOf}
	list := fmt.Sprintf("%s, %s, %s", tb.key, tb.ts, tb.content)
	if t.s.schema == Schema5 {
		cols = []copyCol{colKeyOf, colContentOf, colTSOf, colZero}
		list = fmt.Sprintf("%s, %s, %s, %s", tb.key, tb.content, tb.ts, tb.mvcc)
	}
	mysql.RegisterReaderHandler(name, func() io.Reader { return &tsvReader{rows: rows, cols: cols} })
	defer mysql.DeregisterReaderHandler(name)
	q := fmt.Sprintf(`LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)`, name, tb.q, list)
	what := "write " + describeBatch(rows)
	res, err := t.tx.ExecContext(ctx, q)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1148 || me.Number == 3948 || me.Number == 2068) {
			t.s.noLoadData.Store(true) // refused: nothing was written
			return false, nil
		}
		if isDuplicate(err) {
			return false, t.collision(tb, rows, err)
		}
		return false, t.s.translate(ctx, what, err)
	}
	// With LOCAL, the server turns errors into warnings and skips the rows
	// concerned (it cannot stop the client's stream): a row it did not
	// take, or any warning, fails the write.
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.s.translate(ctx, what, err)
	}
	var warnings int64
	if err := t.tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return false, t.s.translate(ctx, what, err)
	}
	if n != int64(len(rows)) || warnings > 0 {
		var level, msg string
		var code int
		if warnings > 0 {
			t.tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg)
		}
		if n < int64(len(rows)) && (code == 1062 || warnings == 0) {
			return false, t.collision(tb, rows, fmt.Errorf("LOAD DATA stored %d of %d rows: %s", n, len(rows), t.s.scrub(msg)))
		}
		return false, fmt.Errorf("jdbc: %s: %w: LOAD DATA stored %d of %d rows with %d warnings: %s %d: %s", what, ErrDatabase, n, len(rows), warnings, level, code, t.s.scrub(msg))
	}
	return true, nil
}

// tsvReader streams rows as LOAD DATA reads them by default: fields
// separated by tabs, rows ended by newlines, and in the fields a backslash
// before each backslash, tab, newline and NUL (as \\, \t, \n, \0).
type tsvReader struct {
	rows []*pending
	cols []copyCol
	row  int
	col  int
	buf  []byte // encoded, not yet read
	num  []byte // buf's storage
	data []byte // a field's bytes, not yet escaped
	pend byte   // the second byte of an escape whose backslash was read
	sep  byte   // what follows data: '\t' or '\n'
	tail bool   // sep is still to be sent
}

func (r *tsvReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) > 0 {
			n += drain(p[n:], &r.buf)
			continue
		}
		if r.pend != 0 {
			p[n] = r.pend
			n++
			r.pend = 0
			continue
		}
		if len(r.data) > 0 {
			n += r.escape(p[n:])
			continue
		}
		if r.tail {
			p[n] = r.sep
			n++
			r.tail = false
			continue
		}
		if r.row == len(r.rows) {
			break
		}
		r.field()
	}
	return readCount(n)
}

// field sets up the next field.
func (r *tsvReader) field() {
	row := r.rows[r.row]
	r.num, r.data = r.num[:0], nil
	switch r.cols[r.col] {
	case colKeyOf:
		r.data = []byte(row.key)
	case colTSOf:
		r.num = strconv.AppendInt(r.num, row.ts, 10)
	case colContentOf:
		r.data = row.out
	case colZero:
		r.num = append(r.num, '0')
	}
	r.buf = r.num
	r.sep, r.tail = '\t', true
	if r.col++; r.col == len(r.cols) {
		r.sep, r.col = '\n', 0
		r.row++
	}
}

// escape copies escaped field bytes into p and returns how many it wrote.
func (r *tsvReader) escape(p []byte) int {
	n, i := 0, 0
	for ; i < len(r.data) && n < len(p); i++ {
		c := r.data[i]
		var e byte
		switch c {
		case '\\':
			e = '\\'
		case '\t':
			e = 't'
		case '\n':
			e = 'n'
		case 0:
			e = '0'
		default:
			p[n] = c
			n++
			continue
		}
		if n+2 > len(p) {
			p[n], r.pend = '\\', e
			n++
			i++
			break
		}
		p[n], p[n+1] = '\\', e
		n += 2
	}
	r.data = r.data[i:]
	return n
}
