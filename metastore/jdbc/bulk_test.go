package jdbc

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// bulkContent is the content of resource i in version v: every byte value
// (MySQL escapes some, PostgreSQL's binary COPY sends them as they are),
// of sizes from empty to tens of KiB.
func bulkContent(i, v int) []byte {
	n := (i * 37) % 40000
	if i%11 == 0 {
		n = 0
	}
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i + v + j*j)
	}
	return b
}

// TestTxBulkWrites checks a transaction that writes more than a batch of
// new rows and of rows that replace others, mixed, in both tables of the
// Kylin 2.5-4.x layout: new rows go in bulk (COPY; LOAD DATA LOCAL INFILE,
// or a multi-row INSERT where the server refuses that), the
// others as upserts (PostgreSQL through a staging table, reused from batch
// to batch); in the Kylin 5 layout each replaced row keeps its form
// (compressed or not) and gets its mvcc plus one, new rows are compressed
// and get mvcc 0.
func TestTxBulkWrites(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		t.Run("bulk", func(t *testing.T) { testTxBulkWrites(t, db, sc, false) })
		if db.driver == MySQL {
			// As with a server that refuses LOAD DATA LOCAL INFILE.
			t.Run("insert", func(t *testing.T) { testTxBulkWrites(t, db, sc, true) })
		}
	})
}

func testTxBulkWrites(t *testing.T, db testDB, sc Schema, noLoadData bool) {
	{
		ctx := t.Context()
		s := openNew(t, db, sc)
		s.noLoadData.Store(noLoadData)
		defer func() {
			if db.driver == MySQL && !noLoadData && s.noLoadData.Load() {
				t.Log("the server refused LOAD DATA LOCAL INFILE: the rows were inserted")
			}
		}()
		key := func(i int) string {
			if i%3 == 0 {
				return fmt.Sprintf("/execute_output/job-%05d", i) // IDENTIFIER_log in Kylin 2.5-4.x
			}
			return fmt.Sprintf("/dict/T/C/%05d.dict", i)
		}
		const old, total = 1500, 3000
		want := map[string]metastore.Resource{}
		mvcc := map[string]int64{} // Kylin 5: the mvcc each row should have
		plain := map[string]bool{} // Kylin 5: rows Kylin stored uncompressed
		write := func(tx metastore.Tx, r metastore.Resource) {
			t.Helper()
			if err := tx.Write(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, ok := want[r.Path]; ok {
				mvcc[r.Path]++
			} else {
				mvcc[r.Path] = 0
			}
			want[r.Path] = r
		}
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range old {
			write(tx, metastore.Resource{Path: key(i), Data: bulkContent(i, 0), Timestamp: int64(i)})
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if sc == Schema5 {
			// Rows Kylin wrote with compression off, at mvcc 5.
			for i := 0; i < old; i += 50 {
				p := key(i) + "-plain"
				insertRaw(t, s, p, bulkContent(i, 0), 1, 5)
				want[p] = metastore.Resource{Path: p, Data: bulkContent(i, 0), Timestamp: 1}
				plain[p], mvcc[p] = true, 5
			}
		}

		// Rewrite every other old row (and its -plain twin), add as many
		// new ones, interleaved; write one twice and delete a new one.
		tx, err = s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := old; i < total; i++ {
			if j := i - old; j%2 == 0 {
				write(tx, metastore.Resource{Path: key(j), Data: bulkContent(j, 1), Timestamp: int64(1000000 + j)})
				if plain[key(j)+"-plain"] {
					write(tx, metastore.Resource{Path: key(j) + "-plain", Data: bulkContent(j, 2), Timestamp: int64(1000000 + j)})
				}
			}
			write(tx, metastore.Resource{Path: key(i), Data: bulkContent(i, 1), Timestamp: int64(1000000 + i)})
		}
		twice := metastore.Resource{Path: key(total - 1), Data: []byte("the second version"), Timestamp: 7}
		if err := tx.Write(ctx, twice); err != nil {
			t.Fatal(err)
		}
		want[twice.Path] = twice // a new row still: mvcc 0
		if err := tx.Delete(ctx, key(total-2)); err != nil {
			t.Fatal(err)
		}
		delete(want, key(total-2))
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}

		n := 0
		err = s.Walk(ctx, "/", func(r metastore.Resource, err error) error {
			if err != nil {
				return err
			}
			n++
			w, ok := want[r.Path]
			if !ok {
				t.Errorf("%s: not written", r.Path)
			} else if !bytes.Equal(r.Data, w.Data) || r.Timestamp != w.Timestamp {
				t.Errorf("%s: %d bytes at %d, want %d bytes at %d", r.Path, len(r.Data), r.Timestamp, len(w.Data), w.Timestamp)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Errorf("%d resources, want %d", n, len(want))
		}
		if sc != Schema5 {
			return
		}
		for p, w := range want {
			raw, got := rawRow(t, s, p)
			switch {
			case len(w.Data) == 0:
				if len(raw) != 0 {
					t.Errorf("%s: empty content stored as %d bytes", p, len(raw))
				}
			case plain[p]:
				if !bytes.Equal(raw, w.Data) {
					t.Errorf("%s: a row Kylin stored uncompressed was rewritten compressed", p)
				}
			case !bytes.Equal(inflate(t, raw), w.Data):
				t.Errorf("%s: stored content does not inflate to what was written", p)
			}
			if got != mvcc[p] {
				t.Errorf("%s: mvcc %d, want %d", p, got, mvcc[p])
			}
		}
	}
}

// TestTxNewKeysCollide checks that two new keys that a case-insensitive
// MySQL collation takes for one, written in one batch, fail the
// transaction with ErrKeyCollision and write nothing.
func TestTxNewKeysCollide(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		if db.driver != MySQL {
			t.Skip("PostgreSQL compares keys byte for byte")
		}
		ctx := t.Context()
		id := newID(t)
		cfg, err := ConfigFromParams(id, db.params)
		if err != nil {
			t.Fatal(err)
		}
		admin := openNew(t, db, Schema5)
		t.Cleanup(func() { dropTables(t, cfg) })
		execSQL(t, admin, "CREATE TABLE "+id+" (META_TABLE_KEY VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, META_TABLE_CONTENT LONGBLOB, META_TABLE_TS BIGINT, META_TABLE_MVCC BIGINT)")
		s := openConfig(t, cfg)
		if err := s.Write(ctx, metastore.Resource{Path: "/keep", Data: []byte("k"), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"/p/a.json", "/p/cube/aB.json", "/p/cube/ab.json", "/p/z.json"} {
			if err := tx.Write(ctx, metastore.Resource{Path: k, Data: []byte(k), Timestamp: 2}); err != nil {
				t.Fatal(err)
			}
		}
		err = tx.Commit(ctx)
		if !errors.Is(err, ErrKeyCollision) {
			t.Fatalf("Commit of /p/cube/aB.json and /p/cube/ab.json under utf8mb4_general_ci: %v, want ErrKeyCollision", err)
		}
		var got []string
		s.List(ctx, "/", func(p string) error { got = append(got, p); return nil })
		if len(got) != 1 || got[0] != "/keep" {
			t.Errorf("after the failed commit the table holds %q, want only /keep", got)
		}
		noSecret(t, "the error", err.Error(), db.password())
	})
}
