package jdbc

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kylin-tools/metastore/metastore"
)

// Store is a Kylin metastore in a PostgreSQL, MySQL or MariaDB database. It
// is safe for concurrent use; it holds a pool of connections until Close.
type Store struct {
	cfg     Config
	db      *sql.DB
	d       dialect
	id      string // identifier
	hosts   []string
	dbName  string
	user    string
	secrets []string // the passwords, only to scrub them from driver messages (see scrub)
	desc    string

	schema    Schema
	main, log table // log is unused in the Kylin 5 layout
	// typed are the tables of the per-type layout by MetadataType name
	// (SchemaTyped; main is then its PROJECT table, for sampling).
	typed map[string]*typedTable
	// audit is Kylin 5's audit log, when the database has one; epoch its
	// epoch table (Kylin 5.0 beta). See audit.go and epoch.go.
	audit *auditTable
	epoch *epochTable

	connectTimeout time.Duration                // bounds connecting and logging in
	ioTimeout      time.Duration                // how long a connected server may stay silent
	silent         atomic.Pointer[SilenceError] // the last read or write the server left unanswered

	maxPacket   int64       // MySQL's max_allowed_packet
	noLoadData  atomic.Bool // MySQL refused LOAD DATA LOCAL INFILE
	compressNew bool        // Kylin 5: compress new rows
	src         reader
}

// Compile-time checks of the abilities a Store offers.
var (
	_ metastore.Store         = (*Store)(nil)
	_ metastore.EntryLister   = (*Store)(nil)
	_ metastore.Walker        = (*Store)(nil)
	_ metastore.ChangeWalker  = (*Store)(nil)
	_ metastore.Viewer        = (*Store)(nil)
	_ metastore.Transactional = (*Store)(nil)
	_ metastore.Describer     = (*Store)(nil)
	_ metastore.Closer        = (*Store)(nil)
)

// Open connects to the database cfg names and finds the metastore's tables
// (see the package documentation for the layouts). It fails with an error
// wrapping ErrConfig for settings that cannot work, ErrUnreachable,
// ErrAuth or ErrNoDatabase when it cannot log in, and ErrNoMetastore when
// the database has no metastore of cfg's identifier and cfg.CreateSchema
// does not ask to create one.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	u, err := ParseJDBCURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkDriverClass(u); err != nil {
		return nil, err
	}
	id := cfg.identifier()
	if !identifierRE.MatchString(id) {
		return nil, fmt.Errorf("%w: identifier %q (before @jdbc) cannot name the metastore's table: use up to 60 letters, digits and underscores", ErrConfig, id)
	}
	if cfg.Schema != SchemaAuto && cfg.Schema != Schema4 && cfg.Schema != Schema5 && cfg.Schema != SchemaTyped {
		return nil, fmt.Errorf("%w: schema %q", ErrConfig, string(cfg.Schema))
	}
	if cfg.CreateSchema != SchemaAuto && cfg.CreateSchema != Schema4 && cfg.CreateSchema != Schema5 && cfg.CreateSchema != SchemaTyped {
		return nil, fmt.Errorf("%w: schema to create %q", ErrConfig, string(cfg.CreateSchema))
	}
	pw, err := cfg.password(u)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg: cfg, d: dialect{u.Driver}, id: id, hosts: u.Hosts, dbName: u.Database,
		user: cfg.user(u), secrets: secretsOf(cfg, pw), desc: cfg.Describe(),
	}
	if err := s.connect(ctx, u, pw); err != nil {
		return nil, err
	}
	s.src = reader{s: s, q: s.db}
	if err := s.init(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// init finds (or creates) the tables and reads the settings writes need.
func (s *Store) init(ctx context.Context) error {
	err := s.detect(ctx)
	if errors.Is(err, ErrNoMetastore) && s.cfg.CreateSchema != SchemaAuto {
		found, lerr := s.lookTables(ctx)
		if lerr != nil {
			return lerr
		}
		if len(found) > 0 {
			return err // something is there, but not a metastore: leave it
		}
		if s.cfg.Schema != SchemaAuto && s.cfg.Schema != s.cfg.CreateSchema {
			return fmt.Errorf("%w: asked for a %s metastore but to create a %s one", ErrConfig, s.cfg.Schema, s.cfg.CreateSchema)
		}
		if err := s.create(ctx, s.cfg.CreateSchema); err != nil {
			return err
		}
		err = s.detect(ctx)
	}
	if err != nil {
		return err
	}
	if s.d.driver == MySQL {
		if err := s.db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&s.maxPacket); err != nil {
			return s.translate(ctx, "read max_allowed_packet", err)
		}
	}
	if s.schema != Schema4 {
		// Kylin 5 compresses unless kylin.metadata.compress.enabled=false:
		// follow what the table's rows show.
		q := fmt.Sprintf("SELECT CASE WHEN %s THEN 1 ELSE 0 END FROM %s WHERE %s > 4 LIMIT 32",
			s.d.gzipped(s.main.content), s.main.q, s.d.length(s.main.content))
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return s.translate(ctx, "sample "+s.main.name, err)
		}
		defer rows.Close()
		n, z := 0, 0
		for rows.Next() {
			var c int
			if err := rows.Scan(&c); err != nil {
				return s.translate(ctx, "sample "+s.main.name, err)
			}
			n, z = n+1, z+c
		}
		if err := rows.Err(); err != nil {
			return s.translate(ctx, "sample "+s.main.name, err)
		}
		s.compressNew = n == 0 || z > 0
	}
	return nil
}

