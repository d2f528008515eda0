package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
)

// typedTable is one table of the per-type layout as the database has it.
type typedTable struct {
	typ       *typedType
	name, q   string
	cols      map[string]string // lower-cased name -> quoted name
	required  map[string]bool   // NOT NULL without a default
	types     map[string]string // data types
	keyLen    int               // width of meta_key
	collation string            // of meta_key
	// fill are the type's JSON-filled columns this table has.
	fill []typedCol
	// unknown are required columns this package cannot fill: writes to
	// the table are refused.
	unknown []string
}

// col returns the quoted column name (lower-cased name c).
func (t *typedTable) col(c string) string { return t.cols[c] }

// selection is what a read asks for: one key, or every key under a prefix.
type selection struct {
	key    string
	prefix string
}

// query runs a scan of sel through the layout's tables.
func (r reader) query(ctx context.Context, sel selection, match func(string) bool, mode contentMode, fn func(row) error) error {
	if r.s.schema == SchemaTyped {
		return r.scanTyped(ctx, sel, match, mode, fn)
	}
	cond := func(a *args, col string) string { return r.s.d.prefixCond(a, col, sel.prefix) }
	if sel.key != "" {
		cond = func(a *args, col string) string { return r.s.d.keyCond(a, col, sel.key) }
	}
	return r.scan(ctx, cond, match, mode, fn)
}

// preferTyped decides, for a database holding the per-type tables, whether
// they are the metastore. A database may also hold a Kylin 5.0 beta table
// IDENTIFIER (left by an upgrade): the layout with rows wins, Config.Schema
// decides, and when both hold rows Open refuses rather than guess.
func (s *Store) preferTyped(ctx context.Context, main, typed *foundTable) (bool, error) {
	switch s.cfg.Schema {
	case SchemaTyped:
		return true, nil
	case Schema4, Schema5:
		return false, nil
	}
	if main == nil {
		return true, nil
	}
	count := func(name string) (int64, error) {
		var n int64
		err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.d.quote(name)).Scan(&n)
		return n, s.translate(ctx, "count the rows of "+name, err)
	}
	nMain, err := count(main.name)
	if err != nil {
		return false, err
	}
	nTyped, err := count(typed.name)
	if err != nil {
		return false, err
	}
	switch {
	case nMain == 0:
		return true, nil
	case nTyped == 0:
		return false, nil
	}
	return false, fmt.Errorf("jdbc: %w: database %s on %s holds two Kylin 5 metastores of identifier %s: table %s (Kylin 5.0 beta, one table, %d rows) and the per-type tables of Kylin 5.0 GA and later (KYLIN-5945; %s has %d projects); refusing to guess which one Kylin uses: drop or rename the one it no longer uses",
		ErrNoMetastore, s.dbName, s.where(), s.id, main.name, nMain, typed.name, nTyped)
}

