package jdbc

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
)

// typedSample reads testdata/kylin5-typed (Kylin 5.0.2's sample metastore,
// per-type layout) as resources, in byte order of path, with Seed's
// timestamps.
func typedSample(t testing.TB) []metastore.Resource {
	t.Helper()
	return metastoretest.Seed(t, memory.New(), metastoretest.Sample("kylin5-typed"))
}

func TestParseTypedKey(t *testing.T) {
	for _, c := range []struct {
		key, typ, mk string
		ok           bool
	}{
		{"/MODEL/7c67c5b0.json", "MODEL", "7c67c5b0", true},
		{"/TABLE_INFO/ssb.SSB.CUSTOMER.json", "TABLE_INFO", "ssb.SSB.CUSTOMER", true},
		{"/SYSTEM/UUID.json", "SYSTEM", "UUID", true},
		{"/LAYOUT_DETAILS/53bb6ab4-8058-4696-bc06-597a5e9a9103-1.json", "LAYOUT_DETAILS", "53bb6ab4-8058-4696-bc06-597a5e9a9103-1", true},
		{"/model/x.json", "", "", false},                 // types are upper case
		{"/TMP_REC/x.json", "", "", false},               // only in backups
		{"/MODEL/x", "", "", false},                      // no .json
		{"/MODEL/.json", "", "", false},                  // empty meta_key
		{"/MODEL/a/b.json", "", "", false},               // "/" in a meta_key
		{"/default/model_desc/x.json", "", "", false},    // Kylin 5.0 beta layout
		{"/_global/project/default.json", "", "", false}, //
		{"/UUID", "", "", false},                         //
		{"MODEL/x.json", "", "", false},                  // no leading slash
		{"/MODEL/x.json.json", "MODEL", "x.json", true},  // a dot is allowed
		{"/KAFKA_CONFIG/streaming_test.SSB.P_LINEORDER.json", "KAFKA_CONFIG", "streaming_test.SSB.P_LINEORDER", true},
	} {
		typ, mk, ok := parseTypedKey(c.key)
		name := ""
		if typ != nil {
			name = typ.name
		}
		if ok != c.ok || name != c.typ || mk != c.mk {
			t.Errorf("parseTypedKey(%q) = %q, %q, %v; want %q, %q, %v", c.key, name, mk, ok, c.typ, c.mk, c.ok)
		}
		if ok && typedKey(typ, mk) != c.key {
			t.Errorf("typedKey(%s, %q) = %q, want %q", name, mk, typedKey(typ, mk), c.key)
		}
	}
}

