package locate

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/locate/locatetest"
)

// shows reports whether text holds secret, as it is or as %q spells it.
func shows(text, secret string) bool {
	q := strconv.Quote(secret)
	return strings.Contains(text, secret) || strings.Contains(text, q[1:len(q)-1])
}

// TestSecretForms checks each password form: the password shows in none of
// what the tool may print (Mask, URL.String, the errors of ParseURL, of the
// JDBC settings and of opening a database that is down, Describe), and the
// tool logs in with the password the form gives.
func TestSecretForms(t *testing.T) {
	t.Parallel()
	for _, f := range locatetest.SecretForms() {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]string{"Mask": Mask(f.URL)}
			u, err := ParseURL(f.URL)
			if err != nil {
				seen["ParseURL's error"] = err.Error()
			} else {
				seen["URL.String"] = u.String()
				cfg, err := u.JDBCConfig()
				if err != nil {
					seen["the JDBC settings' error"] = err.Error()
				} else {
					seen["Describe"] = cfg.Describe()
					user, pw, err := cfg.Login()
					if err != nil {
						seen["Login's error"] = err.Error()
					} else if f.Password != "" && (pw != f.Password || user != f.User) {
						t.Errorf("logs in as %q with %q, want %q with %q", user, pw, f.User, f.Password)
					}
				}
				if _, err := jdbc.ParseJDBCURL(u.Get("url")); err != nil {
					seen["ParseJDBCURL's error"] = err.Error()
				}
			}
			if f.Password != "" && err != nil {
				t.Errorf("ParseURL: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st, err := OpenWith(ctx, f.URL, Options{})
			if err == nil {
				st.(interface{ Close() error }).Close()
				t.Fatalf("OpenWith of a database that is down succeeded")
			}
			seen["OpenWith's error"] = err.Error()
			// A URL without a host names localhost, where a database may
			// run and refuse the login.
			if f.User != "" && !errors.Is(err, jdbc.ErrUnreachable) && !errors.Is(err, jdbc.ErrAuth) {
				t.Errorf("OpenWith of a database that is down: %v, want jdbc.ErrUnreachable", err)
			}
			for where, text := range seen {
				for _, s := range f.Secrets {
					if shows(text, s) {
						t.Errorf("%s shows %q: %s", where, s, text)
					}
				}
			}
		})
	}
}

// TestLoginForms logs in to the test databases (see package jdbc's tests:
// METASTORE_TEST_POSTGRES_DSN, METASTORE_TEST_MYSQL_DSN) with the password
// in each form Kylin and its drivers accept: the tool uses it (the login
// succeeds and Open reports that there is no metastore of that
// identifier), and where the JDBC URL carries the password it takes
// precedence over the password parameter (a wrong one in the URL fails
// the login although the parameter is right). No error shows a password.
func TestLoginForms(t *testing.T) {
	for _, c := range []struct{ name, env string }{{"postgres", "METASTORE_TEST_POSTGRES_DSN"}, {"mysql", "METASTORE_TEST_MYSQL_DSN"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dsn := os.Getenv(c.env)
			if dsn == "" {
				if os.Getenv("METASTORE_REQUIRE_DB") == "1" {
					t.Fatalf("%s is not set and METASTORE_REQUIRE_DB=1: the database tests must run", c.env)
				}
				t.Skipf("%s not set", c.env)
			}
			u, err := ParseURL("kylin@jdbc," + dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := u.JDBCConfig()
			if err != nil {
				t.Fatal(err)
			}
			user, pw, err := cfg.Login()
			if err != nil {
				t.Fatal(err)
			}
			ju, err := jdbc.ParseJDBCURL(cfg.URL)
			if err != nil {
				t.Fatal(err)
			}
			const decoy = "Decoy-Pw-4711"
			id := "mt_absent_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
			forms := locatetest.LoginForms(id, ju.Subprotocol, ju.Hosts[0], ju.Database, user, pw, decoy)
			wrong := locatetest.LoginForms(id, ju.Subprotocol, ju.Hosts[0], ju.Database, user, decoy, pw)
			if len(forms) < 5 || len(forms) != len(wrong) {
				t.Fatalf("%d forms for the test database's password, want 5 or more", len(forms))
			}
			for i, f := range forms {
				_, err := OpenWith(t.Context(), f.URL, Options{})
				if !errors.Is(err, jdbc.ErrNoMetastore) {
					t.Errorf("%s: OpenWith: %v, want a login and jdbc.ErrNoMetastore", f.Name, err)
				}
				_, werr := OpenWith(t.Context(), wrong[i].URL, Options{})
				if !errors.Is(werr, jdbc.ErrAuth) {
					t.Errorf("%s with a wrong password: OpenWith: %v, want jdbc.ErrAuth", f.Name, werr)
				}
				for _, e := range []error{err, werr} {
					for _, s := range []string{pw, decoy} {
						if e != nil && len(s) >= 3 && shows(e.Error(), s) {
							t.Errorf("%s: the error shows a password: %v", f.Name, e)
						}
					}
				}
			}
			t.Logf("%d forms logged in; the same forms with a wrong password were refused", len(forms))
		})
	}
}
