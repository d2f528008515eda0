package jdbc

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// insertRaw4 inserts a Kylin 2.5-4.x row as Kylin would have written it;
// content nil is NULL.
func insertRaw4(t *testing.T, s *Store, tb table, key string, content []byte, ts int64) {
	t.Helper()
	a := &args{d: s.d}
	var c any = content
	if content == nil {
		c = nil
	}
	q := "INSERT INTO " + tb.q + " (" + tb.key + ", " + tb.ts + ", " + tb.content + ") VALUES (" + a.add(key) + ", " + a.add(ts) + ", " + a.add(c) + ")"
	execSQL(t, s, q, a.vals...)
}

// count returns the number of rows of tb.
func count(t *testing.T, s *Store, tb table) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM " + tb.q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKylin4Tables checks which table Kylin 2.5-4.x keep each resource in,
// and that a row in the other table does not hide the right one.
func TestKylin4Tables(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s := openNew(t, db, Schema4)
		inLogTable := []string{"/bad_query/learn_kylin.json", "/bad_query_archive/x", "/execute_output/j-00", "/execute_outputs", "/temp_statement/ADMIN/s1"}
		inMain := []string{"/UUID", "/cube/c.json", "/execute/j", "/executeX", "/project/bad_query.json"}
		for _, p := range append(slices.Clone(inLogTable), inMain...) {
			if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(p), Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, s, s.log); n != len(inLogTable) {
			t.Errorf("%s holds %d rows, want %d", s.log.name, n, len(inLogTable))
		}
		if n := count(t, s, s.main); n != len(inMain) {
			t.Errorf("%s holds %d rows, want %d", s.main.name, n, len(inMain))
		}

		// A stray copy in the main table (Kylin never reads it): the log
		// table's row wins, and the key is listed once.
		insertRaw4(t, s, s.main, "/bad_query/learn_kylin.json", []byte("stray"), 9)
		if r, err := s.Read(ctx, "/bad_query/learn_kylin.json"); err != nil || string(r.Data) != "/bad_query/learn_kylin.json" {
			t.Errorf("Read = (%q, %v), want the %s row", r.Data, err, s.log.name)
		}
		var walked []string
		s.Walk(ctx, "/bad_query/", func(r metastore.Resource, err error) error {
			walked = append(walked, r.Path+"="+string(r.Data))
			return err
		})
		if want := []string{"/bad_query/learn_kylin.json=/bad_query/learn_kylin.json"}; !slices.Equal(walked, want) {
			t.Errorf("Walk(/bad_query/) = %q, want %q", walked, want)
		}
		// Delete removes the key from both tables.
		if err := s.Delete(ctx, "/bad_query/learn_kylin.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(ctx, "/bad_query/learn_kylin.json"); !errors.Is(err, metastore.ErrNotExist) {
			t.Errorf("Read after Delete: %v, want not found", err)
		}
		if n := count(t, s, s.main); n != len(inMain) {
			t.Errorf("after Delete %s holds %d rows, want %d", s.main.name, n, len(inMain))
		}
	})
}

// TestCreatedTablesKeepEveryKey checks that the tables Open creates tell
// apart keys that differ only in case or in trailing spaces.
func TestCreatedTablesKeepEveryKey(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		ctx := t.Context()
		s := openNew(t, db, sc)
		t.Logf("key collation %q", s.main.collation)
		keys := []string{"/a", "/a ", "/A", "/a  "}
		for i, k := range keys {
			if err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte{'x', byte(i)}, Timestamp: int64(i)}); err != nil {
				t.Fatalf("Write(%q): %v", k, err)
			}
		}
		for i, k := range keys {
			if r, err := s.Read(ctx, k); err != nil || string(r.Data) != string([]byte{'x', byte(i)}) {
				t.Errorf("Read(%q) = (%q, %v)", k, r.Data, err)
			}
		}
		if n := count(t, s, s.main); n != len(keys) {
			t.Errorf("%s holds %d rows, want %d", s.main.name, n, len(keys))
		}
	})
}