// Schema returns the layout of the metastore's tables.
func (s *Store) Schema() Schema { return s.schema }

// Driver returns the database family.
func (s *Store) Driver() Driver { return s.d.driver }

// Tables returns the names of the metastore's tables: one for Kylin 5.0
// beta, IDENTIFIER and IDENTIFIER_log for Kylin 2.5-4.x, one per metadata
// type for Kylin 5.0 GA and later; then the audit log and epoch tables when
// the database has them.
func (s *Store) Tables() []string {
	var out []string
	switch s.schema {
	case Schema4:
		out = []string{s.main.name, s.log.name}
	case SchemaTyped:
		for _, t := range typedTypes {
			if tt := s.typed[t.name]; tt != nil {
				out = append(out, tt.name)
			}
		}
	default:
		out = []string{s.main.name}
	}
	if s.audit != nil {
		out = append(out, s.audit.name)
	}
	if s.epoch != nil {
		out = append(out, s.epoch.name)
	}
	return out
}

// Describe returns the metadata URL in Kylin's syntax with the password
// masked: kylin_metadata@jdbc,url=jdbc:postgresql://127.0.0.1:5432/kylin,username=kylin,password=***.
func (s *Store) Describe() string { return s.desc }

// Close closes the store's connections.
func (s *Store) Close() error { return s.db.Close() }

// Read returns the resource at p. It returns an error wrapping
// fs.ErrNotExist if there is none, one wrapping metastore.ErrInvalidPath if
// p is not a valid key, and one wrapping metastore.ErrContentElsewhere for a
// resource whose content Kylin pushed to HDFS and HDFSRoot does not hold.
func (s *Store) Read(ctx context.Context, p string) (metastore.Resource, error) {
	return s.src.read(ctx, p)
}

// List calls fn for every key starting with prefix, in byte order. The keys
// are read first, then fn is called: fn may use the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.src.list(ctx, prefix, fn)
}

// ListEntries is List with each resource's size and timestamp. Change is
// always empty: a database row carries nothing that tells reliably whether
// its content changed (another tool may rewrite it with the same timestamp
// and size). A Kylin 5 row's size is that of its inflated content; a row
// whose content Kylin pushed to HDFS has the size of the HDFSRoot file, or
// 0 without one.
func (s *Store) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return s.src.listEntries(ctx, prefix, fn)
}

