package jsondiff_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/jsondiff"
)

// kylin is how package snapshot diffs Kylin's resources: with Kylin's
// identity keys, ignoring the given fields.
func kylin(ignore []string) jsondiff.Options {
	return jsondiff.Options{Ignore: ignore, Identities: scope.IdentityKeys()}
}

func lines(cs []jsondiff.Change) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.String())
	}
	return strings.Join(s, "\n")
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		ignore   []string
		want     string
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"a":1,"b":[1,2]}`, nil, ``},
		{"key order and formatting", `{"a" : 1, "b" : {"x":true,"y":null}}`, "{\n  \"b\": {\"y\": null, \"x\": true},\n  \"a\": 1\n}", nil, ``},
		{"number spelling", `{"a":1.0,"b":1e3,"c":-0}`, `{"a":1,"b":1000,"c":0}`, nil, ``},
		{"big numbers keep every digit", `{"a":12345678901234567890}`, `{"a":12345678901234567891}`, nil,
			`a: 12345678901234567890 -> 12345678901234567891`},
		{"scalar change", `{"status":"NEW"}`, `{"status":"READY"}`, nil, `status: "NEW" -> "READY"`},
		{"type change", `{"a":"1"}`, `{"a":1}`, nil, `a: "1" -> 1`},
		{"added and removed keys, sorted", `{"z":1,"b":2}`, `{"a":{"k":[1]},"b":2}`, nil,
			"a: added {\"k\":[1]}\nz: removed 1"},
		{"ignored at any depth", `{"last_modified":1,"x":{"version":"3.0","v":1}}`, `{"last_modified":2,"x":{"version":"4.0","v":1}}`,
			scope.SaveFields(), ``},
		{"ignored keys never reported added", `{}`, `{"mvcc":3}`, scope.SaveFields(), ``},
		{"odd keys are quoted", `{"props":{"kylin.cube.algorithm":"auto"}}`, `{"props":{"kylin.cube.algorithm":"inmem"}}`, nil,
			`props["kylin.cube.algorithm"]: "auto" -> "inmem"`},
		{"named segments", `{"segments":[{"name":"s1","status":"NEW"},{"name":"s2","status":"READY"}]}`,
			`{"segments":[{"name":"s1","status":"READY"},{"name":"s2","status":"READY"},{"name":"s3","status":"NEW"}]}`, nil,
			"segments[name=s1].status: \"NEW\" -> \"READY\"\nsegments[name=s3]: added {\"name\":\"s3\",\"status\":\"NEW\"}"},
		{"named element removed", `{"d":[{"name":"A"},{"name":"SELLER_ID"},{"name":"B"}]}`, `{"d":[{"name":"A"},{"name":"B"}]}`, nil,
			`d[name=SELLER_ID]: removed {"name":"SELLER_ID"}`},
		{"duplicate names fall back to name+column",
			`[{"name":"H","column":"L1"},{"name":"H","column":"L2"},{"name":"D","column":"L1"}]`,
			`[{"name":"H","column":"L1"},{"name":"H","column":"L2","x":1},{"name":"D","column":"L1"}]`, nil,
			`[name=H,column=L2].x: added 1`},
		{"null is an identity value (derived dimensions have no column)",
			`[{"name":"H","column":"L1"},{"name":"H","column":"L2"},{"name":"D","column":null,"derived":["A"]}]`,
			`[{"name":"H","column":"L1"},{"name":"H","column":"L2"},{"name":"D","column":null,"derived":["B"]}]`, nil,
			`[name=D,column=null].derived[0]: "A" -> "B"`},
		{"identity by column; reorder reported", `{"rowkey_columns":[{"column":"A"},{"column":"B"},{"column":"C"}]}`,
			`{"rowkey_columns":[{"column":"B"},{"column":"C"},{"column":"A"}]}`, nil,
			`rowkey_columns[column=A]: moved from index 0 to 2`},
		{"identity values with brackets are quoted", `[{"name":"a]b","v":1}]`, `[{"name":"a]b","v":2}]`, nil,
			`[name="a]b"].v: 1 -> 2`},
		{"realizations by realization", `{"r":[{"type":"CUBE","realization":"a"}]}`,
			`{"r":[{"type":"CUBE","realization":"a"},{"type":"CUBE","realization":"b"}]}`, nil,
			`r[realization=b]: added {"realization":"b","type":"CUBE"}`},
		{"scalar array insertion in the middle", `{"tables":["A","B","C"]}`, `{"tables":["A","X","B","C"]}`, nil,
			`tables[1]: added "X"`},
		{"scalar array removal", `[1,2,3,4]`, `[1,3,4]`, nil, `[1]: removed 2`},
		{"unnamed objects paired in place", `[{"a":1},{"b":2}]`, `[{"a":1},{"b":3}]`, nil, `[1].b: 2 -> 3`},
		{"array tail", `[1]`, `[1,2,3]`, nil, "[1]: added 2\n[2]: added 3"},
		{"root type change", `[1]`, `{"a":1}`, nil, `(document): [1] -> {"a":1}`},
		{"html is not escaped", `{"q":"a<b"}`, `{"q":"a>b"}`, nil, `q: "a<b" -> "a>b"`},
		{"byte order mark", "\xef\xbb\xbf{\"a\":1}", `{"a":1}`, nil, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsondiff.Diff([]byte(tt.old), []byte(tt.new), kylin(tt.ignore))
			if err != nil {
				t.Fatal(err)
			}
			if g := lines(got); g != tt.want {
				t.Errorf("Diff(%s, %s) =\n%s\nwant\n%s", tt.old, tt.new, g, tt.want)
			}
		})
	}
}

func TestDiffInvalid(t *testing.T) {
	tests := []struct {
		old, new string
		side     string
	}{
		{`{"a":}`, `{}`, "old"},
		{`{}`, `{"a":1`, "new"},
		{`{}`, ``, "new"},
		{`{} {}`, `{}`, "old"},
		{`{"a":1,}`, `{"a":1,}`, "old"},
	}
	for _, tt := range tests {
		_, err := jsondiff.Diff([]byte(tt.old), []byte(tt.new), jsondiff.Options{})
		var se *jsondiff.SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, jsondiff.ErrInvalidJSON) {
			t.Errorf("Diff(%q, %q) error = %v, want a *SyntaxError wrapping ErrInvalidJSON", tt.old, tt.new, err)
			continue
		}
		if se.Side != tt.side {
			t.Errorf("Diff(%q, %q): side %q, want %q", tt.old, tt.new, se.Side, tt.side)
		}
		if !strings.HasPrefix(err.Error(), tt.side+" version is not valid JSON") {
			t.Errorf("message %q", err)
		}
	}
}

func TestLines(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"crlf ignored", "a\r\nb\r\n", "a\nb\n", ""},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", "-2: b\n+2: B"},
		{"insert", "a\nc", "a\nb\nc", "+2: b"},
		{"delete", "a\nb\nc", "a\nc", "-2: b"},
		{"from empty", "", "x\ny", "+1: x\n+2: y"},
		{"interleaved", "x\na\ny\nb\nz", "a\nq\nb", "-1: x\n-3: y\n+2: q\n-5: z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range jsondiff.Lines([]byte(tt.old), []byte(tt.new)) {
				got = append(got, l.String())
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("Lines(%q, %q) =\n%s\nwant\n%s", tt.old, tt.new, g, tt.want)
			}
		})
	}
}

func TestLinesLargeInputStaysBounded(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&a, "old %d\n", i)
		fmt.Fprintf(&b, "new %d\n", i)
	}
	got := jsondiff.Lines([]byte("head\n"+a.String()+"tail\n"), []byte("head\n"+b.String()+"tail\n"))
	if len(got) != 10000 {
		t.Errorf("got %d lines, want 10000 (5000 removed, 5000 added)", len(got))
	}
}

// TestDiffIdentitiesAreOptions checks that jsondiff knows no identity key
// of its own: without Options.Identities an array of named objects is
// compared as a sequence, and the key sets given are tried in order.
func TestDiffIdentitiesAreOptions(t *testing.T) {
	old := `[{"name":"a","id":1,"v":1},{"name":"b","id":2,"v":1}]`
	new := `[{"name":"b","id":2,"v":2},{"name":"a","id":1,"v":1}]`
	for _, tt := range []struct {
		ids  [][]string
		want string
	}{
		{nil, "[0]: added {\"id\":2,\"name\":\"b\",\"v\":2}\n[1]: removed {\"id\":2,\"name\":\"b\",\"v\":1}"},
		{[][]string{{"id"}, {"name"}}, "[id=2].v: 1 -> 2\n[id=2]: moved from index 1 to 0"},
		{[][]string{{"name"}}, "[name=b].v: 1 -> 2\n[name=b]: moved from index 1 to 0"},
		{[][]string{{"missing"}}, "[0]: added {\"id\":2,\"name\":\"b\",\"v\":2}\n[1]: removed {\"id\":2,\"name\":\"b\",\"v\":1}"},
	} {
		got, err := jsondiff.Diff([]byte(old), []byte(new), jsondiff.Options{Identities: tt.ids})
		if err != nil {
			t.Fatal(err)
		}
		if g := lines(got); g != tt.want {
			t.Errorf("identities %q:\n%s\nwant\n%s", tt.ids, g, tt.want)
		}
	}
}

func TestManyMovedElements(t *testing.T) {
	// A large permutation must not need a quadratic table.
	var a, b []string
	for i := 0; i < 20000; i++ {
		a = append(a, fmt.Sprintf(`{"name":"c%d"}`, i))
	}
	b = append(b, a[1:]...)
	b = append(b, a[0])
	got, err := jsondiff.Diff([]byte("["+strings.Join(a, ",")+"]"), []byte("["+strings.Join(b, ",")+"]"), kylin(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l := lines(got); l != "[name=c0]: moved from index 0 to 19999" {
		t.Errorf("got %.200s", l)
	}
}

func FuzzDiff(f *testing.F) {
	f.Add([]byte(`{"a":[{"name":"x","v":1}]}`), []byte(`{"a":[{"name":"y","v":1}]}`))
	f.Add([]byte(`[1,2,3]`), []byte(`[3,2,1]`))
	f.Add([]byte(`{"a":1e999999999}`), []byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		cs, err := jsondiff.Diff(a, b, kylin(scope.SaveFields()))
		if err != nil {
			jsondiff.Lines(a, b)
			return
		}
		same, _ := jsondiff.Diff(a, a, kylin(nil))
		if len(same) != 0 {
			t.Errorf("a document differs from itself: %v", same)
		}
		_ = cs
	})
}

func ExampleDiff() {
	old := []byte(`{"name":"sales","segments":[{"name":"20240101_20240201","status":"NEW"}],"last_modified":1}`)
	new := []byte(`{
  "last_modified" : 2,
  "name" : "sales",
  "segments" : [ { "name" : "20240101_20240201", "status" : "READY" } ]
}`)
	changes, _ := jsondiff.Diff(old, new, jsondiff.Options{Ignore: scope.SaveFields(), Identities: scope.IdentityKeys()})
	for _, c := range changes {
		fmt.Println(c)
	}
	// Output:
	// segments[name=20240101_20240201].status: "NEW" -> "READY"
}
