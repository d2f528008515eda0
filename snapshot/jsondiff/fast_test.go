package jsondiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

// kylinOptions is how package snapshot diffs Kylin's resources.
func kylinOptions() Options {
	return Options{Ignore: scope.SaveFields(), Identities: scope.IdentityKeys()}
}

// sameAsDecoding checks that Diff gives what the encoding/json path gives,
// and reports whether the fast path took the documents.
func sameAsDecoding(t *testing.T, old, new []byte, opt Options) bool {
	t.Helper()
	want, wantErr := decodeDiff(old, new, opt)
	got, fast := fastDiff(old, new, opt)
	if !fast {
		return false
	}
	if wantErr != nil {
		t.Fatalf("fast path took documents encoding/json refuses (%v):\n%q\n%q", wantErr, old, new)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path differs from encoding/json on\n%q\n%q\ngot  %s\nwant %s", old, new, show(got), show(want))
	}
	return true
}

func show(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  %s", c)
	}
	return b.String()
}

// TestFastPathMatchesDecoding compares the two paths on the forms where a
// shortcut could go wrong: escapes, spellings of equal numbers, key order,
// formatting, identities, and what the fast path must leave alone.
func TestFastPathMatchesDecoding(t *testing.T) {
	tests := []struct {
		old, new string
		fast     bool // the fast path takes both
	}{
		{`{"a":"x\u0041","b":1}`, `{"a":"xA","b":2}`, true},
		{`{"a":"\ud800"}`, `{"a":"\ufffd"}`, true},
		{`{"a":"line\u2028sep"}`, "{\"a\":\"line\u2028sep!\"}", true},
		{`{"a":"<&>\t"}`, `{"a":"<&>\n"}`, true},
		{`{"a":"\u007f"}`, "{\"a\":\"\x7f\",\"b\":\"\x7f\"}", true},
		{`{"a":1.0,"b":1e3,"c":-0,"d":1E+2}`, `{"a":1,"b":1000,"c":0,"d":100.5}`, true},
		{`{"a":1e999999999}`, `{"a":1e999999998}`, true},
		{`{"b":{"y":[1,{"k":null}],"x":true},"a":[]}`, `{"a":{},"b":{"x":false,"y":[1,{"k":"null"}]}}`, true},
		{`[{"name":"a","v":1},{"name":"b"}]`, `[{"name":"b"},{"name":"a","v":2},{"name":"c"}]`, true},
		{`[{"name":"a]b","v":1},{"name":" x"}]`, `[{"name":"a]b","v":2},{"name":"","w":0}]`, true},
		{`[{"name":"H","column":null},{"name":"H","column":"L"}]`, `[{"name":"H","column":null,"x":1},{"name":"H","column":"L"}]`, true},
		{`[{"name":null,"id":1},{"name":null,"id":2}]`, `[{"name":null,"id":2},{"name":null,"id":1}]`, true},
		{`[{"name":1.0},{"name":true}]`, `[{"name":1},{"name":true,"x":[]}]`, true},
		{`[{"name":{"x":1}}]`, `[{"name":{"x":2}}]`, true},
		{`[1,[2,3],{"a":[4]}]`, `[[2,3],1,{"a":[4,5]},"x"]`, true},
		{`[1.0,2]`, `[1,2]`, true},
		{`{"props":{"kylin.cube.algorithm":"auto","a b":1,"é":2}}`, `{"props":{"kylin.cube.algorithm":"inmem","a b":2,"é":3}}`, true},
		{`{"last_modified":1,"x":{"version":"3.0","v":1}}`, `{"last_modified":2,"mvcc":1,"x":{"version":"4.0","v":1}}`, true},
		{"\xef\xbb\xbf \n{\"a\":1}\t\r\n", `{"a":1}`, true},
		{`"s"`, `"t"`, true},
		{`1`, `1.00`, true},
		{`null`, `false`, true},
		{`[]`, `{}`, true},
		// left to encoding/json
		{`{"a\u0062":1}`, `{"ab":2}`, false},
		{`{"a":1,"a":2}`, `{"a":3}`, false},
		{"{\"a\":\"\xff\"}", `{"a":"x"}`, false},
		{`{"a":1,}`, `{"a":1}`, false},
		{`{"a":01}`, `{"a":1}`, false},
		{`{} {}`, `{}`, false},
		{`{"a":tru}`, `{"a":true}`, false},
		{`{"a":"x` + "\n" + `"}`, `{"a":1}`, false},
		{`{"a":1.}`, `{"a":1}`, false},
		{`{"a":-}`, `{"a":1}`, false},
		{``, `{}`, false},
		{`{"a":"\x"}`, `{}`, false},
		{strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1), `[]`, false},
	}
	for _, tt := range tests {
		if got := sameAsDecoding(t, []byte(tt.old), []byte(tt.new), kylinOptions()); got != tt.fast {
			t.Errorf("fast path took %q and %q: %v, want %v", tt.old, tt.new, got, tt.fast)
		}
		sameAsDecoding(t, []byte(tt.new), []byte(tt.old), Options{})
	}
}