// Walk streams the resources under prefix in byte order of key with one
// query. A resource whose content Kylin pushed to HDFS, and that HDFSRoot
// does not hold, is passed with an error wrapping
// metastore.ErrContentElsewhere.
func (s *Store) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	return s.src.walk(ctx, prefix, nil, fn)
}

// WalkChanges is Walk with each resource's Change (see
// metastore.ChangeWalker): on the Kylin 5 layouts (5.0 beta's table, 5.0
// GA's per-type tables), the SHA-256 of the row's content as stored
// (compressed), so that a resource known already is not inflated; "" on
// the Kylin 2.5-4.x layout, whose rows hold the content itself, and for
// NULL content.
func (s *Store) WalkChanges(ctx context.Context, prefix string, known func(path, change string) bool, fn func(metastore.Resource, error) error) error {
	return s.src.walkChanges(ctx, prefix, known, fn)
}

// Write writes r in a transaction of its own (see Tx.Write).
func (s *Store) Write(ctx context.Context, r metastore.Resource) error {
	if err := metastore.CheckPath(r.Path); err != nil {
		return fmt.Errorf("jdbc: write: %w", err)
	}
	return s.inOwnTx(ctx, func(tx metastore.Tx) error { return tx.Write(ctx, r) })
}

// Delete deletes the resource at p in a transaction of its own (see
// Tx.Delete).
func (s *Store) Delete(ctx context.Context, p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return fmt.Errorf("jdbc: delete: %w", err)
	}
	return s.inOwnTx(ctx, func(tx metastore.Tx) error { return tx.Delete(ctx, p) })
}

