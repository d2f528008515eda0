package scope_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

func TestBinaryKindOf(t *testing.T) {
	checkEach(t, "BinaryKindOf", scope.BinaryKindOf, []pair[string, scope.BinaryKind]{
		{"/dict/TEST_KYLIN_FACT/PRICE/927dde3f-6999-4434-b57c-adfa73160334.dict", scope.BinaryDictionary},
		{"/dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82.dict", scope.BinaryDictionary},
		{"/table_snapshot/TEST_SITES.csv/1271e1f2.snapshot", scope.BinarySnapshot},
		{"/ext_table_snapshot/DB.T/x.snapshot", scope.BinarySnapshot},
		{"/cube_statistics/c/198va32a.seq", scope.BinaryStatistics},
		{"/UUID", scope.BinaryUUID},
		{"/cube/ssb.json", ""},
		{"/execute/0a1b", ""},
		{"/_global/project/p.json", ""},
	})
}

func TestReadBinaryHeaderSample(t *testing.T) {
	needDir(t, sample3)
	tests := []struct {
		file   string
		kind   scope.BinaryKind
		fields map[string]string // field -> compact JSON value
		uuid   string
	}{
		{
			file: "dict/TEST_KYLIN_FACT/PRICE/927dde3f-6999-4434-b57c-adfa73160334.dict",
			kind: scope.BinaryDictionary,
			fields: map[string]string{
				"uuid": `"927dde3f-6999-4434-b57c-adfa73160334"`, "source_table": `"TEST_KYLIN_FACT"`,
				"source_column": `"PRICE"`, "cardinality": `69`, "last_modified": `1414127594995`,
				"dictionary_class": `"com.kylinolap.dict.NumberDictionary"`,
				"input":            `{"last_modified_time":1414055304116,"path":"/tmp/test_test_test/PRICE","size":419}`,
			},
		},
		{
			file: "dict/PREDEFINED/date(yyyy-mm-dd)/64ac4f82-f2af-476e-85b9-f0805001014e.dict",
			kind: scope.BinaryDictionary,
			fields: map[string]string{
				"source_table": `"PREDEFINED"`, "source_column": `"date(yyyy-mm-dd)"`,
			},
		},
		{
			file: "table_snapshot/TEST_SITES.csv/1271e1f2-dd65-4249-a1f2-aca02a651158.snapshot",
			kind: scope.BinarySnapshot,
			fields: map[string]string{
				"uuid": `"1271e1f2-dd65-4249-a1f2-aca02a651158"`, "last_modified": `1403588866476`,
				"column_delimeter": `"auto"`,
			},
		},
		{file: "UUID", kind: scope.BinaryUUID, uuid: "3591078f-9401-481a-a233-e7755c1142d0"},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join(sample3, filepath.FromSlash(tt.file)))
		if err != nil {
			t.Fatal(err)
		}
		h, err := scope.ReadBinaryHeader("/"+tt.file, data)
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if h.Kind != tt.kind || h.UUID != tt.uuid {
			t.Errorf("%s: kind %q uuid %q, want %q %q", tt.file, h.Kind, h.UUID, tt.kind, tt.uuid)
		}
		for k, want := range tt.fields {
			got, _ := json.Marshal(h.Fields[k])
			if string(got) != want {
				t.Errorf("%s: %s = %s, want %s", tt.file, k, got, want)
			}
		}
		if tt.kind != scope.BinaryUUID && !strings.HasPrefix(string(h.JSON), "{") {
			t.Errorf("%s: JSON %.40q does not start the header", tt.file, h.JSON)
		}
	}
}

func TestReadBinaryHeaderEveryDictionaryAndSnapshot(t *testing.T) {
	needDir(t, sample3)
	n := 0
	for _, pattern := range []string{"dict/*/*/*.dict", "table_snapshot/*/*.snapshot"} {
		files, _ := filepath.Glob(filepath.Join(sample3, pattern))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(sample3, f)
			h, err := scope.ReadBinaryHeader("/"+filepath.ToSlash(rel), data)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			if _, ok := h.Fields["uuid"]; !ok {
				t.Errorf("%s: header has no uuid", rel)
			}
			n++
		}
	}
	if n != 73+22 {
		t.Errorf("read %d headers, want 95 (73 dictionaries, 22 snapshots)", n)
	}
}