// detectTyped sets the store up for the per-type layout from the tables
// found.
func (s *Store) detectTyped(found map[string]*foundTable) error {
	if s.cfg.Schema != SchemaAuto && s.cfg.Schema != SchemaTyped {
		return fmt.Errorf("jdbc: %w: database %s on %s holds a %s metastore (tables %s_*), not %s", ErrNoMetastore, s.dbName, s.where(), SchemaTyped, s.id, s.cfg.Schema)
	}
	s.typed = map[string]*typedTable{}
	for _, t := range typedTypes {
		f := pick(found, t.table(s.id))
		if f == nil {
			continue // a type this Kylin version has no table for
		}
		var missing []string
		for _, c := range []string{tcMetaKey, tcUUID, tcMVCC, tcTS, tcContent} {
			if _, ok := f.cols[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("jdbc: %w: table %s in database %s on %s is not a table of Kylin 5's per-type metastore: no column %s", ErrNoMetastore, f.name, s.dbName, s.where(), strings.Join(missing, ", "))
		}
		tt := &typedTable{typ: t, name: f.name, q: s.d.quote(f.name), cols: map[string]string{}, required: f.required,
			types: f.types, keyLen: f.keyLen, collation: f.collation}
		for lc, c := range f.cols {
			tt.cols[lc] = s.d.quote(c)
		}
		known := map[string]bool{tcID: true, tcMetaKey: true, tcUUID: true, tcMVCC: true, tcTS: true, tcContent: true}
		for _, c := range t.cols {
			if _, ok := f.cols[c.column]; ok && !known[c.column] {
				tt.fill = append(tt.fill, c)
				known[c.column] = true
			}
		}
		for c, req := range f.required {
			if req && !known[c] {
				tt.unknown = append(tt.unknown, c)
			}
		}
		sort.Strings(tt.unknown)
		s.typed[t.name] = tt
	}
	p := s.typed["PROJECT"]
	s.schema = SchemaTyped
	s.main = table{name: p.name, q: p.q, key: p.col(tcMetaKey), ts: p.col(tcTS), content: p.col(tcContent), mvcc: p.col(tcMVCC),
		collation: p.collation, keyLen: p.keyLen}
	s.findCompanions(found)
	return nil
}

// typedTablesFor returns the tables whose keys may match sel, with the
// meta_key condition for each ("" for every row).
func (s *Store) typedTablesFor(sel selection) []*typedTable {
	var out []*typedTable
	for _, t := range typedTypes {
		tt := s.typed[t.name]
		if tt == nil {
			continue
		}
		dir := "/" + t.name + "/"
		switch {
		case sel.key != "":
			if strings.HasPrefix(sel.key, dir) {
				out = append(out, tt)
			}
		case strings.HasPrefix(dir, sel.prefix) || strings.HasPrefix(sel.prefix, dir):
			out = append(out, tt)
		}
	}
	return out
}

// scanTyped is scan for the per-type layout: one query over the tables sel
// may concern, rows keyed "/TYPE/META_KEY.json", in byte order of key.
func (r reader) scanTyped(ctx context.Context, sel selection, match func(string) bool, mode contentMode, fn func(row) error) error {
	s, d := r.s, r.s.d
	if sel.key == "" {
		if err := checkPrefix(sel.prefix); err != nil {
			return err
		}
	}
	tables := s.typedTablesFor(sel)
	if len(tables) == 0 {
		return nil
	}
	a := &args{d: d}
	var parts []string
	for _, tt := range tables {
		dir := "/" + tt.typ.name + "/"
		mk := tt.col(tcMetaKey)
		keyExpr := "'" + dir + "' || " + mk + " || '.json'"
		if d.driver == MySQL {
			keyExpr = "CONCAT('" + dir + "', " + mk + ", '.json')"
		}
		content := tt.col(tcContent)
		c := fmt.Sprintf("%s AS k, COALESCE(%s, 0) AS t, %s AS n, COALESCE(%s, 0) AS l", keyExpr, tt.col(tcTS), d.isNull(content), d.length(content))
		switch mode {
		case allContent:
			c += ", " + content + " AS c"
		case gzipContent:
			c += fmt.Sprintf(", CASE WHEN %s THEN %s END AS c", d.gzipped(content), content)
		}
		cond := "1=1"
		switch {
		case sel.key != "":
			name, _ := strings.CutPrefix(sel.key, dir)
			name, ok := strings.CutSuffix(name, ".json")
			if !ok {
				continue
			}
			cond = d.keyCond(a, mk, name)
		case strings.HasPrefix(sel.prefix, dir):
			// The key ends in ".json", which the meta_key lacks: filter
			// in SQL only on a prefix without a dot, in Go always.
			if rest := strings.TrimPrefix(sel.prefix, dir); rest != "" && !strings.Contains(rest, ".") {
				cond = d.prefixCond(a, mk, rest)
			}
		}
		parts = append(parts, fmt.Sprintf("SELECT %s FROM %s WHERE %s", c, tt.q, cond))
	}
	if len(parts) == 0 {
		return nil
	}
	q := "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") u ORDER BY " + d.bin("k")
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := r.enter()
	defer unlock()
	return r.eachRow(ctx, q, a.vals, mode, "the tables of "+s.id+"_*", match, fn)
}

// typedOp is a pending change of one resource in a typedTx.
type typedOp struct {
	t      *typedType
	mk     string
	delete bool
	data   []byte
	ts     int64
}

// typedTx is a transaction on the per-type layout. Writes and deletes are
// kept until the batch is full or Commit, then applied table by table:
// deletes first, then updates of existing rows (mvcc plus one), then
// inserts (mvcc 0), as Kylin's JdbcMetadataStore.save does them one by
// one. The JSON-filled columns (project, alias, model_uuid, ...) are taken
// from the content, as Kylin's mappers take them from the RawResource.
type typedTx struct {
	s  *Store
	tx *sql.Tx

	mu     sync.Mutex
	ops    map[string]*typedOp // by key
	order  []string
	bytes  int
	err    error
	done   bool
	enc    codec
	dec    codec
	audit  *auditWriter
	counts int // rows written, for messages
}

