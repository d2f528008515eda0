package jdbc

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// table is one metastore table as the database has it.
type table struct {
	name string // as the database spells it
	q    string // quoted
	// Quoted column names; mvcc is empty in the Kylin 2.5-4.x layout.
	key, ts, content, mvcc string
	// collation of the key column ("" if the database reports none).
	collation string
	// keyLen is the key column's width in characters (0: unknown).
	keyLen int
}

// Column names of Kylin's metastore tables (JDBCResourceStore,
// JdbcMetadataStore), lower-cased for matching.
const (
	colKey     = "meta_table_key"
	colTS      = "meta_table_ts"
	colContent = "meta_table_content"
	colMVCC    = "meta_table_mvcc"
)

var identifierRE = regexp.MustCompile(`^[A-Za-z0-9_$]{1,60}$`)

// foundTable is what information_schema says of a table.
type foundTable struct {
	name      string
	cols      map[string]string // lower-cased name -> name
	collation string            // of the key column
	keyLen    int               // of the key column
	// Per column (lower-cased name): NOT NULL without a default, and the
	// data type (lower case: "bigint", "character varying", "varchar"...).
	required map[string]bool
	types    map[string]string
}

// candidateTables are the names of the tables that may belong to the
// metastore of identifier id: the Kylin 2.5-4.x and Kylin 5.0 beta tables,
// their companions (audit log, epochs), and the tables of the per-type
// layout.
func candidateTables(id string) []string {
	names := []string{id, id + "_log", id + auditSuffix, id + auditSuffixV2, id + epochSuffix}
	for _, t := range typedTypes {
		names = append(names, t.table(id))
	}
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
	return names
}

// detect finds the metastore's tables and their layout.
func (s *Store) detect(ctx context.Context) error {
	found, err := s.lookTables(ctx)
	if err != nil {
		return err
	}
	mainName, logName := s.id, s.id+"_log"
	main, log := pick(found, mainName), pick(found, logName)
	if typed := pick(found, typedByName("PROJECT").table(s.id)); typed != nil {
		use, err := s.preferTyped(ctx, main, typed)
		if err != nil {
			return err
		}
		if use {
			return s.detectTyped(found)
		}
	}
	missing := func(t *foundTable, cols ...string) []string {
		var out []string
		for _, c := range cols {
			if _, ok := t.cols[c]; !ok {
				out = append(out, strings.ToUpper(c))
			}
		}
		return out
	}
	switch {
	case main == nil && log == nil:
		return s.noMetastore("")
	case main == nil:
		return fmt.Errorf("jdbc: %w: database %s on %s has table %s but not %s: an incomplete Kylin 2.5-4.x metastore", ErrNoMetastore, s.dbName, s.where(), log.name, mainName)
	}
	if m := missing(main, colKey, colTS, colContent); len(m) > 0 {
		return fmt.Errorf("jdbc: %w: table %s in database %s on %s is not a Kylin metastore table: no column %s", ErrNoMetastore, main.name, s.dbName, s.where(), strings.Join(m, ", "))
	}
	schema := Schema5
	if _, ok := main.cols[colMVCC]; !ok {
		schema = Schema4
		if log == nil {
			return fmt.Errorf("jdbc: %w: table %s in database %s on %s has Kylin 2.5-4.x columns but %s is missing (Kylin creates both)", ErrNoMetastore, main.name, s.dbName, s.where(), logName)
		}
		if m := missing(log, colKey, colTS, colContent); len(m) > 0 {
			return fmt.Errorf("jdbc: %w: table %s in database %s on %s is not a Kylin metastore table: no column %s", ErrNoMetastore, log.name, s.dbName, s.where(), strings.Join(m, ", "))
		}
	}
	if s.cfg.Schema != SchemaAuto && s.cfg.Schema != schema {
		return fmt.Errorf("jdbc: %w: %s in database %s on %s is a %s metastore, not %s", ErrNoMetastore, main.name, s.dbName, s.where(), schema, s.cfg.Schema)
	}
	s.schema = schema
	s.main = s.makeTable(main)
	if schema == Schema4 {
		s.log = s.makeTable(log)
	}
	if schema == Schema5 {
		s.findCompanions(found)
	}
	return nil
}

func (s *Store) makeTable(f *foundTable) table {
	t := table{
		name: f.name, q: s.d.quote(f.name), collation: f.collation, keyLen: f.keyLen,
		key: s.d.quote(f.cols[colKey]), ts: s.d.quote(f.cols[colTS]), content: s.d.quote(f.cols[colContent]),
	}
	if c, ok := f.cols[colMVCC]; ok {
		t.mvcc = s.d.quote(c)
	}
	return t
}

// noMetastore is the error for a database without the metastore's tables.
func (s *Store) noMetastore(extra string) error {
	where := "database " + s.dbName
	if s.d.driver == Postgres {
		where = "the current schema of database " + s.dbName
	}
	return fmt.Errorf("jdbc: %w: %s on %s has no Kylin metastore %q: looked for tables %s_project, %s_model, ... (Kylin 5.0 GA and later, one per metadata type), table %s (Kylin 5.0 beta: META_TABLE_KEY, META_TABLE_CONTENT, META_TABLE_TS, META_TABLE_MVCC) and tables %s and %s_log (Kylin 2.5-4.x: META_TABLE_KEY, META_TABLE_TS, META_TABLE_CONTENT); check the identifier before @jdbc in the metadata URL, or create the tables by restoring with --create-schema 4 or 5%s",
		ErrNoMetastore, where, s.where(), s.id, s.id, s.id, s.id, s.id, s.id, extra)
}

