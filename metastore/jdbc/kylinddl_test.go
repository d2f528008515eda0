package jdbc

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kylinDDL is the statements of testdata/kylin-ddl/VERSION-DB.sql: the
// tables Kylin VERSION creates, from its own DDL, for identifier id.
func kylinDDL(t testing.TB, version string, d Driver, id string) []string {
	t.Helper()
	db := "postgresql"
	if d == MySQL {
		db = "mysql"
	}
	data, err := os.ReadFile(filepath.Join("testdata", "kylin-ddl", version+"-"+db+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, para := range strings.Split(string(data), "\n\n") {
		var lines []string
		for _, l := range strings.Split(para, "\n") {
			if !strings.HasPrefix(l, "--") && strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if st := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, " ")), ";"); st != "" {
			out = append(out, strings.ReplaceAll(st, "{{ID}}", id))
		}
	}
	return out
}

// rawConn connects to db without looking for a metastore.
func rawConn(t testing.TB, cfg Config) *sql.DB {
	t.Helper()
	s, err := connectBare(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	return s.db
}

// kylinMetastore creates, in db, the tables Kylin version creates (its
// DDL, testdata/kylin-ddl), opens the metastore and drops the tables when
// the test ends.
func kylinMetastore(t *testing.T, db testDB, version string) (*Store, Config, *sql.DB) {
	t.Helper()
	id := newID(t)
	cfg, err := ConfigFromParams(id, db.params)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawConn(t, cfg)
	t.Cleanup(func() { dropTables(t, cfg) })
	for _, st := range kylinDDL(t, version, db.driver, id) {
		if _, err := raw.Exec(st); err != nil {
			t.Fatalf("Kylin %s DDL: %v\n%s", version, err, st)
		}
	}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open a Kylin %s metastore: %v", version, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg, raw
}