// inOwnTx runs do in a transaction of its own, committed if do succeeds
// and rolled back if not.
func (s *Store) inOwnTx(ctx context.Context, do func(metastore.Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	if err := do(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(ctx)
}

// querier is what reads need of a *sql.DB or *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// reader reads the metastore through a querier: the pool, or a View's one
// connection (then lock serializes the calls).
type reader struct {
	s    *Store
	q    querier
	lock func() (unlock func())
	view bool // q is a view's one connection, in one transaction
}

func (r reader) enter() func() {
	if r.lock == nil {
		return func() {}
	}
	return r.lock()
}

// row is one row of a metastore table, as scan passes it.
type row struct {
	key     string
	ts      int64
	null    bool   // content IS NULL
	length  int64  // bytes of content in the database
	content []byte // valid until the next row; nil if not selected
}

type contentMode int

const (
	noContent   contentMode = iota
	allContent              // every row's content
	gzipContent             // only compressed (Kylin 5) content
)

// scan runs one query over the metastore's table (or both tables of the
// Kylin 2.5-4.x layout, the row of the table Kylin reads the key from
// first), in byte order of key, and calls fn for each row whose key match
// accepts. Of two rows with the same key only the first is passed. In a
// view of tables of the Kylin 2.5-4.x layout whose key columns sort by
// bytes (see bytewise), it reads them range by range instead (see
// partitioned).
func (r reader) scan(ctx context.Context, cond func(a *args, col string) string, match func(string) bool, mode contentMode, fn func(row) error) error {
	s := r.s
	d := s.d
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := r.enter()
	defer unlock()
	st := &scanState{first: true}
	if r.view && s.schema == Schema4 && s.bytewise(s.main) && s.bytewise(s.log) {
		ok, err := r.partitioned(ctx)
		if err != nil {
			return err
		}
		if ok {
			for _, rg := range s.ranges() {
				a := &args{d: d}
				q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s ORDER BY %s", s.columns(rg.tb, mode), rg.tb.q, cond(a, rg.tb.key), rg.cond(a), rg.tb.key)
				if err := r.run(ctx, q, a.vals, mode, match, st, fn); err != nil {
					return err
				}
			}
			return nil
		}
	}
	a := &args{d: d}
	var q string
	if s.schema == Schema5 {
		q = fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s", s.columns(s.main, mode), s.main.q, cond(a, s.main.key), s.byteOrder(s.main))
	} else {
		outer := "k, t, n, l"
		if mode != noContent {
			outer += ", c"
		}
		q = fmt.Sprintf("SELECT %s FROM (SELECT %s, CASE WHEN %s THEN 1 ELSE 0 END AS p FROM %s WHERE %s UNION ALL SELECT %s, CASE WHEN %s THEN 0 ELSE 1 END AS p FROM %s WHERE %s) u ORDER BY %s, p",
			outer,
			s.columns(s.main, mode), d.inLogCond(s.main.key), s.main.q, cond(a, s.main.key),
			s.columns(s.log, mode), d.inLogCond(s.log.key), s.log.q, cond(a, s.log.key),
			d.bin("k"))
	}
	return r.run(ctx, q, a.vals, mode, match, st, fn)
}

// columns is the select list of scan's queries for tb.
func (s *Store) columns(t table, mode contentMode) string {
	d := s.d
	c := fmt.Sprintf("%s AS k, COALESCE(%s, 0) AS t, %s AS n, COALESCE(%s, 0) AS l", t.key, t.ts, d.isNull(t.content), d.length(t.content))
	switch mode {
	case allContent:
		c += ", " + t.content + " AS c"
	case gzipContent:
		c += fmt.Sprintf(", CASE WHEN %s THEN %s END AS c", d.gzipped(t.content), t.content)
	}
	return c
}

// scanState carries what scan has passed on from one query to the next.
type scanState struct {
	last  string
	first bool
}

// run runs one of scan's queries and passes its rows on.
func (r reader) run(ctx context.Context, q string, vals []any, mode contentMode, match func(string) bool, st *scanState, fn func(row) error) error {
	return r.eachRow(ctx, q, vals, mode, strings.Join(r.s.Tables(), ", "), func(key string) bool {
		if !st.first && key == st.last {
			return false // a duplicate in the other table, which Kylin ignores
		}
		if !match(key) {
			return false
		}
		st.first, st.last = false, key
		return true
	}, fn)
}

// eachRow runs the query q of a scan and passes each row whose key keep
// accepts to fn, with its content when mode selects it; what names the
// tables queried in errors.
func (r reader) eachRow(ctx context.Context, q string, vals []any, mode contentMode, what string, keep func(key string) bool, fn func(row) error) error {
	s := r.s
	rows, err := r.q.QueryContext(ctx, q, vals...)
	if err != nil {
		return s.translate(ctx, "query "+what, err)
	}
	defer rows.Close()
	var (
		rw      row
		content sql.RawBytes
	)
	dest := []any{&rw.key, &rw.ts, &rw.null, &rw.length}
	if mode != noContent {
		dest = append(dest, &content)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return s.translate(ctx, "read "+what, err)
		}
		if !keep(rw.key) {
			continue
		}
		rw.content = nil
		if mode != noContent {
			rw.content = content
		}
		if err := fn(rw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.translate(ctx, "read "+what, err)
	}
	return nil
}

// keyRange is a range of keys [lo, hi) that one table of the Kylin 2.5-4.x
// layout holds ("" for no bound).
type keyRange struct {
	tb     table
	lo, hi string
}

// cond is the condition "tb's key is in the range", byte for byte under a
// binary collation.
func (rg keyRange) cond(a *args) string {
	var parts []string
	if rg.lo != "" {
		parts = append(parts, rg.tb.key+" >= "+a.add(rg.lo))
	}
	if rg.hi != "" {
		parts = append(parts, rg.tb.key+" < "+a.add(rg.hi))
	}
	if len(parts) == 0 {
		return "1=1"
	}
	return strings.Join(parts, " AND ")
}

// ranges splits the key space, in byte order, into the ranges of keys
// Kylin 2.5-4.x keeps in IDENTIFIER (outside logPrefixes) and those it
// keeps in IDENTIFIER_log (each prefix p: [p, p with its last byte plus
// one)).
func (s *Store) ranges() []keyRange {
	var out []keyRange
	lo := ""
	for _, p := range logPrefixes {
		end := p[:len(p)-1] + string(p[len(p)-1]+1)
		out = append(out, keyRange{s.main, lo, p}, keyRange{s.log, p, end})
		lo = end
	}
	return append(out, keyRange{s.main, lo, ""})
}

// partitioned reports whether every row of the Kylin 2.5-4.x layout is in
// the table Kylin keeps its key in (no key of IDENTIFIER starts with one of
// logPrefixes, every key of IDENTIFIER_log does), as Kylin and this package
// write them. Then each range of ranges is in one table, in index order,
// and scan reads them one after the other, in order, instead of sorting
// the union of both tables, content and all, before the first row (MySQL:
// 5 to 10 seconds for 100,000 resources; PostgreSQL: a parallel sort with
// temporary files, where the ranges cost the server what a COPY TO of the
// tables does). Both checks search the primary keys' indexes.
func (r reader) partitioned(ctx context.Context) (bool, error) {
	s := r.s
	for _, tb := range []table{s.main, s.log} {
		a := &args{d: s.d}
		var parts []string
		for _, rg := range s.ranges() {
			if rg.tb.name != tb.name {
				parts = append(parts, "("+keyRange{tb, rg.lo, rg.hi}.cond(a)+")")
			}
		}
		q := fmt.Sprintf("SELECT 1 FROM %s WHERE %s LIMIT 1", tb.q, strings.Join(parts, " OR "))
		rows, err := r.q.QueryContext(ctx, q, a.vals...)
		if err != nil {
			return false, s.translate(ctx, "query "+tb.name, err)
		}
		misplaced := rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, s.translate(ctx, "query "+tb.name, err)
		}
		if misplaced {
			return false, nil
		}
	}
	return true, nil
}

// byteOrder is the ORDER BY expression that sorts tb's rows by the bytes
// of their key: the key column itself when its collation compares bytes
// (see bytewise), so that the server reads the primary key's index in
// order instead of sorting the whole table (with its content) first; else
// the key as bytes.
func (s *Store) byteOrder(tb table) string {
	if s.bytewise(tb) {
		return tb.key
	}
	return s.d.bin(tb.key)
}

// bytewise reports whether tb's key column compares and sorts keys byte
// for byte: PostgreSQL's "C" and "POSIX" collations (those Open creates),
// MySQL's utf8mb4_0900_bin, MariaDB's utf8mb4_nopad_bin (code points
// without padding: the order of their UTF-8 bytes) and binary.
func (s *Store) bytewise(tb table) bool {
	switch strings.ToLower(tb.collation) {
	case "c", "posix":
		return s.d.driver == Postgres
	case "utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb3_nopad_bin", "utf8_nopad_bin", "binary":
		return s.d.driver == MySQL
	}
	return false
}

func checkPrefix(prefix string) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("jdbc: list: %w", err)
	}
	return nil
}

