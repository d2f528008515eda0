package jdbc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// TestWalkKylin5 checks a walk of a Kylin 5 table, whose content is
// inflated on several goroutines while the rows are read: every resource
// in byte order of key, compressed, uncompressed, NULL and empty content
// alike; a corrupt row is passed with an error and the walk goes on; an
// error of fn, or a canceled context, ends the walk at once.
func TestWalkKylin5(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s := openNew(t, db, Schema5)
		want := map[string][]byte{}
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2500 {
			p := fmt.Sprintf("/p/dict/%c/%05d", 'a'+i%7, i)
			data := bytes.Repeat([]byte(fmt.Sprintf("resource %d; ", i)), i%300)
			if err := tx.Write(ctx, metastore.Resource{Path: p, Data: data, Timestamp: int64(i)}); err != nil {
				t.Fatal(err)
			}
			want[p] = data
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		insertRaw(t, s, "/p/dict/c/plain", []byte("stored uncompressed"), 1, 0)
		want["/p/dict/c/plain"] = []byte("stored uncompressed")
		insertRaw(t, s, "/p/dict/d/corrupt", []byte("GZIPnot a zlib stream"), 1, 0)
		insertRaw(t, s, "/p/dict/e/null", nil, 1, 0)
		want["/p/dict/e/null"] = []byte{}

		for _, via := range []string{"store", "view"} {
			t.Run(via, func(t *testing.T) {
				var w metastore.Walker = s
				if via == "view" {
					v, err := s.View(ctx)
					if err != nil {
						t.Fatal(err)
					}
					defer v.Close()
					w = v.(metastore.Walker)
				}
				last, n, bad := "", 0, 0
				err := w.Walk(ctx, "/", func(r metastore.Resource, err error) error {
					if r.Path <= last {
						t.Errorf("%s after %s: not in byte order", r.Path, last)
					}
					last = r.Path
					if r.Path == "/p/dict/d/corrupt" {
						bad++
						if err == nil {
							t.Errorf("%s: corrupt content passed without an error", r.Path)
						}
						return nil
					}
					if err != nil {
						t.Errorf("%s: %v", r.Path, err)
					}
					n++
					if d, ok := want[r.Path]; !ok || !bytes.Equal(d, r.Data) || r.Data == nil {
						t.Errorf("%s: %d bytes, want %d", r.Path, len(r.Data), len(d))
					}
					return nil
				})
				if err != nil || n != len(want) || bad != 1 {
					t.Errorf("Walk: %v after %d resources and %d corrupt one(s), want %d and 1", err, n, bad, len(want))
				}

				stop := errors.New("enough")
				calls := 0
				err = w.Walk(ctx, "/", func(r metastore.Resource, err error) error {
					calls++
					if calls == 1000 {
						return stop
					}
					return nil
				})
				if !errors.Is(err, stop) || calls != 1000 {
					t.Errorf("Walk whose fn fails at the 1000th resource: %v after %d calls", err, calls)
				}

				// The store (or view) is usable after that.
				if _, err := w.(metastore.Source).Read(ctx, "/p/dict/c/plain"); err != nil {
					t.Errorf("Read after the walks: %v", err)
				}

				cctx, cancel := context.WithCancel(ctx)
				calls = 0
				err = w.Walk(cctx, "/", func(r metastore.Resource, err error) error {
					if calls++; calls == 10 {
						cancel()
					}
					return nil
				})
				if !errors.Is(err, context.Canceled) || calls > 10 {
					t.Errorf("Walk canceled at the 10th resource: %v after %d calls", err, calls)
				}
			})
		}
	})
}

// TestByteOrderOfCreatedTables checks the order of keys that sort
// differently by bytes than by a collation that pads with spaces or folds
// case, in tables made by Open (MySQL: a binary collation without padding,
// whose index order listings and walks read instead of sorting).
func TestByteOrderOfCreatedTables(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		ctx := t.Context()
		s := openNew(t, db, sc)
		t.Logf("key collation %q, ordered by %s", s.main.collation, s.byteOrder(s.main))
		keys := []string{"/a", "/a ", "/a\x01", "/a\t", "/a b", "/aB", "/ab", "/a\u00e9", "/a\U0001F600", "/a\uffff", "/A", "/execute_output/x", "/bad_query/y"}
		for i, k := range keys {
			if err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte(k), Timestamp: int64(i)}); err != nil {
				t.Fatalf("Write(%q): %v", k, err)
			}
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		var listed, walked []string
		if err := s.List(ctx, "/", func(p string) error { listed = append(listed, p); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.Walk(ctx, "/", func(r metastore.Resource, err error) error { walked = append(walked, r.Path); return err }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(listed, want) || !slices.Equal(walked, want) {
			t.Errorf("List gives %q\nWalk gives %q\nwant byte order %q", listed, walked, want)
		}
	})
}

// TestViewOfKylin4Tables checks listings and walks of a view of the Kylin
// 2.5-4.x layout against the store's own: a view of tables whose keys sort
// by bytes (PostgreSQL's "C", a binary MySQL collation, as Open creates
// them) is read range by range when every row is in the table Kylin keeps
// its key in, and falls back to sorting both tables together when a row is
// not (a stray copy, a row another tool put in the other table).
func TestViewOfKylin4Tables(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s := openNew(t, db, Schema4)
		keys := []string{"/UUID", "/a", "/bad_query", "/bad_query/p.json", "/bad_querz", "/bad_querya", "/cube/x.json",
			"/execute/j1", "/execute_output/j1", "/execute_output/j1-00", "/execute_outputs", "/execute_outpuu", "/execute_outpu",
			"/project/p.json", "/temp_statement/ADMIN/s", "/temp_statemenu", "/z", "/\u00e9", "/\U0001F600"}
		for i, k := range keys {
			if err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte(k + "!"), Timestamp: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		prefixes := []string{"/", "/b", "/bad_query", "/bad_query/", "/e", "/execute_output/", "/execute_outpu", "/t", "/zz"}
		check := func(when string) {
			t.Helper()
			v, err := s.View(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			for _, p := range prefixes {
				var want, wantData, got, gotData, listed []string
				s.Walk(ctx, p, func(r metastore.Resource, err error) error {
					want, wantData = append(want, r.Path), append(wantData, string(r.Data))
					return err
				})
				if err := v.(metastore.Walker).Walk(ctx, p, func(r metastore.Resource, err error) error {
					got, gotData = append(got, r.Path), append(gotData, string(r.Data))
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if err := v.List(ctx, p, func(k string) error { listed = append(listed, k); return nil }); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) || !slices.Equal(gotData, wantData) || !slices.Equal(listed, want) {
					t.Errorf("%s: prefix %s: the view walks %q (%q) and lists %q, the store walks %q (%q)", when, p, got, gotData, listed, want, wantData)
				}
				var sorted []string
				for _, k := range keys {
					if strings.HasPrefix(k, p) {
						sorted = append(sorted, k)
					}
				}
				slices.Sort(sorted)
				if when == "as written" && !slices.Equal(want, sorted) {
					t.Errorf("%s: prefix %s: the store walks %q, want %q", when, p, want, sorted)
				}
			}
		}
		check("as written")
		// Rows in the other table: a stray copy Kylin never reads, a row
		// only there.
		insertRaw4(t, s, s.main, "/execute_output/j1", []byte("stray"), 9)
		insertRaw4(t, s, s.log, "/cube/y.json", []byte("in the log table"), 9)
		insertRaw4(t, s, s.log, "/a", []byte("stray"), 9)
		check("with rows in the other table")
	})
}