// TestKylin4Pushdown checks resources whose content Kylin 2.5-4.x pushed to
// HDFS: reported without HDFSRoot, read from it with one.
func TestKylin4Pushdown(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		cfg := config(t, db, newID(t), Schema4)
		cfg.HDFSRoot = ""
		s := openConfig(t, cfg)
		dict := []byte("\x00\x01a big dictionary")
		snap := []byte("a big table snapshot")
		insertRaw4(t, s, s.main, "/dict/DEFAULT.T/C/big.dict", nil, 5)                // NULL: max-cell-size overflow
		insertRaw4(t, s, s.main, "/table_snapshot/DEFAULT.T/s.snapshot", []byte{}, 6) // empty: a big resource's marker
		insertRaw4(t, s, s.main, "/cube/empty.json", []byte{}, 7)                     // JSON: really empty
		insertRaw4(t, s, s.main, "/execute/job", []byte{}, 8)                         // under /execute: really empty
		insertRaw4(t, s, s.main, "/cube/c.json", []byte("{}"), 9)

		_, err := s.Read(ctx, "/dict/DEFAULT.T/C/big.dict")
		if !errors.Is(err, metastore.ErrContentElsewhere) || !strings.Contains(err.Error(), cfg.Identifier+"/resources-jdbc/dict/DEFAULT.T/C/big.dict") {
			t.Errorf("Read of a NULL row: %v, want ErrContentElsewhere naming the HDFS path", err)
		}
		if _, err := s.Read(ctx, "/table_snapshot/DEFAULT.T/s.snapshot"); !errors.Is(err, metastore.ErrContentElsewhere) {
			t.Errorf("Read of an empty marker row: %v, want ErrContentElsewhere", err)
		}
		for _, p := range []string{"/cube/empty.json", "/execute/job"} {
			if r, err := s.Read(ctx, p); err != nil || len(r.Data) != 0 || r.Timestamp == 0 {
				t.Errorf("Read(%s) = (%q, %d, %v), want an empty resource", p, r.Data, r.Timestamp, err)
			}
		}
		type walked struct {
			path      string
			data      string
			elsewhere bool
		}
		walk := func(s *Store) []walked {
			var got []walked
			if err := s.Walk(ctx, "/", func(r metastore.Resource, err error) error {
				if err != nil && !errors.Is(err, metastore.ErrContentElsewhere) {
					t.Errorf("Walk: %s: %v", r.Path, err)
				}
				got = append(got, walked{r.Path, string(r.Data), errors.Is(err, metastore.ErrContentElsewhere)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		want := []walked{
			{"/cube/c.json", "{}", false}, {"/cube/empty.json", "", false},
			{"/dict/DEFAULT.T/C/big.dict", "", true}, {"/execute/job", "", false},
			{"/table_snapshot/DEFAULT.T/s.snapshot", "", true},
		}
		if got := walk(s); !slices.Equal(got, want) {
			t.Errorf("Walk without HDFSRoot =\n%v\nwant\n%v", got, want)
		}

		// A local copy of HDFS: kylin.env.hdfs-working-dir with the
		// metastore's folder in it, or the metastore's folder itself.
		root := t.TempDir()
		put := func(path string, data []byte) { metastoretest.WriteFile(t, path, data, 0o644) }
		put(filepath.Join(root, cfg.Identifier, "resources-jdbc", "dict", "DEFAULT.T", "C", "big.dict"), dict)
		cfg.HDFSRoot = root
		withRoot := openConfig(t, cfg)
		if _, err := withRoot.Read(ctx, "/table_snapshot/DEFAULT.T/s.snapshot"); !errors.Is(err, metastore.ErrContentElsewhere) || !strings.Contains(err.Error(), root) {
			t.Errorf("Read of a pushed resource missing from HDFSRoot: %v, want ErrContentElsewhere naming %s", err, root)
		}
		put(filepath.Join(root, cfg.Identifier, "resources-jdbc", "table_snapshot", "DEFAULT.T", "s.snapshot"), snap)
		want[2] = walked{"/dict/DEFAULT.T/C/big.dict", string(dict), false}
		want[4] = walked{"/table_snapshot/DEFAULT.T/s.snapshot", string(snap), false}
		if got := walk(withRoot); !slices.Equal(got, want) {
			t.Errorf("Walk with HDFSRoot =\n%v\nwant\n%v", got, want)
		}
		sizes := map[string]int64{}
		withRoot.ListEntries(ctx, "/", func(e metastore.Entry) error { sizes[e.Path] = e.Size; return nil })
		if sizes["/dict/DEFAULT.T/C/big.dict"] != int64(len(dict)) {
			t.Errorf("ListEntries size of a pushed resource = %d, want %d", sizes["/dict/DEFAULT.T/C/big.dict"], len(dict))
		}

		other := t.TempDir()
		put(filepath.Join(other, "resources-jdbc", "dict", "DEFAULT.T", "C", "big.dict"), dict)
		cfg.HDFSRoot = other
		if r, err := openConfig(t, cfg).Read(ctx, "/dict/DEFAULT.T/C/big.dict"); err != nil || string(r.Data) != string(dict) || r.Timestamp != 5 {
			t.Errorf("Read with HDFSRoot the metastore's own folder = (%q, %v)", r.Data, err)
		}
	})
}

// TestKylinCreatedTables checks tables made by Kylin's own DDL: unquoted
// names (lower case in PostgreSQL), the database's default collation for
// the key (case-insensitive in MySQL and MariaDB), an identifier in upper
// case.
func TestKylinCreatedTables(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		id := strings.ToUpper(newID(t))
		cfg, err := ConfigFromParams(id, db.params)
		if err != nil {
			t.Fatal(err)
		}
		// Kylin's metadata-jdbc-*.properties create.
		blob := "LONGBLOB"
		if db.driver == Postgres {
			blob = "BYTEA"
		}
		admin := openNew(t, db, Schema5) // any store, for its connection
		t.Cleanup(func() { dropTables(t, cfg) })
		for _, n := range []string{id, id + "_log"} {
			execSQL(t, admin, "create table if not exists "+n+" ( META_TABLE_KEY VARCHAR(255) primary key, META_TABLE_TS BIGINT, META_TABLE_CONTENT "+blob+" )")
		}
		if db.driver == Postgres {
			// A key collation that does not sort by bytes, if the server has
			// one.
			var icu int
			admin.db.QueryRow(`SELECT COUNT(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Scan(&icu)
			if icu > 0 {
				for _, n := range []string{id, id + "_log"} {
					execSQL(t, admin, "ALTER TABLE "+n+` ALTER COLUMN META_TABLE_KEY TYPE VARCHAR(255) COLLATE "und-x-icu"`)
				}
			}
		}
		s := openConfig(t, cfg)
		if s.Schema() != Schema4 {
			t.Fatalf("detected %s, want %s", s.Schema(), Schema4)
		}
		t.Logf("tables %v, key collation %q", s.Tables(), s.main.collation)
		keys := []string{"/a_b", "/a-b", "/aB", "/a/b", "/a.b", "/Z", "/_x", "/bad_query/Q.json", "/bad_query/q2.json", "/é.json"}
		for i, k := range keys {
			if err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte(k), Timestamp: int64(i)}); err != nil {
				t.Fatalf("Write(%s): %v", k, err)
			}
		}
		var got []string
		if err := s.List(ctx, "/", func(p string) error { got = append(got, p); return nil }); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("List(/) = %q, want byte order %q", got, want)
		}
		got = nil
		s.List(ctx, "/a_", func(p string) error { got = append(got, p); return nil })
		if !slices.Equal(got, []string{"/a_b"}) {
			t.Errorf("List(/a_) = %q, want [/a_b]", got)
		}
		got = nil
		s.List(ctx, "/A", func(p string) error { got = append(got, p); return nil })
		if len(got) != 0 {
			t.Errorf("List(/A) = %q, want nothing (keys are case-sensitive)", got)
		}
		if _, err := s.Read(ctx, "/AB"); !errors.Is(err, metastore.ErrNotExist) {
			t.Errorf("Read(/AB) with /aB present: %v, want not found", err)
		}
		if db.driver == MySQL && strings.HasSuffix(s.main.collation, "_ci") {
			// The collation takes /ab for /aB: writing it must not overwrite
			// /aB.
			err := s.Write(ctx, metastore.Resource{Path: "/ab", Data: []byte("other"), Timestamp: 99})
			if !errors.Is(err, ErrKeyCollision) {
				t.Errorf("Write(/ab) beside /aB under %s: %v, want ErrKeyCollision", s.main.collation, err)
			}
			if r, err := s.Read(ctx, "/aB"); err != nil || string(r.Data) != "/aB" {
				t.Errorf("after the refused write Read(/aB) = (%q, %v), want it untouched", r.Data, err)
			}
			if err := s.Delete(ctx, "/AB"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Read(ctx, "/aB"); err != nil {
				t.Errorf("Delete(/AB) removed /aB: %v", err)
			}
		}
	})
}