func (r reader) read(ctx context.Context, p string) (metastore.Resource, error) {
	if err := metastore.CheckPath(p); err != nil {
		return metastore.Resource{}, fmt.Errorf("jdbc: read: %w", err)
	}
	var (
		res   metastore.Resource
		found bool
		cerr  error
	)
	dec := &codec{}
	err := r.query(ctx, selection{key: p},
		func(k string) bool { return k == p }, allContent, func(rw row) error {
			found = true
			var data []byte
			data, cerr = r.s.content(rw, dec)
			res = metastore.Resource{Path: p, Data: clone(data), Timestamp: rw.ts}
			return errStop
		})
	if err != nil && err != errStop {
		return metastore.Resource{}, err
	}
	if !found {
		return metastore.Resource{}, fmt.Errorf("jdbc: read %s: %w", p, fs.ErrNotExist)
	}
	if cerr != nil {
		return metastore.Resource{}, fmt.Errorf("jdbc: read %s: %w", p, cerr)
	}
	return res, nil
}

// errStop ends a scan early.
var errStop = errors.New("stop")

func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

func (r reader) list(ctx context.Context, prefix string, fn func(string) error) error {
	return listRows(ctx, r, prefix, noContent, func(rw row) (string, error) { return rw.key, nil }, fn)
}