// lookTables lists the columns of the tables that may be the metastore's.
func (s *Store) lookTables(ctx context.Context) (map[string]*foundTable, error) {
	a := &args{d: s.d}
	var q string
	if s.d.driver == Postgres {
		q = "SELECT table_name, column_name, COALESCE(collation_name, ''), COALESCE(character_maximum_length, 0), CASE WHEN is_nullable = 'NO' AND column_default IS NULL THEN 1 ELSE 0 END, lower(data_type) FROM information_schema.columns WHERE table_schema = current_schema() AND lower(table_name) IN (" +
			a.list(candidateTables(s.id)) + ")"
	} else {
		q = "SELECT TABLE_NAME, COLUMN_NAME, COALESCE(COLLATION_NAME, ''), COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), CASE WHEN IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' THEN 1 ELSE 0 END, LOWER(DATA_TYPE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND LOWER(TABLE_NAME) IN (" +
			a.list(candidateTables(s.id)) + ")"
	}
	rows, err := s.db.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return nil, s.translate(ctx, "look for the metastore tables", err)
	}
	defer rows.Close()
	found := map[string]*foundTable{}
	for rows.Next() {
		var tname, cname, coll, typ string
		var width int64
		var required int
		if err := rows.Scan(&tname, &cname, &coll, &width, &required, &typ); err != nil {
			return nil, s.translate(ctx, "look for the metastore tables", err)
		}
		t := found[tname]
		if t == nil {
			t = &foundTable{name: tname, cols: map[string]string{}, required: map[string]bool{}, types: map[string]string{}}
			found[tname] = t
		}
		lc := strings.ToLower(cname)
		t.cols[lc] = cname
		t.required[lc] = required == 1
		t.types[lc] = typ
		if lc == colKey || lc == tcMetaKey {
			t.collation, t.keyLen = coll, int(min(width, 1<<30))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.translate(ctx, "look for the metastore tables", err)
	}
	return found, nil
}

// pick returns the table named name, preferring the exact spelling, then
// the lower-case one (PostgreSQL's folding of Kylin's unquoted names).
func pick(found map[string]*foundTable, name string) *foundTable {
	if t, ok := found[name]; ok {
		return t
	}
	if t, ok := found[strings.ToLower(name)]; ok {
		return t
	}
	var names []string
	for n := range found {
		if strings.EqualFold(n, name) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return found[names[0]]
}

// binaryCollation returns the MySQL collation that compares keys byte for
// byte, trailing spaces included: utf8mb4_nopad_bin (MariaDB),
// utf8mb4_0900_bin (MySQL 8), else utf8mb4_bin (which ignores trailing
// spaces).
func (s *Store) binaryCollation(ctx context.Context) (string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')")
	if err != nil {
		return "", s.translate(ctx, "list the server's collations", err)
	}
	defer rows.Close()
	best := "utf8mb4_bin"
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", s.translate(ctx, "list the server's collations", err)
		}
		best = c
	}
	return best, rows.Err()
}

// create makes the tables of layout sc. PostgreSQL names are lower case, as
// Kylin's unquoted names become there; key columns compare byte by byte
// (COLLATE "C", a binary utf8mb4 collation), as Kylin 5 creates them.
func (s *Store) create(ctx context.Context, sc Schema) error {
	type stmt struct{ sql, table string } // table: created by sql
	var stmts []stmt
	name := s.id
	if s.d.driver == Postgres {
		name = strings.ToLower(name)
	}
	keyType := `VARCHAR(255) COLLATE "C" PRIMARY KEY`
	blob, engine := "BYTEA", ""
	if s.d.driver == MySQL {
		coll, err := s.binaryCollation(ctx)
		if err != nil {
			return err
		}
		keyType = "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE " + coll + " PRIMARY KEY"
		blob, engine = "LONGBLOB", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	}
	q := s.d.quote
	switch sc {
	case Schema5:
		stmts = append(stmts, stmt{fmt.Sprintf("CREATE TABLE %s (META_TABLE_KEY %s, META_TABLE_CONTENT %s, META_TABLE_TS BIGINT, META_TABLE_MVCC BIGINT)%s", q(name), keyType, blob, engine), name})
	case Schema4:
		for _, n := range []string{name, name + "_log"} {
			stmts = append(stmts, stmt{fmt.Sprintf("CREATE TABLE %s (META_TABLE_KEY %s, META_TABLE_TS BIGINT, META_TABLE_CONTENT %s)%s", q(n), keyType, blob, engine), n})
			// Kylin indexes META_TABLE_TS too (IDX_META_TABLE_TS).
			if s.d.driver == Postgres {
				stmts = append(stmts, stmt{fmt.Sprintf("CREATE INDEX %s ON %s (META_TABLE_TS)", q(n+"_idx_meta_table_ts"), q(n)), ""})
			} else {
				stmts = append(stmts, stmt{fmt.Sprintf("CREATE INDEX IDX_META_TABLE_TS ON %s (META_TABLE_TS)", q(n)), ""})
			}
		}
	case SchemaTyped:
		return fmt.Errorf("jdbc: %w: metastore cannot create the tables of %s: start Kylin (5.0 GA or later) once on database %s, which creates them, then restore", ErrConfig, sc, s.dbName)
	default:
		return fmt.Errorf("jdbc: %w: cannot create schema %q", ErrConfig, string(sc))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.translate(ctx, "create the metastore tables", err)
	}
	var done []string
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.sql); err != nil {
			tx.Rollback()
			if s.d.driver == MySQL {
				// MySQL commits DDL at once: drop what was made.
				for _, n := range done {
					s.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+q(n))
				}
			}
			return s.translate(ctx, "create the "+sc.String()+" metastore tables", err)
		}
		if st.table != "" {
			done = append(done, st.table)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.translate(ctx, "create the metastore tables", err)
	}
	return nil
}
