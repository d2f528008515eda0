package jdbc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// The database tests connect to the servers these variables name, each a
// Kylin metadata URL's parameters after "@jdbc,", such as
//
//	METASTORE_TEST_POSTGRES_DSN='url=jdbc:postgresql://127.0.0.1:5432/metastore_test,username=metastore,password=...'
//	METASTORE_TEST_MYSQL_DSN='url=jdbc:mysql://127.0.0.1:3306/metastore_test,username=metastore,password=...'
//
// A test whose variable is unset is skipped, unless METASTORE_REQUIRE_DB=1
// (as .ci/run sets it), which makes it fail. Every test works in tables of
// its own, named by a random identifier, and drops them at the end.
const (
	envPostgres = "METASTORE_TEST_POSTGRES_DSN"
	envMySQL    = "METASTORE_TEST_MYSQL_DSN"
	envRequire  = "METASTORE_REQUIRE_DB"
)

// testDB is one database server under test.
type testDB struct {
	name   string // "postgres", "mysql"
	driver Driver
	params []Param
}

// password is the test server's password.
func (db testDB) password() string {
	for _, p := range db.params {
		if p.Key == "password" {
			return p.Value
		}
	}
	return ""
}

// with returns db's parameters with key set to value.
func (db testDB) with(key, value string) []Param {
	var out []Param
	done := false
	for _, p := range db.params {
		if p.Key == key {
			p.Value, done = value, true
		}
		out = append(out, p)
	}
	if !done {
		out = append(out, Param{key, value})
	}
	return out
}

// splitParams splits "k=v,k=v" (values may be double-quoted).
func splitParams(t testing.TB, s string) []Param {
	var out []Param
	var cur strings.Builder
	quoted := false
	flush := func() {
		k, v, ok := strings.Cut(cur.String(), "=")
		cur.Reset()
		if !ok {
			t.Fatalf("bad test DSN parameter %q: want key=value", k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		out = append(out, Param{strings.TrimSpace(k), v})
	}
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
			cur.WriteRune(c)
		case c == ',' && !quoted:
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return out
}

// eachDB runs fn against every configured database server.
func eachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	for _, c := range []struct {
		name, env string
		driver    Driver
	}{{"postgres", envPostgres, Postgres}, {"mysql", envMySQL, MySQL}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := os.Getenv(c.env)
			if v == "" {
				if os.Getenv(envRequire) == "1" {
					t.Fatalf("%s is not set and %s=1: the database tests must run", c.env, envRequire)
				}
				t.Skipf("%s not set", c.env)
			}
			fn(t, testDB{name: c.name, driver: c.driver, params: splitParams(t, v)})
		})
	}
}

// eachDBSchema runs fn against every database server in both layouts.
func eachDBSchema(t *testing.T, fn func(t *testing.T, db testDB, sc Schema)) {
	t.Helper()
	eachDB(t, func(t *testing.T, db testDB) {
		for _, sc := range []Schema{Schema4, Schema5} {
			t.Run("kylin"+string(sc), func(t *testing.T) {
				t.Parallel()
				fn(t, db, sc)
			})
		}
	})
}

// newID returns a fresh identifier for a test's tables.
func newID(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "mt_" + hex.EncodeToString(b[:])
}

// config returns the Config of a fresh metastore of layout sc in db
// (created by Open); mod may change it.
func config(t testing.TB, db testDB, id string, sc Schema) Config {
	t.Helper()
	cfg, err := ConfigFromParams(id, db.params)
	if err != nil {
		t.Fatalf("ConfigFromParams: %v", err)
	}
	cfg.CreateSchema = sc
	if sc == Schema4 {
		cfg.HDFSRoot = t.TempDir()
	}
	return cfg
}

// openNew opens a fresh metastore of layout sc in db, and drops its tables
// when the test ends.
func openNew(t testing.TB, db testDB, sc Schema) *Store {
	t.Helper()
	return openConfig(t, config(t, db, newID(t), sc))
}

// openConfig opens cfg, and drops the tables of its identifier when the test
// ends.
func openConfig(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		dropTables(t, cfg)
	})
	return s
}

// dropTables drops the tables of cfg's identifier, however they were made.
func dropTables(t testing.TB, cfg Config) {
	t.Helper()
	cfg.CreateSchema, cfg.Schema = "", ""
	s, err := connectBare(t, cfg)
	if err != nil {
		t.Errorf("drop tables: %v", err)
		return
	}
	defer s.db.Close()
	for _, n := range candidateTables(s.id) {
		if s.d.driver != Postgres {
			n = strings.Replace(n, strings.ToLower(s.id), s.id, 1)
		}
		if _, err := s.db.Exec("DROP TABLE IF EXISTS " + s.d.quote(n)); err != nil {
			t.Errorf("drop table %s: %v", n, err)
		}
	}
}

// connectBare connects a Store to cfg's database without looking for a
// metastore.
func connectBare(t testing.TB, cfg Config) (*Store, error) {
	t.Helper()
	s := &Store{cfg: cfg, id: cfg.identifier()}
	u, err := ParseJDBCURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := cfg.password(u)
	s.d, s.hosts, s.dbName, s.user = dialect{u.Driver}, u.Hosts, u.Database, cfg.user(u)
	return s, s.connect(context.Background(), u, pw)
}

// execSQL runs a statement on s's database, failing the test on error.
func execSQL(t testing.TB, s *Store, q string, args ...any) {
	t.Helper()
	if _, err := s.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// NewTestConfig is for the package's external tests (package jdbc_test):
// the Config of a fresh metastore of layout sc (created by Open) in the
// test database of family d, whose tables are dropped when the test ends.
// Without that database the test is skipped, or fails under
// METASTORE_REQUIRE_DB=1.
func NewTestConfig(t *testing.T, d Driver, sc Schema) Config {
	t.Helper()
	env := envPostgres
	if d == MySQL {
		env = envMySQL
	}
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s is not set and %s=1: the database tests must run", env, envRequire)
		}
		t.Skipf("%s not set", env)
	}
	cfg := config(t, testDB{driver: d, params: splitParams(t, v)}, newID(t), sc)
	cfg.HDFSRoot = ""
	t.Cleanup(func() { dropTables(t, cfg) })
	return cfg
}