func (r reader) listEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	mode := noContent
	if r.s.schema != Schema4 {
		mode = gzipContent
	}
	dec := &codec{}
	return listRows(ctx, r, prefix, mode, func(rw row) (metastore.Entry, error) {
		size, err := r.s.size(rw, dec)
		if err != nil {
			return metastore.Entry{}, fmt.Errorf("jdbc: list %s: %w", rw.key, err)
		}
		return metastore.Entry{Path: rw.key, Size: size, Timestamp: rw.ts}, nil
	}, fn)
}

// listRows reads the rows under prefix (their content as mode says), makes
// an item of each, and only once the query is over hands the items to fn in
// order, checking ctx before each.
func listRows[T any](ctx context.Context, r reader, prefix string, mode contentMode, item func(row) (T, error), fn func(T) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	var items []T
	err := r.query(ctx, selection{prefix: prefix},
		func(k string) bool { return strings.HasPrefix(k, prefix) }, mode, func(rw row) error {
			it, err := item(rw)
			if err != nil {
				return err
			}
			items = append(items, it)
			return nil
		})
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// walk is Walk, or WalkChanges if known is not nil.
func (r reader) walk(ctx context.Context, prefix string, known func(path, change string) bool, fn func(metastore.Resource, error) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	if r.s.schema == Schema5 && runtime.GOMAXPROCS(0) > 1 {
		return r.walkInflating(ctx, prefix, known, fn)
	}
	dec := &codec{}
	return r.query(ctx, selection{prefix: prefix},
		func(k string) bool { return strings.HasPrefix(k, prefix) }, allContent, func(rw row) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var change string
			if known != nil {
				change = r.s.change(rw)
				if change != "" && known(rw.key, change) {
					return fn(metastore.Resource{Path: rw.key, Timestamp: rw.ts, Change: change, Unread: true}, nil)
				}
			}
			data, z, err := r.s.contentStream(rw, dec)
			if err != nil {
				return fn(metastore.Resource{Path: rw.key, Timestamp: rw.ts}, fmt.Errorf("jdbc: read %s: %w", rw.key, err))
			}
			if data == nil {
				data = []byte{}
			}
			return fn(metastore.Resource{Path: rw.key, Data: data, Timestamp: rw.ts, Zlib: z, Change: change}, nil)
		})
}

// walkChanges is WalkChanges: walk with a known that is never nil.
func (r reader) walkChanges(ctx context.Context, prefix string, known func(path, change string) bool, fn func(metastore.Resource, error) error) error {
	if known == nil {
		known = func(string, string) bool { return false }
	}
	return r.walk(ctx, prefix, known, fn)
}

// change returns the Change of a row (see WalkChanges).
func (s *Store) change(rw row) string {
	if s.schema == Schema4 || rw.null {
		return ""
	}
	sum := sha256.Sum256(rw.content)
	return "sha256:" + string(sum[:])
}

