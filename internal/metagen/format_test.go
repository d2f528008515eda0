package metagen

import (
	"cmp"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"testing"
)

func TestMarshalKylin(t *testing.T) {
	type inner struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	for _, c := range []struct {
		name string
		in   any
		want string
	}{
		{"empty object", struct{}{}, "{ }"},
		{"empty containers", map[string]any{"a": []int{}, "m": map[string]int{}}, "{\n  \"a\" : [ ],\n  \"m\" : { }\n}"},
		{"scalars inline", map[string]any{"x": []int{1, 2}, "n": nil}, "{\n  \"n\" : null,\n  \"x\" : [ 1, 2 ]\n}"},
		{"objects in arrays", map[string]any{"s": []inner{{1, "x"}, {2, "y"}}},
			"{\n  \"s\" : [ {\n    \"a\" : 1,\n    \"b\" : \"x\"\n  }, {\n    \"a\" : 2,\n    \"b\" : \"y\"\n  } ]\n}"},
		{"strings untouched", inner{B: `{"[,:]"} <&>` + "\n"}, "{\n  \"a\" : 0,\n  \"b\" : \"{\\\"[,:]\\\"} <&>\\n\"\n}"},
		{"nested arrays", [][]string{{"a"}, {}}, `[ [ "a" ], [ ] ]`},
	} {
		got, err := marshalKylin(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.name, got, c.want)
		}
		var decodedGot, decodedIn any
		plain, _ := json.Marshal(c.in)
		json.Unmarshal(plain, &decodedIn)
		if err := json.Unmarshal(got, &decodedGot); err != nil || !reflect.DeepEqual(decodedGot, decodedIn) {
			t.Errorf("%s: not the same JSON value: %v", c.name, err)
		}
	}
}

func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	r := newRand(1, "uuid")
	seen := map[string]bool{}
	for range 1000 {
		u := newUUID(r)
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("newUUID = %q (seen before: %v)", u, seen[u])
		}
		seen[u] = true
	}
	if a, b := newUUID(newRand(9, "x")), newUUID(newRand(9, "x")); a != b {
		t.Errorf("same seed and purpose gave %s and %s", a, b)
	}
}

func TestAllocate(t *testing.T) {
	for _, c := range []struct {
		total   int
		weights []float64
		want    []int
	}{
		{10, []float64{1, 1}, []int{5, 5}},
		{10, []float64{1, 0, 3}, []int{3, 0, 7}},
		{3, []float64{1, 1, 1, 1}, []int{1, 1, 1, 0}},
		{5, []float64{0, 0}, []int{0, 0}},
	} {
		got := allocate(c.total, c.weights)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("allocate(%d, %v) = %v, want %v", c.total, c.weights, got, c.want)
				break
			}
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		col  string
		want valueKind
	}{
		{"CUSTOMER_ID", kindID},
		{"PART_DT", kindDate},
		{"STORE_OPEN_DT", kindDate},
		{"ETL_LOAD_TS", kindTime},
		{"REGION_TYPE_CD", kindCode},
		{"AMOUNT", kindNumber},
		{"PRICE_3", kindNumber},
		{"CUSTOMER_NAME", kindName},
	} {
		if got := kindOf(c.col); got != c.want {
			t.Errorf("kindOf(%s) = %d, want %d", c.col, got, c.want)
		}
	}
}

// Dictionary values come out distinct and in dictionary order (numeric for
// numbers, lexical for text), so a .dict is a valid sorted trie.
func TestValueGenIsOrdered(t *testing.T) {
	r := newRand(1, "values")
	for _, col := range []string{"CUSTOMER_ID", "PART_DT", "ETL_LOAD_TS", "SITE_CD", "AMOUNT", "STORE_NAME"} {
		for _, card := range []int{1, 7, 300, 5000} {
			g := newValueGen(r, col, card)
			prev := ""
			for i := range g.card {
				v := g.value(i)
				if i > 0 && compareValues(g.kind, prev, v) >= 0 {
					t.Fatalf("%s (card %d): value %d %q not after %q", col, card, i, v, prev)
				}
				prev = v
			}
		}
	}
}

func compareValues(k valueKind, a, b string) int {
	if k == kindID || k == kindNumber {
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		return cmp.Compare(fa, fb)
	}
	return cmp.Compare(a, b)
}