func (s *Store) beginTyped(ctx context.Context) (*typedTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.translate(ctx, "begin a transaction", err)
	}
	t := &typedTx{s: s, tx: tx, ops: map[string]*typedOp{}}
	t.audit = s.newAuditWriter(tx)
	return t, nil
}

// errNotTyped is wrapped by errors about keys the per-type layout cannot
// hold.
var errNotTyped = errors.New("not a key of Kylin 5's per-type metastore")

func (t *typedTx) op(key string) (*typedOp, error) {
	typ, mk, ok := parseTypedKey(key)
	if !ok {
		return nil, fmt.Errorf("jdbc: write %s: %w (keys are /TYPE/META_KEY.json, TYPE one of Kylin's metadata types: /MODEL/..., /PROJECT/...): a snapshot of another layout cannot be restored into it", key, errNotTyped)
	}
	tt := t.s.typed[typ.name]
	if tt == nil {
		return nil, fmt.Errorf("jdbc: write %s: %w: database %s has no table %s for type %s (written by another Kylin version?)", key, errNotTyped, t.s.dbName, typ.table(t.s.id), typ.name)
	}
	if n := utf8.RuneCountInString(mk); tt.keyLen > 0 && n > tt.keyLen {
		return nil, fmt.Errorf("jdbc: write %s: %w: the meta_key is %d characters long, and %s.meta_key holds at most %d", key, ErrKeyTooLong, n, tt.name, tt.keyLen)
	}
	return &typedOp{t: typ, mk: mk}, nil
}

// Write records the write of r.
func (t *typedTx) Write(ctx context.Context, r metastore.Resource) error {
	if err := metastore.CheckPath(r.Path); err != nil {
		return fmt.Errorf("jdbc: write: %w", err)
	}
	op, err := t.op(r.Path)
	if err != nil {
		return err
	}
	op.data, op.ts = append([]byte(nil), r.Data...), r.Timestamp
	return t.add(ctx, r.Path, op)
}

// Delete records the deletion of p.
func (t *typedTx) Delete(ctx context.Context, p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return fmt.Errorf("jdbc: delete: %w", err)
	}
	typ, mk, ok := parseTypedKey(p)
	if !ok || t.s.typed[typ.name] == nil {
		return nil // no such row can exist
	}
	return t.add(ctx, p, &typedOp{t: typ, mk: mk, delete: true})
}

func (t *typedTx) add(ctx context.Context, key string, op *typedOp) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errTxDone
	}
	if t.err != nil {
		return t.err
	}
	if old, ok := t.ops[key]; ok {
		t.bytes -= len(old.data)
	} else {
		t.order = append(t.order, key)
	}
	t.ops[key] = op
	t.bytes += len(op.data) + len(key)
	if len(t.ops) >= maxBatchRows || t.bytes >= t.batchBytes() {
		if err := t.flush(ctx); err != nil {
			t.err = err
			return err
		}
	}
	return nil
}

func (t *typedTx) batchBytes() int {
	if t.s.d.driver != MySQL {
		return maxBatchBytes
	}
	return max(64<<10, min(int(t.s.maxPacket/2)-64<<10, maxBatchBytes))
}

// Commit applies what is pending and commits.
func (t *typedTx) Commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errTxDone
	}
	err := t.err
	if err == nil {
		err = t.flush(ctx)
	}
	if err == nil {
		if cerr := t.tx.Commit(); cerr != nil {
			err = t.s.translate(ctx, "commit", cerr)
		}
	}
	t.done = true
	if err != nil {
		t.tx.Rollback()
		return err
	}
	return nil
}

// Rollback abandons the transaction.
func (t *typedTx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	err := t.tx.Rollback()
	if err == nil || errors.Is(err, sql.ErrTxDone) || classify(err) == classUnreachable {
		return nil
	}
	return t.s.translate(nil, "roll back", err)
}

// existing is what a table holds of a key before the transaction writes it.
type existing struct {
	mvcc       int64
	compressed bool
	project    string
	model      string
}