// walkInflating is walk for the Kylin 5.0 beta layout: content is
// inflated on several goroutines while the query's rows are read, and fn
// gets the resources in key order on the calling goroutine. known (if not
// nil) is asked on the reading goroutine, before a row is handed to the
// inflating ones: a row it knows goes to fn Unread.
func (r reader) walkInflating(ctx context.Context, prefix string, known func(path, change string) bool, fn func(metastore.Resource, error) error) error {
	type item struct {
		res  metastore.Resource
		err  error
		raw  []byte        // compressed content, to inflate; kept as res.Zlib
		done chan struct{} // closed once res and err are final
	}
	workers := runtime.GOMAXPROCS(0)
	items := make(chan *item, 4*workers) // in key order, for fn
	jobs := make(chan *item, 2*workers)  // to inflate
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dec codec
			for it := range jobs {
				data, z, err := dec.decodeStream(it.raw)
				if err != nil {
					it.err = fmt.Errorf("jdbc: read %s: %w", it.res.Path, err)
				} else {
					it.res.Data, it.res.Zlib = clone(data), z
				}
				it.raw = nil
				close(it.done)
			}
		}()
	}
	// stop ends the scan when fn fails: the query's remaining rows are
	// read and dropped, as a serial walk's would be, which keeps a view's
	// connection usable (canceling the query would close it).
	stop := make(chan struct{})
	scanned := make(chan error, 1)
	go func() {
		err := r.scan(ctx, func(a *args, col string) string { return r.s.d.prefixCond(a, col, prefix) },
			func(k string) bool { return strings.HasPrefix(k, prefix) }, allContent, func(rw row) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				// Data and Zlib are copies no one else holds (Owned).
				it := &item{res: metastore.Resource{Path: rw.key, Timestamp: rw.ts, Data: []byte{}, Owned: true}, done: make(chan struct{})}
				if known != nil {
					it.res.Change = r.s.change(rw)
				}
				switch {
				case rw.null:
					close(it.done)
				case it.res.Change != "" && known(rw.key, it.res.Change):
					it.res.Data, it.res.Unread = nil, true
					close(it.done)
				case isGzipped(rw.content):
					it.raw = clone(rw.content)
					select {
					case jobs <- it:
					case <-stop:
						return errStop
					}
				default:
					it.res.Data = clone(rw.content)
					close(it.done)
				}
				select {
				case items <- it:
					return nil
				case <-stop:
					return errStop
				}
			})
		close(jobs)
		close(items)
		scanned <- err
	}()
	var fnErr error
	for it := range items {
		<-it.done
		if fnErr != nil {
			continue // draining until the scan sees stop
		}
		if fnErr = ctx.Err(); fnErr == nil {
			fnErr = fn(it.res, it.err)
		}
		if fnErr != nil {
			close(stop)
		}
	}
	wg.Wait()
	err := <-scanned
	if fnErr != nil {
		return fnErr
	}
	return err
}

// content returns the bytes of a row as Kylin means them: inflated (Kylin
// 5), or read from HDFSRoot (Kylin 2.5-4.x, pushed out). The result may
// alias the row's buffer or dec's.
func (s *Store) content(rw row, dec *codec) ([]byte, error) {
	data, _, err := s.contentStream(rw, dec)
	return data, err
}

// contentStream is content, with the row's zlib stream when it holds
// Kylin 5's compressed content (see codec.decodeStream); z aliases the
// row's buffer.
func (s *Store) contentStream(rw row, dec *codec) (data, z []byte, err error) {
	if s.schema != Schema4 {
		if rw.null {
			return []byte{}, nil, nil
		}
		return dec.decodeStream(rw.content)
	}
	if s.pushed(rw) {
		data, err = s.readPushed(rw)
		return data, nil, err
	}
	return rw.content, nil, nil
}

// size returns the size of a row's resource without keeping its content.
func (s *Store) size(rw row, dec *codec) (int64, error) {
	if s.schema != Schema4 {
		if rw.content != nil && isGzipped(rw.content) {
			return dec.inflatedSize(rw.content)
		}
		return rw.length, nil
	}
	if s.pushed(rw) {
		if n, ok := s.statPushed(rw.key); ok {
			return n, nil
		}
		return 0, nil
	}
	return rw.length, nil
}

// pushed reports whether a Kylin 2.5-4.x row marks content Kylin pushed to
// HDFS: NULL content (kylin.metadata.jdbc.max-cell-size overflow), or empty
// content for a key Kylin does not keep in the database always (a big
// resource's marker: PushdownResourceStore.putBigResource).
func (s *Store) pushed(rw row) bool {
	return rw.null || (rw.length == 0 && !isJSONMetadata(rw.key))
}