// TestTypedSchema restores Kylin 5.0.2's sample metastore (per-type
// layout) into the tables Kylin 5.0.0 and 5.0.2 create, reads it back byte
// for byte, and checks what Kylin reads from the columns and the audit log.
func TestTypedSchema(t *testing.T) {
	all := typedSample(t)
	// Kylin's sample has broken resources on purpose (project broken_test):
	// Kylin cannot fill their columns either; they are refused below.
	// Some share a uuid with another resource of their type, which Kylin's
	// tables refuse (UNIQUE (uuid)): the second is left out.
	var sample, broken []metastore.Resource
	seen := map[string]bool{}
	dups := 0
	for _, r := range all {
		f, err := parseFields(r.Data)
		if err != nil {
			broken = append(broken, r)
			continue
		}
		typ, _, _ := parseTypedKey(r.Path)
		if u := typ.name + " " + f.str("uuid"); seen[u] {
			dups++
			continue
		} else {
			seen[u] = true
		}
		sample = append(sample, r)
	}
	t.Logf("%d resources, %d not JSON, %d duplicate uuids", len(all), len(broken), dups)
	if len(sample) < 700 || len(broken) == 0 {
		t.Fatalf("sample has %d resources and %d broken ones", len(sample), len(broken))
	}
	eachDB(t, func(t *testing.T, db testDB) {
		for _, version := range []string{"5.0.0", "5.0.2"} {
			t.Run(version, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				s, _, raw := kylinMetastore(t, db, version)
				if s.Schema() != SchemaTyped {
					t.Fatalf("Schema() = %s, want %s", s.Schema(), SchemaTyped)
				}
				if name, ok := s.AuditLog(); !ok || !strings.HasSuffix(name, "_audit_log_v2") {
					t.Errorf("AuditLog() = %q, %v; want the _audit_log_v2 table", name, ok)
				}
				if _, ok := s.EpochTable(); ok {
					t.Errorf("a per-type metastore has no maintenance mode, but EpochTable says there is an epoch table")
				}

				for _, r := range broken {
					err := s.Write(ctx, r)
					if err == nil || !strings.Contains(err.Error(), "not a JSON object") || !strings.Contains(err.Error(), r.Path) {
						t.Errorf("Write(%s), which is not JSON: %v; want a refusal naming it", r.Path, err)
					}
				}

				// Restore everything in one transaction.
				tx, err := s.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range sample {
					if err := tx.Write(ctx, r); err != nil {
						t.Fatalf("Write(%s): %v", r.Path, err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatalf("Commit: %v", err)
				}

				// Everything reads back exactly, in byte order.
				var got []metastore.Resource
				err = s.Walk(ctx, "/", func(r metastore.Resource, err error) error {
					if err != nil {
						return err
					}
					got = append(got, metastore.Resource{Path: r.Path, Data: bytes.Clone(r.Data), Timestamp: r.Timestamp})
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(sample) {
					t.Fatalf("Walk gave %d resources, want %d", len(got), len(sample))
				}
				for i := range got {
					if got[i].Path != sample[i].Path || !bytes.Equal(got[i].Data, sample[i].Data) || got[i].Timestamp != sample[i].Timestamp {
						t.Fatalf("resource %d: got %s (%d bytes, ts %d), want %s (%d bytes, ts %d)", i, got[i].Path, len(got[i].Data), got[i].Timestamp,
							sample[i].Path, len(sample[i].Data), sample[i].Timestamp)
					}
				}
				var keys []string
				if err := s.List(ctx, "/MODEL/", func(p string) error { keys = append(keys, p); return nil }); err != nil {
					t.Fatal(err)
				}
				if n := countPrefix(sample, "/MODEL/"); len(keys) != n {
					t.Errorf("List(/MODEL/) = %d keys, want %d", len(keys), n)
				}
				one := sample[0]
				for _, r := range sample {
					if strings.HasPrefix(r.Path, "/MODEL/") {
						one = r
						break
					}
				}
				r, err := s.Read(ctx, one.Path)
				if err != nil || !bytes.Equal(r.Data, one.Data) {
					t.Errorf("Read(%s) = %d bytes, %v; want the %d written", one.Path, len(r.Data), err, len(one.Data))
				}
				if _, err := s.Read(ctx, "/MODEL/no-such-model.json"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Read of a missing model: %v, want fs.ErrNotExist", err)
				}
				var entries []metastore.Entry
				if err := s.ListEntries(ctx, one.Path[:len("/MODEL/")+4], func(e metastore.Entry) error { entries = append(entries, e); return nil }); err != nil {
					t.Fatal(err)
				}
				if len(entries) == 0 || entries[0].Size != int64(len(one.Data)) {
					t.Errorf("ListEntries(%s...) = %+v, want the inflated size %d first", one.Path[:len("/MODEL/")+4], entries, len(one.Data))
				}

				// The row is what Kylin's mapper writes: columns from the
				// JSON, content compressed, mvcc 0.
				var f map[string]any
				json.Unmarshal(one.Data, &f)
				mk := strings.TrimSuffix(strings.TrimPrefix(one.Path, "/MODEL/"), ".json")
				tbl := s.typed["MODEL"]
				var project, alias, uuid string
				var content []byte
				var mvcc int64
				err = raw.QueryRow("SELECT project, alias, uuid, content, mvcc FROM "+tbl.q+" WHERE meta_key = "+(&args{d: s.d}).add(mk), mk).Scan(&project, &alias, &uuid, &content, &mvcc)
				if err != nil {
					t.Fatal(err)
				}
				if project != f["project"] || alias != f["alias"] || uuid != f["uuid"] || mvcc != 0 || !bytes.Equal(inflate(t, content), one.Data) {
					t.Errorf("model row = (%q, %q, %q, mvcc %d), want the JSON's project, alias, uuid (%v, %v, %v) and mvcc 0", project, alias, uuid, mvcc, f["project"], f["alias"], f["uuid"])
				}

				// An update: mvcc + 1, columns follow the JSON; a delete.
				f["alias"] = "renamed_by_restore"
				changed, _ := json.Marshal(f)
				if err := s.Write(ctx, metastore.Resource{Path: one.Path, Data: changed, Timestamp: 42}); err != nil {
					t.Fatal(err)
				}
				raw.QueryRow("SELECT alias, mvcc FROM "+tbl.q+" WHERE meta_key = "+(&args{d: s.d}).add(mk), mk).Scan(&alias, &mvcc)
				if alias != "renamed_by_restore" || mvcc != 1 {
					t.Errorf("after an update: alias %q, mvcc %d; want renamed_by_restore, 1", alias, mvcc)
				}
				gone := "/TABLE_INFO/" + strings.TrimSuffix(filepath.Base(firstWith(sample, "/TABLE_INFO/")), "")
				if err := s.Delete(ctx, gone); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Read(ctx, gone); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Read(%s) after Delete: %v, want fs.ErrNotExist", gone, err)
				}

				// The audit log has one row per change, in the format
				// JdbcAuditLogStore.save writes.
				audit := s.audit.q
				var n, units int
				raw.QueryRow("SELECT COUNT(*), COUNT(DISTINCT unit_id) FROM "+audit).Scan(&n, &units)
				if n != len(sample)+2 || units != 3 {
					t.Errorf("audit log has %d rows in %d units, want %d rows in 3 units (the restore, the update, the delete)", n, units, len(sample)+2)
				}
				var akey, instance, aproject string
				var amodel sql.NullString
				var acontent []byte
				var amvcc sql.NullInt64
				err = raw.QueryRow("SELECT meta_key, meta_content, meta_mvcc, model_uuid, project, instance FROM "+audit+" WHERE meta_ts = 42").Scan(&akey, &acontent, &amvcc, &amodel, &aproject, &instance)
				if err != nil {
					t.Fatal(err)
				}
				if akey != "MODEL/"+mk || !bytes.Equal(inflate(t, acontent), changed) || amvcc.Int64 != 1 || amodel.String != f["uuid"] || aproject != f["project"] || !strings.HasPrefix(instance, "metastore@") {
					t.Errorf("audit row of the update = (%s, mvcc %v, model %v, project %s, instance %s), want (MODEL/%s, 1, %v, %v, metastore@...)",
						akey, amvcc, amodel, aproject, instance, mk, f["uuid"], f["project"])
				}
				var dcontent []byte
				var dmvcc sql.NullInt64
				err = raw.QueryRow("SELECT meta_content, meta_mvcc FROM "+audit+" WHERE meta_key = "+(&args{d: s.d}).add("")+" ORDER BY id DESC LIMIT 1", strings.TrimSuffix(strings.TrimPrefix(gone, "/"), ".json")).Scan(&dcontent, &dmvcc)
				if err != nil || dcontent != nil || dmvcc.Valid {
					t.Errorf("audit row of the deletion: content of %d bytes, mvcc %v, %v; want NULL, NULL", len(dcontent), dmvcc, err)
				}
				var lmodel sql.NullString
				raw.QueryRow("SELECT model_uuid FROM " + audit + " WHERE meta_key LIKE 'LAYOUT/%' ORDER BY id LIMIT 1").Scan(&lmodel)
				if !lmodel.Valid || len(lmodel.String) != 36 {
					t.Errorf("a layout's audit row has model_uuid %v, want its dataflow's uuid", lmodel)
				}
			})
		}
	})
}

// TestTypedSchemaRefuses checks what the per-type layout cannot hold.
func TestTypedSchemaRefuses(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, raw := kylinMetastore(t, db, "5.0.2")
		for _, c := range []struct {
			path, data, want string
		}{
			{"/default/model_desc/x.json", `{"uuid":"x"}`, "not a key of Kylin 5's per-type metastore"},
			{"/MODEL/x.json", `{"uuid":"x","project":"p"}`, `no "alias" field`},
			{"/MODEL/x.json", `[1,2]`, "not a JSON object"},
			{"/PROJECT/p.json", `{"uuid":"x","name":{"a":1}}`, "is a JSON object"},
		} {
			err := s.Write(ctx, metastore.Resource{Path: c.path, Data: []byte(c.data), Timestamp: 1})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Write(%s, %s) = %v, want an error saying %q", c.path, c.data, err, c.want)
			}
		}
		var n int
		raw.QueryRow("SELECT COUNT(*) FROM " + s.typed["MODEL"].q).Scan(&n)
		if n != 0 {
			t.Errorf("refused writes left %d rows", n)
		}
	})
}