// flush applies the pending operations, table by table.
func (t *typedTx) flush(ctx context.Context) error {
	if len(t.ops) == 0 {
		return nil
	}
	byTable := map[string][]string{}
	for _, key := range t.order {
		op := t.ops[key]
		byTable[op.t.name] = append(byTable[op.t.name], key)
	}
	var names []string
	for n := range byTable {
		names = append(names, n)
	}
	sort.Strings(names)
	// Deletes of every table first, so that a resource moving its unique
	// name (a model alias) from one row to another does not collide.
	for pass := 0; pass < 2; pass++ {
		for _, n := range names {
			if err := t.apply(ctx, t.s.typed[n], byTable[n], pass == 0); err != nil {
				return err
			}
		}
	}
	t.ops, t.order, t.bytes = map[string]*typedOp{}, nil, 0
	return nil
}

// apply applies the deletes (deletes true) or the writes of keys, all of
// table tt.
func (t *typedTx) apply(ctx context.Context, tt *typedTable, keys []string, deletes bool) error {
	var mks []string
	for _, k := range keys {
		if op := t.ops[k]; op.delete == deletes {
			mks = append(mks, op.mk)
		}
	}
	if len(mks) == 0 {
		return nil
	}
	if !deletes && len(tt.unknown) > 0 {
		return fmt.Errorf("jdbc: write %s: %w: table %s has NOT NULL column %s, which this version of metastore does not know how to fill (a newer Kylin?)",
			typedKey(tt.typ, mks[0]), ErrDatabase, tt.name, strings.Join(tt.unknown, ", "))
	}
	have, err := t.existing(ctx, tt, mks)
	if err != nil {
		return err
	}
	d := t.s.d
	mk := tt.col(tcMetaKey)
	if deletes {
		return t.applyDeletes(ctx, tt, mks, have)
	}
	var inserts []insertRow
	uuids := map[any]string{}
	for _, m := range mks {
		op := t.ops[typedKey(tt.typ, m)]
		fields, err := parseFields(op.data)
		if err != nil {
			return fmt.Errorf("jdbc: write %s: %w: Kylin keeps this type's JSON fields in columns of %s, and the content is not a JSON object: %v", typedKey(tt.typ, m), ErrDatabase, tt.name, err)
		}
		vals, err := t.columnValues(tt, m, fields)
		if err != nil {
			return err
		}
		if other, dup := uuids[vals[0].val]; dup {
			return fmt.Errorf("jdbc: write %s: %w: it has the uuid %v of %s, and table %s keeps uuids unique (UNIQUE (uuid) in Kylin's DDL): Kylin cannot hold both either",
				typedKey(tt.typ, m), ErrDatabase, vals[0].val, typedKey(tt.typ, other), tt.name)
		}
		uuids[vals[0].val] = m
		e, exists := have[m]
		compress := t.s.compressNew
		if exists {
			compress = e.compressed
		}
		stored := op.data
		if len(stored) > 0 && (compress || isGzipped(stored)) {
			stored = clone(t.enc.encode(stored))
		}
		if d.driver == MySQL {
			if n := int64(len(stored)*2 + len(m) + 1024); n > t.s.maxPacket {
				return fmt.Errorf("jdbc: write %s: %w: the resource is %d bytes (%d stored), more than the server's max_allowed_packet of %d bytes lets one statement carry; raise max_allowed_packet on the server and retry",
					typedKey(tt.typ, m), ErrPacketTooLarge, len(op.data), len(stored), t.s.maxPacket)
			}
		}
		project, model := auditProject(tt.typ, fields), auditModel(tt.typ, fields)
		if exists {
			a := &args{d: d}
			sets := []string{tt.col(tcContent) + " = " + a.add(stored), tt.col(tcTS) + " = " + a.add(op.ts), tt.col(tcMVCC) + " = " + tt.col(tcMVCC) + " + 1"}
			for _, v := range vals {
				sets = append(sets, tt.col(v.col)+" = "+a.add(v.val))
			}
			q := fmt.Sprintf("UPDATE %s SET %s WHERE %s", tt.q, strings.Join(sets, ", "), d.keyCond(a, mk, m))
			if _, err := t.tx.ExecContext(ctx, q, a.vals...); err != nil {
				return t.s.translate(ctx, "update "+typedKey(tt.typ, m)+" in "+tt.name, err)
			}
			t.audit.typedWrite(tt.typ, m, stored, op.ts, e.mvcc+1, project, model)
			continue
		}
		inserts = append(inserts, insertRow{mk: m, vals: vals, stored: stored, ts: op.ts})
		t.audit.typedWrite(tt.typ, m, stored, op.ts, 0, project, model)
	}
	if err := t.insertRows(ctx, tt, inserts); err != nil {
		return err
	}
	return t.audit.flush(ctx)
}

