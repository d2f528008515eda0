package metastoretest

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewIDAndURL(t *testing.T) {
	a, b := NewID(t, "mt_x_"), NewID(t, "mt_x_")
	if !regexp.MustCompile(`^mt_x_[0-9a-f]{12}$`).MatchString(a) || a == b {
		t.Errorf("NewID gave %q and %q: want mt_x_ and 12 hex digits, different each time", a, b)
	}
	db := Database{Name: "postgres", Env: EnvPostgres, DSN: "url=jdbc:postgresql://h/d,username=u,password=p"}
	if got, want := db.URL("mt_1"), "mt_1@jdbc,url=jdbc:postgresql://h/d,username=u,password=p"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if _, err := ConnectSQL("oracle", "h:1", "u", "p", "d"); err == nil || !strings.Contains(err.Error(), "oracle") {
		t.Errorf("ConnectSQL with an unknown driver: %v", err)
	}
}

// TestEachDatabase runs in every configured server: a table made through
// ConnectSQL's connection is gone after DropTables, which also passes over
// a table that does not exist.
func TestEachDatabase(t *testing.T) {
	EachDatabase(t, func(t *testing.T, db Database) {
		if db.DSN == "" {
			t.Fatal("fn ran for a server that is not configured")
		}
		// ConnectSQL takes what a test parsed out of db.DSN with
		// metastore/jdbc, which this package does not import; here, the
		// form the test variables have.
		params := map[string]string{}
		for _, kv := range strings.Split(db.DSN, ",") {
			k, v, _ := strings.Cut(kv, "=")
			params[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		m := regexp.MustCompile(`^jdbc:(postgresql|mysql|mariadb)://([^/]+)/([^?;]+)`).FindStringSubmatch(params["url"])
		if m == nil {
			t.Skipf("%s: a JDBC URL this test does not read", db.Env)
		}
		driver := map[string]string{"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}[m[1]]
		conn, err := ConnectSQL(driver, m[2], params["username"], params["password"], m[3])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		id := NewID(t, "mt_rig_")
		if _, err := conn.Exec("CREATE TABLE " + conn.Quote(id) + " (k VARCHAR(10))"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec("INSERT INTO "+conn.Quote(id)+" (k) VALUES ("+conn.Placeholder(1)+")", "a"); err != nil {
			t.Fatal(err)
		}
		conn.DropTables(t, id, id+"_absent")
		if _, err := conn.Exec("SELECT k FROM " + conn.Quote(id)); err == nil {
			t.Errorf("table %s is still there after DropTables", id)
		}
	})
}
