package jdbc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// noSecret fails the test if msg holds one of the secrets.
func noSecret(t *testing.T, what, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("%s reveals a password: %s", what, msg)
		}
	}
}

// TestErrors checks that each failure is named clearly, and that no message
// holds the password.
func TestErrors(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		real := db.password()
		const wrong = "Wr0ng-Secret-4711"
		var u JDBCURL
		for _, p := range db.params {
			if p.Key == "url" {
				u, _ = ParseJDBCURL(p.Value)
			}
		}
		open := func(params []Param, mod func(*Config)) (*Store, error) {
			cfg, err := ConfigFromParams(newID(t), params)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnectTimeout = 3 * time.Second
			if mod != nil {
				mod(&cfg)
			}
			noSecret(t, "Describe", cfg.Describe(), real, wrong)
			s, err := Open(ctx, cfg)
			if s != nil {
				t.Cleanup(func() { s.Close() })
			}
			if err != nil {
				noSecret(t, "Open's error", err.Error(), real, wrong)
			}
			return s, err
		}
		scheme := "jdbc:postgresql"
		if db.driver == MySQL {
			scheme = "jdbc:mysql"
		}

		t.Run("Down", func(t *testing.T) {
			_, err := open(db.with("url", scheme+"://127.0.0.1:1/"+u.Database), nil)
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1 is down or unreachable") {
				t.Errorf("Open of a server that is down: %v, want ErrUnreachable naming 127.0.0.1:1", err)
			}
		})
		t.Run("WrongPassword", func(t *testing.T) {
			_, err := open(db.with("password", wrong), nil)
			if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "wrong username or password") {
				t.Errorf("Open with a wrong password: %v, want ErrAuth", err)
			}
		})
		t.Run("NoDatabase", func(t *testing.T) {
			_, err := open(db.with("url", scheme+"://"+u.Hosts[0]+"/no_such_db_4711"), nil)
			// MySQL says "access denied" for a database the user may not see.
			if !errors.Is(err, ErrNoDatabase) && !(db.driver == MySQL && errors.Is(err, ErrAuth)) {
				t.Errorf("Open of a missing database: %v, want ErrNoDatabase", err)
			}
			if err != nil && !strings.Contains(err.Error(), "no_such_db_4711") {
				t.Errorf("the error does not name the database: %v", err)
			}
		})
		t.Run("NoTables", func(t *testing.T) {
			_, err := open(db.params, nil)
			if !errors.Is(err, ErrNoMetastore) || !strings.Contains(err.Error(), u.Database) || !strings.Contains(err.Error(), "_log") {
				t.Errorf("Open without tables: %v, want ErrNoMetastore naming the database and the tables", err)
			}
		})
		t.Run("TableDropped", func(t *testing.T) {
			s := openNew(t, db, Schema5)
			execSQL(t, s, "DROP TABLE "+s.main.q)
			_, err := s.Read(ctx, "/UUID")
			if !errors.Is(err, ErrNoMetastore) || !strings.Contains(err.Error(), s.main.name) {
				t.Errorf("Read after the table was dropped: %v, want ErrNoMetastore naming %s", err, s.main.name)
			}
		})
		t.Run("WrongSchema", func(t *testing.T) {
			s := openNew(t, db, Schema4)
			cfg := s.cfg
			cfg.CreateSchema, cfg.Schema = "", Schema5
			if _, err := Open(ctx, cfg); !errors.Is(err, ErrNoMetastore) || !strings.Contains(err.Error(), "not Kylin 5.x") {
				t.Errorf("Open of a Kylin 4 metastore as Kylin 5: %v, want ErrNoMetastore", err)
			}
			execSQL(t, s, "DROP TABLE "+s.log.q)
			cfg.Schema = ""
			if _, err := Open(ctx, cfg); !errors.Is(err, ErrNoMetastore) || !strings.Contains(err.Error(), s.log.name) {
				t.Errorf("Open of a Kylin 4 metastore without its _log table: %v, want ErrNoMetastore naming it", err)
			}
		})
		t.Run("EncryptedPassword", func(t *testing.T) {
			s, err := open(append(db.with("password", encryptCFB(t, real, DefaultCipherIV)), Param{"passwordEncrypted", "true"}), func(c *Config) { c.CreateSchema = Schema5 })
			if err != nil {
				t.Fatalf("Open with passwordEncrypted=true: %v", err)
			}
			dropTables(t, s.cfg)
			s, err = open(db.with("password", "ENC('"+encryptECB(t, real)+"')"), func(c *Config) { c.CreateSchema = Schema5 })
			if err != nil {
				t.Fatalf("Open with password=ENC('...'): %v", err)
			}
			dropTables(t, s.cfg)
		})
		t.Run("KeyTooLong", func(t *testing.T) {
			s := openNew(t, db, Schema4)
			key := "/table/" + strings.Repeat("é", 250) + ".json"
			err := s.Write(ctx, metastore.Resource{Path: key, Data: []byte("{}"), Timestamp: 1})
			if !errors.Is(err, ErrKeyTooLong) || !strings.Contains(err.Error(), "262 characters") || !strings.Contains(err.Error(), "at most 255") {
				t.Errorf("Write of a 262-character key: %v, want ErrKeyTooLong", err)
			}
			// The width counts characters, not bytes: 255 characters of
			// 2-byte UTF-8 fit.
			key = "/table/" + strings.Repeat("é", 243) + ".json"
			if err := s.Write(ctx, metastore.Resource{Path: key, Data: []byte("{}"), Timestamp: 1}); err != nil {
				t.Errorf("Write of a 255-character key: %v", err)
			}
			if r, err := s.Read(ctx, key); err != nil || string(r.Data) != "{}" {
				t.Errorf("Read of a 255-character key: (%q, %v)", r.Data, err)
			}
		})
		t.Run("Describe", func(t *testing.T) {
			s := openNew(t, db, Schema5)
			d := s.Describe()
			if !strings.Contains(d, "password=***") || !strings.HasPrefix(d, s.cfg.Identifier+"@jdbc,url=jdbc:") {
				t.Errorf("Describe() = %q", d)
			}
			noSecret(t, "Describe", d, real)
		})
		if db.driver != MySQL {
			return
		}
		t.Run("MaxAllowedPacket", func(t *testing.T) {
			for _, sc := range []Schema{Schema4, Schema5} {
				s := openNew(t, db, sc)
				if err := s.Write(ctx, metastore.Resource{Path: "/UUID", Data: []byte("u"), Timestamp: 1}); err != nil {
					t.Fatal(err)
				}
				big := metastoretest.PseudoRandom(int(s.maxPacket), 7)
				err := s.Write(ctx, metastore.Resource{Path: "/dict/T/C/huge.dict", Data: big, Timestamp: 2})
				if !errors.Is(err, ErrPacketTooLarge) || !strings.Contains(err.Error(), "/dict/T/C/huge.dict") ||
					!strings.Contains(err.Error(), fmt.Sprint(len(big))) || !strings.Contains(err.Error(), "raise max_allowed_packet") {
					t.Errorf("%s: Write of %d bytes: %v, want ErrPacketTooLarge naming the resource, its size and the fix", sc, len(big), err)
				}
				tx, _ := s.Begin(ctx)
				tx.Write(ctx, metastore.Resource{Path: "/cube/small.json", Data: []byte("{}"), Timestamp: 3})
				tx.Write(ctx, metastore.Resource{Path: "/dict/T/C/huge.dict", Data: big, Timestamp: 2})
				if err := tx.Commit(ctx); !errors.Is(err, ErrPacketTooLarge) {
					t.Errorf("%s: Commit with a huge resource: %v, want ErrPacketTooLarge", sc, err)
				}
				var paths []string
				s.List(ctx, "/", func(p string) error { paths = append(paths, p); return nil })
				if len(paths) != 1 || paths[0] != "/UUID" {
					t.Errorf("%s: after the failed writes the store holds %q, want only /UUID", sc, paths)
				}
			}
		})
	})
}
