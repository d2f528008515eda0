package jdbc

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// javaCompress is what Kylin 5's CompressionUtils.compress writes: "GZIP"
// and a zlib stream at level 1 (made here with the standard library, not
// the package's own codec).
func javaCompress(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("GZIP")
	w, err := zlib.NewWriterLevel(&b, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// rawRow returns a Kylin 5 row's stored content and mvcc.
func rawRow(t *testing.T, s *Store, key string) ([]byte, int64) {
	t.Helper()
	a := &args{d: s.d}
	var content []byte
	var mvcc int64
	q := "SELECT " + s.main.content + ", " + s.main.mvcc + " FROM " + s.main.q + " WHERE " + s.d.keyCond(a, s.main.key, key)
	if err := s.db.QueryRowContext(context.Background(), q, a.vals...).Scan(&content, &mvcc); err != nil {
		t.Fatalf("row %s: %v", key, err)
	}
	return content, mvcc
}

// insertRaw inserts a Kylin 5 row as Kylin would have written it.
func insertRaw(t *testing.T, s *Store, key string, content []byte, ts, mvcc int64) {
	t.Helper()
	a := &args{d: s.d}
	q := "INSERT INTO " + s.main.q + " (" + s.main.key + ", " + s.main.content + ", " + s.main.ts + ", " + s.main.mvcc + ") VALUES (" +
		a.add(key) + ", " + a.add(content) + ", " + a.add(ts) + ", " + a.add(mvcc) + ")"
	execSQL(t, s, q, a.vals...)
}

// openUncompressed opens a new Kylin 5 table beside s's whose one row is
// uncompressed (Kylin 5 with kylin.metadata.compress.enabled=false).
func openUncompressed(t *testing.T, s *Store) *Store {
	t.Helper()
	cfg := s.cfg
	cfg.Identifier = newID(t)
	plain := openConfig(t, cfg)
	insertRaw(t, plain, "/p/a.json", []byte(`{"compressed":false}`), 1, 0)
	cfg.CreateSchema = ""
	return openConfig(t, cfg)
}

func inflate(t *testing.T, b []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("GZIP")) {
		t.Fatalf("stored content %q does not start with GZIP", b[:min(len(b), 16)])
	}
	r, err := zlib.NewReader(bytes.NewReader(b[4:]))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKylin5Content checks Kylin 5's compressed content and mvcc.
func TestKylin5Content(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s := openNew(t, db, Schema5)
		if !s.compressNew {
			t.Fatal("an empty Kylin 5 table should get compressed rows (Kylin 5's default)")
		}
		write := func(p, data string, ts int64) {
			t.Helper()
			if err := s.Write(ctx, metastore.Resource{Path: p, Data: []byte(data), Timestamp: ts}); err != nil {
				t.Fatalf("Write(%s): %v", p, err)
			}
		}
		read := func(p string) string {
			t.Helper()
			r, err := s.Read(ctx, p)
			if err != nil {
				t.Fatalf("Read(%s): %v", p, err)
			}
			return string(r.Data)
		}
		model := `{"uuid":"m1","alias":"model","description":"` + string(bytes.Repeat([]byte("x"), 500)) + `"}`

		// A new row is compressed, mvcc 0; each rewrite adds one.
		write("/p/model_desc/m1.json", model, 1)
		raw, mvcc := rawRow(t, s, "/p/model_desc/m1.json")
		if got := inflate(t, raw); string(got) != model || mvcc != 0 {
			t.Errorf("new row: content inflates to %d bytes, mvcc %d; want the %d bytes written, mvcc 0", len(got), mvcc, len(model))
		}
		if len(raw) >= len(model) {
			t.Errorf("stored %d bytes for %d bytes of JSON: not compressed", len(raw), len(model))
		}
		write("/p/model_desc/m1.json", model+" ", 2)
		if _, mvcc = rawRow(t, s, "/p/model_desc/m1.json"); mvcc != 1 {
			t.Errorf("after a rewrite mvcc = %d, want 1", mvcc)
		}
		tx, _ := s.Begin(ctx)
		tx.Write(ctx, metastore.Resource{Path: "/p/model_desc/m1.json", Data: []byte(model), Timestamp: 3})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, mvcc = rawRow(t, s, "/p/model_desc/m1.json"); mvcc != 2 {
			t.Errorf("after a transactional rewrite mvcc = %d, want 2", mvcc)
		}
		if got := read("/p/model_desc/m1.json"); got != model {
			t.Errorf("Read gives %d bytes, want the %d written", len(got), len(model))
		}

		// The target's current mvcc, plus one: never a value from elsewhere.
		execSQL(t, s, "UPDATE "+s.main.q+" SET "+s.main.mvcc+" = 41")
		write("/p/model_desc/m1.json", model, 4)
		if _, mvcc = rawRow(t, s, "/p/model_desc/m1.json"); mvcc != 42 {
			t.Errorf("rewriting a row at mvcc 41 gave mvcc %d, want 42", mvcc)
		}

		// Rows Kylin wrote: compressed by Java, and uncompressed (with
		// kylin.metadata.compress.enabled=false).
		javaJSON := `{"name":"p","owner":"ADMIN","override_kylin_properties":{}}`
		insertRaw(t, s, "/_global/project/p.json", javaCompress(t, []byte(javaJSON)), 5, 7)
		insertRaw(t, s, "/p/plain.json", []byte(`{"plain":true}`), 6, 3)
		if got := read("/_global/project/p.json"); got != javaJSON {
			t.Errorf("Read of Java-compressed content = %q, want %q", got, javaJSON)
		}
		if got := read("/p/plain.json"); got != `{"plain":true}` {
			t.Errorf("Read of uncompressed content = %q", got)
		}
		sizes := map[string]int64{}
		s.ListEntries(ctx, "/", func(e metastore.Entry) error { sizes[e.Path] = e.Size; return nil })
		if sizes["/_global/project/p.json"] != int64(len(javaJSON)) || sizes["/p/plain.json"] != 14 {
			t.Errorf("ListEntries sizes = %v, want the inflated sizes (%d, 14)", sizes, len(javaJSON))
		}
		// A rewrite keeps each row's form.
		write("/p/plain.json", `{"plain":"still"}`, 7)
		if raw, mvcc := rawRow(t, s, "/p/plain.json"); string(raw) != `{"plain":"still"}` || mvcc != 4 {
			t.Errorf("rewriting an uncompressed row stored (%q, mvcc %d), want it uncompressed, mvcc 4", raw, mvcc)
		}

		// Content that itself starts with GZIP is always compressed, so that
		// it reads back as written; empty content stays empty.
		odd := "GZIP is how this text starts, not a zlib stream"
		write("/p/odd", odd, 8)
		if raw, _ := rawRow(t, s, "/p/odd"); string(inflate(t, raw)) != odd || read("/p/odd") != odd {
			t.Errorf("content starting with GZIP did not round-trip compressed")
		}
		write("/p/empty", "", 9)
		if raw, _ := rawRow(t, s, "/p/empty"); len(raw) != 0 || read("/p/empty") != "" {
			t.Errorf("empty content stored as %q", raw)
		}

		// Corrupt compressed content is an error, not a resource.
		insertRaw(t, s, "/p/corrupt", []byte("GZIPnot zlib at all"), 10, 0)
		if _, err := s.Read(ctx, "/p/corrupt"); err == nil || errors.Is(err, metastore.ErrNotExist) {
			t.Errorf("Read of corrupt content: %v, want an error", err)
		}
		var walkErr error
		s.Walk(ctx, "/p/corrupt", func(r metastore.Resource, err error) error { walkErr = err; return nil })
		if walkErr == nil {
			t.Error("Walk passed corrupt content without an error")
		}
		execSQL(t, s, "DELETE FROM "+s.main.q+" WHERE "+s.main.key+" = '/p/corrupt'")

		// A table whose rows are uncompressed (Kylin 5 with compression
		// off) gets uncompressed new rows.
		again := openUncompressed(t, s)
		if again.compressNew {
			t.Error("a table of uncompressed rows should get uncompressed new rows")
		}
		if err := again.Write(ctx, metastore.Resource{Path: "/p/b.json", Data: []byte(`{"new":true}`), Timestamp: 2}); err != nil {
			t.Fatal(err)
		}
		if raw, mvcc := rawRow(t, again, "/p/b.json"); string(raw) != `{"new":true}` || mvcc != 0 {
			t.Errorf("new row in an uncompressed table stored (%q, mvcc %d), want it as is, mvcc 0", raw, mvcc)
		}
	})
}
