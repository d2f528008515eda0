package jdbc

import (
	"bytes"
	"os"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// The shared sample metastores: a Kylin 3.1.3 one (the Kylin 2.5-4.x
// layout) and a Kylin 5 one.
var samples = map[Schema]string{
	Schema4: metastoretest.Sample("kylin-3.1.3"),
	Schema5: metastoretest.Sample("kylin5"),
}

// TestSeedSamples loads Kylin's sample metastores and reads them back byte
// for byte through every way the store reads: Read, Walk, a View's Walk,
// List and ListEntries.
func TestSeedSamples(t *testing.T) {
	eachDBSchema(t, func(t *testing.T, db testDB, sc Schema) {
		dir := samples[sc]
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("the Kylin sample metastore in testdata is missing: %v", err)
		}
		s := openNew(t, db, sc)
		want := metastoretest.Seed(t, s, dir)
		ctx := t.Context()
		check := func(how string, got []metastore.Resource) {
			t.Helper()
			if len(got) != len(want) {
				t.Errorf("%s gave %d resources, want %d", how, len(got), len(want))
				return
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Path != w.Path || !bytes.Equal(g.Data, w.Data) || g.Timestamp != w.Timestamp {
					t.Errorf("%s [%d] = %s (%d bytes, ts %d), want %s (%d bytes, ts %d)", how, i, g.Path, len(g.Data), g.Timestamp, w.Path, len(w.Data), w.Timestamp)
					return
				}
			}
		}
		walk := func(w metastore.Walker) []metastore.Resource {
			var got []metastore.Resource
			if err := w.Walk(ctx, "/", func(r metastore.Resource, err error) error {
				if err != nil {
					t.Errorf("Walk: %s: %v", r.Path, err)
					return nil
				}
				r.Data = clone(r.Data)
				got = append(got, r)
				return nil
			}); err != nil {
				t.Fatalf("Walk: %v", err)
			}
			return got
		}
		check("Walk", walk(s))

		v, err := s.View(ctx)
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		defer v.Close()
		check("View.Walk", walk(v.(*View)))

		var read []metastore.Resource
		if err := v.List(ctx, "/", func(p string) error {
			r, err := v.Read(ctx, p)
			if err != nil {
				return err
			}
			read = append(read, r)
			return nil
		}); err != nil {
			t.Fatalf("List and Read: %v", err)
		}
		check("View.List+Read", read)

		i := 0
		if err := s.ListEntries(ctx, "/", func(e metastore.Entry) error {
			if i < len(want) && (e.Path != want[i].Path || e.Size != int64(len(want[i].Data)) || e.Timestamp != want[i].Timestamp) {
				t.Errorf("ListEntries[%d] = %+v, want %s size %d ts %d", i, e, want[i].Path, len(want[i].Data), want[i].Timestamp)
			}
			i++
			return nil
		}); err != nil {
			t.Fatalf("ListEntries: %v", err)
		}
		if i != len(want) {
			t.Errorf("ListEntries gave %d entries, want %d", i, len(want))
		}

		if sc == Schema4 {
			// Kylin keeps bad queries, job outputs and temporary statements
			// in IDENTIFIER_log.
			var inLogTable, total int
			for _, r := range want {
				total++
				if inLog(r.Path) {
					inLogTable++
				}
			}
			var n int
			if err := s.db.QueryRow("SELECT COUNT(*) FROM " + s.log.q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != inLogTable || inLogTable == 0 {
				t.Errorf("%s holds %d rows, want %d (the sample's /bad_query, /execute_output and /temp_statement resources)", s.log.name, n, inLogTable)
			}
			if err := s.db.QueryRow("SELECT COUNT(*) FROM " + s.main.q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != total-inLogTable {
				t.Errorf("%s holds %d rows, want %d", s.main.name, n, total-inLogTable)
			}
		}
	})
}
