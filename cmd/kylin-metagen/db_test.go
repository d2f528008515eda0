package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/jdbc"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// The database tests use the servers metastoretest.EachDatabase names.

// TestGenerateIntoDatabase generates and churns metastores in every test
// database, in both of Kylin's schemas, through the command line, and
// checks that they hold exactly what the same options give in memory. The
// 3,000 resources make several batches of the one transaction.
func TestGenerateIntoDatabase(t *testing.T) {
	metastoretest.EachDatabase(t, func(t *testing.T, db metastoretest.Database) {
		for _, schema := range []string{"4", "5"} {
			t.Run("kylin"+schema, func(t *testing.T) {
				url := db.URL(metastoretest.NewID(t, "mt_gen_"))
				t.Cleanup(func() { dropTables(t, url) })
				testGenerateIntoDatabase(t, url, schema)
			})
		}
	})
}

func testGenerateIntoDatabase(t *testing.T, url, schema string) {
	ctx := context.Background()
	code, out, errOut := runT("generate", "--out", url, "--resources", "3000", "--seed", "5", "--shape", "jobs", "--create-schema", schema)
	if code != exitOK {
		t.Fatalf("generate: exit %d, stderr %s", code, errOut)
	}
	if strings.Contains(out+errOut, "dev-pw") || !strings.Contains(out, "password=***") {
		t.Errorf("generate printed the password, or no masked URL:\n%s", out)
	}
	want := memory.New()
	if _, err := metagen.Generate(ctx, want, metagen.Options{Resources: 3000, Seed: 5, Shape: metagen.ShapeJobs}); err != nil {
		t.Fatal(err)
	}
	st, err := locate.OpenWith(ctx, url, locate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.(metastore.Closer).Close()
	if s := st.(*jdbc.Store).Schema(); string(s) != schema {
		t.Errorf("schema %s, want %s", s, schema)
	}
	sameResources(t, st, want)

	if code, _, errOut := runT("generate", "--out", url, "--resources", "300"); code != exitUsage || !strings.Contains(errOut, "not empty") {
		t.Errorf("generate into a metastore with resources: exit %d, stderr %s; want %d, not empty", code, errOut, exitUsage)
	}

	if code, _, errOut := runT("churn", "--dir", url, "--fraction", "0.05", "--seed", "3"); code != exitOK {
		t.Fatalf("churn: exit %d, stderr %s", code, errOut)
	}
	if _, err := metagen.Churn(ctx, want, metagen.ChurnOptions{Fraction: 0.05, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	sameResources(t, st, want)
}

// sameResources fails unless got and want hold the same resources.
func sameResources(t *testing.T, got, want metastore.Source) {
	t.Helper()
	ctx := context.Background()
	read := func(src metastore.Source) map[string]metastore.Resource {
		out := map[string]metastore.Resource{}
		err := src.List(ctx, "/", func(p string) error {
			r, err := src.Read(ctx, p)
			out[p] = r
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	g, w := read(got), read(want)
	if len(g) != len(w) {
		t.Errorf("%d resources, want %d", len(g), len(w))
	}
	for p, wr := range w {
		gr, ok := g[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case gr.Timestamp != wr.Timestamp || !bytes.Equal(gr.Data, wr.Data):
			t.Errorf("%s: %d bytes at %d, want %d bytes at %d", p, len(gr.Data), gr.Timestamp, len(wr.Data), wr.Timestamp)
		}
	}
}

// dropTables drops the tables of the test metastore url, if any.
func dropTables(t *testing.T, url string) {
	t.Helper()
	u, err := locate.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := u.JDBCConfig()
	if err != nil {
		t.Fatal(err)
	}
	ju, err := jdbc.ParseJDBCURL(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := metastoretest.ConnectSQL(string(ju.Driver), ju.Hosts[0], cfg.Username, cfg.Password, ju.Database)
	if err != nil {
		t.Errorf("drop tables: %v", err)
		return
	}
	defer db.Close()
	db.DropTables(t, u.Identifier, u.Identifier+"_log")
}
