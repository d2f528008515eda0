package metastoretest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The database tests connect to the servers these variables name, each a
// Kylin metadata URL's parameters after "@jdbc,", such as
//
//	METASTORE_TEST_POSTGRES_DSN='url=jdbc:postgresql://127.0.0.1:5432/metastore_test,username=metastore,password=...'
//	METASTORE_TEST_MYSQL_DSN='url=jdbc:mysql://127.0.0.1:3306/metastore_test,username=metastore,password=...'
//
// A test whose variable is unset is skipped, unless METASTORE_REQUIRE_DB=1
// (as .ci/run sets it), which makes it fail. Every test works in tables of
// its own, named by a random identifier (NewID), and drops them at the end.
//
// This file knows nothing of metastore/jdbc, so that jdbc's own tests can
// use it too: a test parses a metadata URL with jdbc or locate, and hands
// the parts to ConnectSQL.
const (
	EnvPostgres  = "METASTORE_TEST_POSTGRES_DSN"
	EnvMySQL     = "METASTORE_TEST_MYSQL_DSN"
	EnvRequireDB = "METASTORE_REQUIRE_DB"
)

// Database is one of the test database servers.
type Database struct {
	Name string // "postgres", "mysql"
	Env  string // the variable that names it
	DSN  string // its value: a metadata URL's parameters after "@jdbc,"; "" if unset
}

// Databases returns the test database servers, configured or not.
func Databases() []Database {
	return []Database{
		{Name: "postgres", Env: EnvPostgres, DSN: os.Getenv(EnvPostgres)},
		{Name: "mysql", Env: EnvMySQL, DSN: os.Getenv(EnvMySQL)},
	}
}

// Require skips the test if db is not configured, or fails it if
// METASTORE_REQUIRE_DB=1.
func (db Database) Require(t testing.TB) {
	t.Helper()
	if db.DSN != "" {
		return
	}
	if os.Getenv(EnvRequireDB) == "1" {
		t.Fatalf("%s is not set and %s=1: the database tests must run", db.Env, EnvRequireDB)
	}
	t.Skipf("%s not set", db.Env)
}

// URL returns the metadata URL of the metastore with identifier id in db,
// password included.
func (db Database) URL(id string) string {
	return id + "@jdbc," + db.DSN
}

// EachDatabase runs fn in a subtest named after each test database server;
// the subtest of a server that is not configured is skipped (see Require).
func EachDatabase(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	for _, db := range Databases() {
		t.Run(db.Name, func(t *testing.T) {
			db.Require(t)
			fn(t, db)
		})
	}
}

// NewID returns prefix followed by 12 random hexadecimal digits: an
// identifier for a test's own tables.
func NewID(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// SQL is a plain connection to a test database, for what a test does behind
// a store's back, with how that database quotes an identifier and writes
// the n-th placeholder (from 1).
type SQL struct {
	*sql.DB
	Quote       func(name string) string
	Placeholder func(n int) string
}

// ConnectSQL connects to a database: driver is "postgres" or "mysql", addr
// is host:port.
func ConnectSQL(driver, addr, user, password, database string) (SQL, error) {
	switch driver {
	case "postgres":
		pc, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s/%s", addr, database))
		if err != nil {
			return SQL{}, err
		}
		pc.User, pc.Password = user, password
		return SQL{stdlib.OpenDB(*pc), func(s string) string { return `"` + s + `"` }, func(n int) string { return fmt.Sprintf("$%d", n) }}, nil
	case "mysql":
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, password, "tcp", addr, database
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return SQL{}, err
		}
		return SQL{sql.OpenDB(conn), func(s string) string { return "`" + s + "`" }, func(int) string { return "?" }}, nil
	}
	return SQL{}, fmt.Errorf("no test database driver %q", driver)
}

// DropTables drops tables that exist; a failure fails the test (but lets it
// go on).
func (db SQL) DropTables(t testing.TB, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + db.Quote(tb)); err != nil {
			t.Errorf("drop table %s: %v", tb, err)
		}
	}
}