// TestTypedSchemaAmbiguous checks that a database holding both a Kylin 5.0
// beta table and per-type tables with rows is refused, and that the empty
// one gives way.
func TestTypedSchemaAmbiguous(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, cfg, raw := kylinMetastore(t, db, "5.0.2")
		for _, st := range kylinDDL(t, "5.0.0-beta", db.driver, cfg.Identifier) {
			if _, err := raw.Exec(st); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Write(ctx, metastore.Resource{Path: "/PROJECT/p.json", Data: []byte(`{"uuid":"u","name":"p"}`), Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		// The beta table is empty: the per-type layout wins.
		s2, err := Open(ctx, cfg)
		if err != nil || s2.Schema() != SchemaTyped {
			t.Fatalf("Open with an empty beta table: %v, %v; want the per-type layout", s2, err)
		}
		s2.Close()
		a := &args{d: s.d}
		if _, err := raw.Exec("INSERT INTO "+s.d.quote(cfg.Identifier)+" (META_TABLE_KEY, META_TABLE_CONTENT, META_TABLE_TS, META_TABLE_MVCC) VALUES ("+a.add("/UUID")+", "+a.add([]byte("x"))+", 1, 0)", a.vals...); err != nil {
			t.Fatal(err)
		}
		_, err = Open(ctx, cfg)
		if !errors.Is(err, ErrNoMetastore) || !strings.Contains(err.Error(), "refusing to guess") {
			t.Fatalf("Open with both layouts holding rows: %v, want a refusal", err)
		}
		cfg.Schema = SchemaTyped
		if s3, err := Open(ctx, cfg); err != nil || s3.Schema() != SchemaTyped {
			t.Errorf("Open with Schema %s: %v", SchemaTyped, err)
		} else {
			s3.Close()
		}
	})
}

func countPrefix(rs []metastore.Resource, prefix string) int {
	n := 0
	for _, r := range rs {
		if strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func firstWith(rs []metastore.Resource, prefix string) string {
	for _, r := range rs {
		if strings.HasPrefix(r.Path, prefix) {
			return strings.TrimPrefix(r.Path, prefix)
		}
	}
	return ""
}

// TestTypedListField: on the per-type layout a Store and a View list the
// keys of a type whose JSON field (kept in a column) has a value, without
// reading the rows' content (metastore.FieldLister); a field without a
// column, or another layout, answers ok == false.
func TestTypedListField(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := t.Context()
		s, _, _ := kylinMetastore(t, db, "5.0.2")
		for k, v := range map[string]string{
			"/MODEL/m-1.json":                 `{"uuid":"00000000-0000-0000-0000-0000000000m1","project":"learn","alias":"a"}`,
			"/MODEL/m-2.json":                 `{"uuid":"00000000-0000-0000-0000-0000000000m2","project":"other","alias":"b"}`,
			"/MODEL/m-3.json":                 `{"uuid":"00000000-0000-0000-0000-0000000000m3","project":"learn","alias":"c"}`,
			"/LAYOUT_DETAILS/m-1-1.json":      `{"uuid":"00000000-0000-0000-0000-0000000000d1","project":"learn","dataflow":"m-1","layout":1}`,
			"/LOGICAL_VIEW/V.json":            `{"uuid":"00000000-0000-0000-0000-0000000000v1","created_project":"learn"}`,
			"/TABLE_INFO/learn.DB.LEARN.json": `{"uuid":"00000000-0000-0000-0000-0000000000t1","project":"Learn","name":"LEARN","database":"DB"}`,
		} {
			if err := s.Write(ctx, metastore.Resource{Path: k, Data: []byte(v), Timestamp: 1}); err != nil {
				t.Fatal(err)
			}
		}
		view, err := s.View(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer view.Close()
		for _, src := range []metastore.FieldLister{s, view.(metastore.FieldLister)} {
			for _, c := range []struct {
				folder, field, value string
				ok                   bool
				want                 []string
			}{
				{"/MODEL/", "project", "learn", true, []string{"/MODEL/m-1.json", "/MODEL/m-3.json"}},
				{"/MODEL/", "alias", "b", true, []string{"/MODEL/m-2.json"}},
				{"/LAYOUT_DETAILS/", "dataflow", "m-1", true, []string{"/LAYOUT_DETAILS/m-1-1.json"}},
				{"/LOGICAL_VIEW/", "created_project", "learn", true, []string{"/LOGICAL_VIEW/V.json"}},
				{"/TABLE_INFO/", "project", "learn", true, nil}, // byte for byte: "Learn" is another project
				{"/MODEL/", "fact_table", "DB.F", false, nil},   // no column
				{"/NOSUCH/", "project", "learn", false, nil},
				{"/", "project", "learn", false, nil},
			} {
				var got []string
				ok, err := src.ListField(ctx, c.folder, c.field, c.value, func(p string) error { got = append(got, p); return nil })
				if err != nil || ok != c.ok || strings.Join(got, " ") != strings.Join(c.want, " ") {
					t.Errorf("%T.ListField(%s, %s, %s) = %q, %v, %v; want %q, %v", src, c.folder, c.field, c.value, got, ok, err, c.want, c.ok)
				}
			}
		}
	})
}