// TestFastPathMatchesDecodingOnKylinMetadata diffs the Kylin 3 and 5 test
// metadata both ways: each resource with the next one of its folder, and
// with edited copies of itself (values changed, keys and elements removed,
// added and moved, formatting changed).
func TestFastPathMatchesDecodingOnKylinMetadata(t *testing.T) {
	var docs [][]byte
	for _, root := range []string{"../../testdata/kylin-3.1.3", "../../testdata/kylin5"} {
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if data, err := os.ReadFile(p); err == nil && json.Valid(data) {
					docs = append(docs, data)
				}
			}
			return nil
		})
	}
	if len(docs) < 100 {
		t.Fatalf("only %d JSON resources in testdata", len(docs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for i, d := range docs {
		pairs := [][2][]byte{{d, docs[(i+1)%len(docs)]}}
		for range 3 {
			pairs = append(pairs, [2][]byte{d, edit(t, rng, d)})
		}
		for _, p := range pairs {
			if sameAsDecoding(t, p[0], p[1], kylinOptions()) {
				fast++
			}
			sameAsDecoding(t, p[1], p[0], Options{})
		}
	}
	if fast < len(docs)*4*9/10 {
		t.Errorf("the fast path took %d of %d pairs", fast, len(docs)*4)
	}
}

// edit returns data with a few random edits, re-encoded in one of several
// formats.
func edit(t *testing.T, rng *rand.Rand, data []byte) []byte {
	v, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for range 1 + rng.IntN(4) {
		v = editValue(rng, v)
	}
	var out []byte
	switch rng.IntN(3) {
	case 0:
		out, err = json.Marshal(v)
	case 1:
		out, err = json.MarshalIndent(v, "", "  ")
	default:
		return data // the same bytes: an unchanged resource
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editValue changes one random place of v (maps and slices in place).
func editValue(rng *rand.Rand, v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) == 0 || rng.IntN(8) == 0 {
			x[fmt.Sprintf("k%d", rng.IntN(3))] = json.Number("1")
			return x
		}
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(6) == 0 {
			delete(x, k)
		} else {
			x[k] = editValue(rng, x[k])
		}
		return x
	case []any:
		if len(x) == 0 {
			return append(x, "new")
		}
		i := rng.IntN(len(x))
		switch rng.IntN(5) {
		case 0:
			return slices.Delete(x, i, i+1)
		case 1:
			return slices.Insert(x, i, x[rng.IntN(len(x))])
		case 2:
			x[0], x[i] = x[i], x[0]
			return x
		}
		x[i] = editValue(rng, x[i])
		return x
	case string:
		return x + "!"
	case json.Number:
		if x == "2.50" {
			return json.Number("25e-1") // the same value
		}
		return json.Number("2.50")
	case bool:
		return !x
	}
	return "was null"
}

// FuzzFastPath checks that the fast path takes only valid JSON and gives
// what encoding/json gives.
func FuzzFastPath(f *testing.F) {
	f.Add([]byte(`{"a":[{"name":"x","v":1}]}`), []byte(`{"a":[{"name":"y","v":1.0}]}`))
	f.Add([]byte(`[1,2,"\u00e9"]`), []byte(`[3,2,1]`))
	f.Add([]byte(`{"a":1e999999999,"b":"\u2028"}`), []byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if bytes.Equal(a, b) {
			b = append(b, ' ')
		}
		sameAsDecoding(t, a, b, kylinOptions())
	})
}

// BenchmarkDiffKylin diffs Kylin resources (a cube description, a job)
// with edited copies of themselves, as a diff of two snapshots does.
func BenchmarkDiffKylin(b *testing.B) {
	for _, name := range []string{"../../testdata/kylin-3.1.3/cube_desc/ci_inner_join_cube.json", "../../testdata/kylin-3.1.3/model_desc/ci_inner_join_model.json"} {
		old, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		new := bytes.Replace(old, []byte(`"last_modified" : `), []byte(`"last_modified" : 1`), 1)
		new = bytes.Replace(new, []byte(`"TEST_KYLIN_FACT`), []byte(`"TEST_KYLIN_FACT2`), 1)
		for _, path := range []struct {
			name string
			diff func([]byte, []byte, Options) ([]Change, error)
		}{{"fast", Diff}, {"decoding", decodeDiff}} {
			b.Run(filepath.Base(name)+"/"+path.name, func(b *testing.B) {
				b.SetBytes(int64(len(old) + len(new)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := path.diff(old, new, kylinOptions()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
