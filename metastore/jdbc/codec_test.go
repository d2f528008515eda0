package jdbc

import (
	"bytes"
	"compress/zlib"
	"runtime"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
)

// TestDecodeStream checks which stored content hands its zlib stream on
// (metastore.Resource.Zlib): Kylin 5's compressed content whose stream
// ends where the content does, and nothing else.
func TestDecodeStream(t *testing.T) {
	data := []byte(`{"uuid":"m1","alias":"model","description":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`)
	java := javaCompress(t, data)
	tests := []struct {
		name     string
		stored   []byte
		wantData []byte
		wantZ    []byte
	}{
		{"Kylin 5 compressed", java, data, java[4:]},
		{"bytes after the stream", append(append([]byte(nil), java...), "junk"...), data, nil},
		{"uncompressed", data, data, nil},
	}
	var c codec
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, z, err := c.decodeStream(tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.wantData) || !bytes.Equal(z, tt.wantZ) || (z == nil) != (tt.wantZ == nil) {
				t.Errorf("decodeStream = %d bytes, stream of %d bytes; want %d, %d", len(got), len(z), len(tt.wantData), len(tt.wantZ))
			}
		})
	}
	if _, _, err := c.decodeStream([]byte("GZIPnot zlib at all")); err == nil {
		t.Error("corrupt content decoded")
	}
}

// TestKylin5WalkKeepsKylinsStream checks that a walk of a Kylin 5 table
// hands each compressed row's stream on beside its content, on one
// goroutine and on several (walkInflating).
func TestKylin5WalkKeepsKylinsStream(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		s := openNew(t, db, Schema5)
		data := []byte(`{"name":"p","owner":"ADMIN","override_kylin_properties":{}}`)
		java := javaCompress(t, data)
		insertRaw(t, s, "/_global/project/p.json", java, 5, 7)
		insertRaw(t, s, "/p/junk.json", append(append([]byte(nil), java...), 0), 5, 7)
		insertRaw(t, s, "/p/plain.json", []byte(`{"plain":true}`), 6, 3)
		want := map[string][]byte{"/_global/project/p.json": java[4:], "/p/junk.json": nil, "/p/plain.json": nil}
		for _, procs := range []int{1, 4} {
			prev := runtime.GOMAXPROCS(procs)
			got := map[string][]byte{}
			err := s.Walk(t.Context(), "/", func(r metastore.Resource, err error) error {
				if err != nil {
					return err
				}
				if r.Path != "/p/plain.json" && !bytes.Equal(r.Data, data) {
					t.Errorf("%s: content %q", r.Path, r.Data)
				}
				got[r.Path] = bytes.Clone(r.Zlib)
				return nil
			})
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			for p, z := range want {
				if g, ok := got[p]; !ok || !bytes.Equal(g, z) || (g == nil) != (z == nil) {
					t.Errorf("GOMAXPROCS %d: %s: stream of %d bytes (walked: %v), want %d", procs, p, len(g), ok, len(z))
				}
			}
		}
	})
}

// TestKylin5TxStoresAGivenStream checks that a Kylin 5 transaction stores
// a resource's zlib stream as it is (the row is "GZIP" and the stream,
// here one of stored blocks that its own compression would never write),
// that the row reads back as the content, and that a table of
// uncompressed rows stores the content, stream or not.
func TestKylin5TxStoresAGivenStream(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s := openNew(t, db, Schema5)
		data := []byte(`{"uuid":"m1","alias":"model","description":"` + string(bytes.Repeat([]byte("x"), 300)) + `"}`)
		var b bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&b, zlib.NoCompression)
		zw.Write(data)
		zw.Close()
		stored := b.Bytes()
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.(interface{ TakesZlib() bool }).TakesZlib() {
			t.Fatal("a Kylin 5 transaction does not take zlib streams")
		}
		tx.Write(ctx, metastore.Resource{Path: "/p/model_desc/m1.json", Data: data, Timestamp: 1, Zlib: stored})
		tx.Write(ctx, metastore.Resource{Path: "/p/model_desc/m2.json", Data: data, Timestamp: 1})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		raw, _ := rawRow(t, s, "/p/model_desc/m1.json")
		if !bytes.Equal(raw, append([]byte("GZIP"), stored...)) {
			t.Errorf("stored %d bytes, want GZIP and the %d-byte stream given", len(raw), len(stored))
		}
		if raw2, _ := rawRow(t, s, "/p/model_desc/m2.json"); len(raw2) >= len(data) || !bytes.Equal(inflate(t, raw2), data) {
			t.Errorf("without a stream: stored %d bytes, want the content compressed", len(raw2))
		}
		for _, p := range []string{"/p/model_desc/m1.json", "/p/model_desc/m2.json"} {
			if r, err := s.Read(ctx, p); err != nil || !bytes.Equal(r.Data, data) {
				t.Errorf("%s reads back %d bytes (%v)", p, len(r.Data), err)
			}
		}

		again := openUncompressed(t, s)
		if err := again.Write(ctx, metastore.Resource{Path: "/p/b.json", Data: data, Timestamp: 2, Zlib: stored}); err != nil {
			t.Fatal(err)
		}
		if raw, _ := rawRow(t, again, "/p/b.json"); !bytes.Equal(raw, data) {
			t.Errorf("a table of uncompressed rows stored %d bytes, want the %d bytes of content", len(raw), len(data))
		}
	})
}