func TestReadBinaryHeaderRefusesGarbage(t *testing.T) {
	utf := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	tests := []struct {
		key  string
		data []byte
	}{
		{"/dict/T/C/x.dict", nil},
		{"/dict/T/C/x.dict", []byte{0}},
		{"/dict/T/C/x.dict", []byte{0, 0, '{'}},
		{"/dict/T/C/x.dict", []byte{0, 9, '{', '}'}},   // length beyond the data
		{"/dict/T/C/x.dict", utf(`TrieDict`)},          // no JSON header
		{"/dict/T/C/x.dict", utf(`{"uuid":`)},          // truncated JSON
		{"/dict/T/C/x.dict", utf(`null`)},              // not an object
		{"/dict/T/C/x.dict", []byte{0, 2, 0xff, 0xfe}}, // not (modified) UTF-8
		{"/cube_statistics/c/s.seq", []byte("SEQ\x06")},
		{"/cube/c.json", utf(`{}`)},
		{"/UUID", nil},
		{"/UUID", []byte{0, 3, 'a', '\n', 'b'}},
	}
	for _, tt := range tests {
		h, err := scope.ReadBinaryHeader(tt.key, tt.data)
		if !errors.Is(err, scope.ErrNoHeader) {
			t.Errorf("ReadBinaryHeader(%s, %q) = %+v, %v; want an error wrapping ErrNoHeader", tt.key, tt.data, h, err)
		}
	}
}

func TestReadBinaryHeaderModifiedUTF8(t *testing.T) {
	// Java writes U+1F600 as a surrogate pair of three bytes each (and NUL,
	// which JSON escapes anyway, as C0 80).
	s := "{\"source_table\":\"\xc3\xa9t\xc3\xa9\",\"e\":\"\xed\xa0\xbd\xed\xb8\x80\"}"
	data := append([]byte{0, byte(len(s))}, s...)
	h, err := scope.ReadBinaryHeader("/dict/T/C/x.dict", data)
	if err != nil {
		t.Fatal(err)
	}
	if h.Fields["source_table"] != "été" || h.Fields["e"] != "\U0001F600" {
		t.Errorf("fields %q", h.Fields)
	}
}

func FuzzReadBinaryHeader(f *testing.F) {
	f.Add("/dict/T/C/x.dict", []byte("\x00\x0b{\"uuid\":\"u\"}TrieDict"))
	f.Add("/table_snapshot/T/x.snapshot", []byte("\x00\x02{}"))
	f.Add("/UUID", []byte("\x00\x04abcd"))
	f.Add("/dict/T/C/x.dict", []byte("\x00\x06\xed\xa0\xbd\xed\xb8\x80"))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		h, err := scope.ReadBinaryHeader(key, data)
		if err == nil && h == nil {
			t.Fatal("nil header without error")
		}
		if err != nil && !errors.Is(err, scope.ErrNoHeader) {
			t.Fatalf("error %v does not wrap ErrNoHeader", err)
		}
	})
}

// TestDecodeUUID pins what a /UUID may hold: Kylin's writeUTF form and plain
// text are read; no text, control characters (a tab included: the
// identity is recorded as a commit trailer, one line of text), invalid
// UTF-8 and overlong values are not an identity.
func TestDecodeUUID(t *testing.T) {
	const u = "3591078f-9401-481a-a233-e7755c1142d0"
	writeUTF := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	tests := []struct {
		data []byte
		want string
		ok   bool
	}{
		{writeUTF(u), u, true},
		{[]byte(u), u, true},
		{[]byte(" " + u + "\n"), u, true},
		{writeUTF("kylin-ü"), "kylin-ü", true},
		{nil, "", false},
		{writeUTF(""), "", false},
		{[]byte(" \n"), "", false},
		{writeUTF("a\tb"), "", false},
		{writeUTF("a\x01b"), "", false},
		{writeUTF("a\nb"), "", false},
		{writeUTF("a\rb"), "", false},
		{writeUTF("a\x7fb"), "", false},
		{writeUTF("a\x00b"), "", false},
		{[]byte("a\xffb"), "", false},
		{writeUTF(strings.Repeat("u", 129)), "", false},
	}
	for _, tt := range tests {
		got, ok := scope.DecodeUUID(tt.data)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DecodeUUID(%q) = %q, %v; want %q, %v", tt.data, got, ok, tt.want, tt.ok)
		}
	}
}