// applyDeletes deletes the rows of mks that exist (have) from table tt.
func (t *typedTx) applyDeletes(ctx context.Context, tt *typedTable, mks []string, have map[string]existing) error {
	d, mk := t.s.d, tt.col(tcMetaKey)
	var gone []string
	for _, m := range mks {
		if _, ok := have[m]; ok {
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	a := &args{d: d}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s", tt.q, d.keysCond(a, mk, gone))
	if _, err := t.tx.ExecContext(ctx, q, a.vals...); err != nil {
		return t.s.translate(ctx, fmt.Sprintf("delete %d rows of %s", len(gone), tt.name), err)
	}
	for _, m := range gone {
		e := have[m]
		t.audit.typedDelete(tt.typ, m, e.project)
	}
	return t.audit.flush(ctx)
}

// insertRows inserts new rows into table tt in one statement.
func (t *typedTx) insertRows(ctx context.Context, tt *typedTable, inserts []insertRow) error {
	if len(inserts) == 0 {
		return nil
	}
	d := t.s.d
	cols := []string{tt.col(tcMetaKey), tt.col(tcMVCC), tt.col(tcTS), tt.col(tcContent)}
	for _, v := range inserts[0].vals {
		cols = append(cols, tt.col(v.col))
	}
	a := &args{d: d}
	var rowsSQL []string
	for _, in := range inserts {
		ph := []string{a.add(in.mk), "0", a.add(in.ts), a.add(in.stored)}
		for _, v := range in.vals {
			ph = append(ph, a.add(v.val))
		}
		rowsSQL = append(rowsSQL, "("+strings.Join(ph, ", ")+")")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", tt.q, strings.Join(cols, ", "), strings.Join(rowsSQL, ", "))
	if _, err := t.tx.ExecContext(ctx, q, a.vals...); err != nil {
		what := typedKey(tt.typ, inserts[0].mk)
		if len(inserts) > 1 {
			what = fmt.Sprintf("%d resources from %s", len(inserts), what)
		}
		return t.s.translate(ctx, "insert "+what+" into "+tt.name, err)
	}
	return nil
}

// insertRow is a new row of a typed table.
type insertRow struct {
	mk     string
	vals   []colValue
	stored []byte
	ts     int64
}

// colValue is the value of one column.
type colValue struct {
	col string
	val any
}

// columnValues returns the uuid column and the JSON-filled columns of a row
// of tt for content fields, in a fixed order, checking NOT NULL columns.
func (t *typedTx) columnValues(tt *typedTable, mk string, fields jsonFields) ([]colValue, error) {
	cols := append([]typedCol{{tcUUID, "uuid"}}, tt.fill...)
	out := make([]colValue, 0, len(cols))
	for _, c := range cols {
		field, fallback := c.field, false
		if f, ok := strings.CutSuffix(field, "|@meta_key"); ok {
			field, fallback = f, true
		}
		v, err := fields.value(field)
		if v == nil && err == nil && fallback {
			v = mk
		}
		if err != nil {
			return nil, fmt.Errorf("jdbc: write %s: %w: column %s of %s: %v", typedKey(tt.typ, mk), ErrDatabase, c.column, tt.name, err)
		}
		if v == nil {
			if tt.required[c.column] {
				return nil, fmt.Errorf("jdbc: write %s: %w: column %s of %s is NOT NULL, and the content has no %q field (Kylin fills the column from it)", typedKey(tt.typ, mk), ErrDatabase, c.column, tt.name, c.field)
			}
			out = append(out, colValue{c.column, nil})
			continue
		}
		s := v.(string)
		switch tt.types[c.column] {
		case "bigint", "integer", "int", "smallint", "tinyint", "mediumint":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				f, ferr := strconv.ParseFloat(s, 64)
				if ferr != nil {
					return nil, fmt.Errorf("jdbc: write %s: %w: column %s of %s is a number, and field %q is %q", typedKey(tt.typ, mk), ErrDatabase, c.column, tt.name, c.field, s)
				}
				n = int64(f)
			}
			out = append(out, colValue{c.column, n})
		default:
			out = append(out, colValue{c.column, s})
		}
	}
	return out, nil
}

// existing reads, for the meta_keys mks of tt, the rows the table has: their
// mvcc, whether their content is compressed, and their project and model
// (for the audit log of a deletion).
func (t *typedTx) existing(ctx context.Context, tt *typedTable, mks []string) (map[string]existing, error) {
	d := t.s.d
	a := &args{d: d}
	project, model := "NULL", "NULL"
	if c := tt.col("project"); c != "" {
		project = c
	}
	if len(tt.typ.modelFields) > 0 {
		for _, c := range tt.fill {
			if c.field == tt.typ.modelFields[0] {
				model = tt.col(c.column)
			}
		}
		if tt.typ.modelFields[0] == "uuid" {
			model = tt.col(tcUUID)
		}
	}
	q := fmt.Sprintf("SELECT %s, COALESCE(%s, 0), CASE WHEN %s THEN 1 ELSE 0 END, %s, %s FROM %s WHERE %s",
		tt.col(tcMetaKey), tt.col(tcMVCC), d.gzipped(tt.col(tcContent)), project, model, tt.q, d.keysCond(a, tt.col(tcMetaKey), mks))
	rows, err := t.tx.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return nil, t.s.translate(ctx, "read "+tt.name, err)
	}
	defer rows.Close()
	out := map[string]existing{}
	for rows.Next() {
		var k string
		var e existing
		var c int
		var p, m sql.NullString
		if err := rows.Scan(&k, &e.mvcc, &c, &p, &m); err != nil {
			return nil, t.s.translate(ctx, "read "+tt.name, err)
		}
		e.compressed, e.project, e.model = c == 1, p.String, m.String
		out[k] = e
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.translate(ctx, "read "+tt.name, err)
	}
	return out, nil
}

// listField lists the keys of table folder ("/TYPE/") whose column filled
// from JSON field field holds value (see metastore.FieldLister): only on
// the per-type layout, only for a column this Store fills from exactly
// that field.
func (r reader) listField(ctx context.Context, folder, field, value string, fn func(string) error) (bool, error) {
	if r.s.schema != SchemaTyped {
		return false, nil
	}
	name, ok := strings.CutPrefix(folder, "/")
	if name, ok = strings.CutSuffix(name, "/"); !ok || strings.Contains(name, "/") {
		return false, nil
	}
	tt := r.s.typed[name]
	if tt == nil {
		return false, nil
	}
	col := ""
	for _, c := range tt.fill {
		if c.field == field {
			col = tt.col(c.column)
		}
	}
	if col == "" {
		return false, nil
	}
	a := &args{d: r.s.d}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s", tt.col(tcMetaKey), tt.q, r.s.d.keyCond(a, col, value))
	if err := ctx.Err(); err != nil {
		return true, err
	}
	keys, err := r.queryKeys(ctx, q, a.vals, tt)
	if err != nil {
		return true, err
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return true, err
		}
	}
	return true, nil
}

// queryKeys runs q, which selects meta_keys of tt, and returns their
// resource keys sorted.
func (r reader) queryKeys(ctx context.Context, q string, vals []any, tt *typedTable) ([]string, error) {
	unlock := r.enter()
	defer unlock()
	rows, err := r.q.QueryContext(ctx, q, vals...)
	if err != nil {
		return nil, r.s.translate(ctx, "query "+tt.name, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var mk string
		if err := rows.Scan(&mk); err != nil {
			return nil, r.s.translate(ctx, "read "+tt.name, err)
		}
		keys = append(keys, typedKey(tt.typ, mk))
	}
	if err := rows.Err(); err != nil {
		return nil, r.s.translate(ctx, "read "+tt.name, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// ListField lists the keys of folder "/TYPE/" of the per-type layout whose
// JSON field is value, from the column Kylin copies the field into
// (metastore.FieldLister); ok is false on other layouts and for fields
// that have no column.
func (s *Store) ListField(ctx context.Context, folder, field, value string, fn func(string) error) (bool, error) {
	return s.src.listField(ctx, folder, field, value, fn)
}

// ListField is Store.ListField in the view.
func (v *View) ListField(ctx context.Context, folder, field, value string, fn func(string) error) (bool, error) {
	return v.src.listField(ctx, folder, field, value, fn)
}
