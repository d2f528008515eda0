// Package jsondiff compares two JSON documents field by field, ignoring key
// order and formatting, and compares malformed documents line by line.
//
// # Paths
//
// A Change names the place that differs with a path: object keys joined with
// dots ("rowkey.rowkey_columns"), keys that are not plain identifiers in
// brackets and quotes (`override_kylin_properties["kylin.cube.algorithm"]`),
// and array elements either by index ("segments[2]") or, when the array
// holds named objects, by identity ("segments[name=20130331080000_20131212080000].status",
// "dimensions[name=CATEGORY_HIERARCHY,column=META_CATEG_NAME]"). An identity
// value is written as is, or quoted as a JSON string when it is empty or
// holds one of `[ ] " , =`, a control character or surrounding spaces. The
// empty path is the whole document.
//
// # Arrays
//
// An array is compared by identity when every element on both sides is an
// object that has a scalar (string, number, boolean, or null if another
// identity key is not null) value for each identity key, and the values are
// unique within its side. The candidate key sets are those of
// Options.Identities, tried in order; the first that works on both sides is
// used. Elements are matched by identity: an element
// of one side only is Added or Removed, a matched element is compared
// recursively, and matched elements whose relative order changed are
// reported as Moved (order matters to Kylin in rowkey columns, for one).
//
// Any other array is compared as a sequence: elements equal on both sides
// are matched by a longest common subsequence; between two matches, the
// remaining elements are paired in order and compared recursively, and the
// rest are Added or Removed. The index of a path is the element's index in
// the new document, or in the old one for a Removed element.
//
// # Values
//
// Documents are decoded with json.Decoder.UseNumber, so numbers keep every
// digit; two numbers are equal when they denote the same value (1.0 and 1,
// 1e3 and 1000). Old and New hold the values in compact JSON with sorted
// keys.
//
// # Ignored fields
//
// Options.Ignore names object keys whose values are never compared, at any
// depth (for Kylin, the fields every save rewrites: scope.SaveFields).
package jsondiff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Op says how a value differs.
type Op string

// The kinds of difference.
const (
	// Added: the path exists in the new document only.
	Added Op = "added"
	// Removed: the path exists in the old document only.
	Removed Op = "removed"
	// Changed: the values differ (for objects and arrays, the difference
	// is reported below the path instead).
	Changed Op = "changed"
	// Moved: an element of an array compared by identity changed position;
	// Old and New are its old and new index.
	Moved Op = "moved"
)

// Change is one difference between two JSON documents.
type Change struct {
	// Path locates the value (see the package documentation); "" is the
	// whole document.
	Path string `json:"path"`
	// Op says how it differs.
	Op Op `json:"op"`
	// Old is the old value in compact JSON (absent for Added).
	Old json.RawMessage `json:"old,omitempty"`
	// New is the new value in compact JSON (absent for Removed).
	New json.RawMessage `json:"new,omitempty"`
}

// String returns the change as one line: `status: "NEW" -> "READY"`,
// `segments[name=X]: added {...}`.
func (c Change) String() string {
	p := c.Path
	if p == "" {
		p = "(document)"
	}
	switch c.Op {
	case Added:
		return p + ": added " + string(c.New)
	case Removed:
		return p + ": removed " + string(c.Old)
	case Moved:
		return p + ": moved from index " + string(c.Old) + " to " + string(c.New)
	}
	return p + ": " + string(c.Old) + " -> " + string(c.New)
}

// Options tune Diff.
type Options struct {
	// Ignore lists object keys whose values are not compared, wherever
	// they appear.
	Ignore []string
	// Identities are the key sets that may name the elements of an array
	// of objects, tried in order (for Kylin: scope.IdentityKeys); with
	// none, every array is compared as a sequence.
	Identities [][]string
}

// ErrInvalidJSON is wrapped by the errors of Parse and Diff when a document
// is not valid JSON.
var ErrInvalidJSON = errors.New("invalid JSON")

// SyntaxError is the error of Diff when a document is not valid JSON. It
// unwraps to ErrInvalidJSON.
type SyntaxError struct {
	// Side is "old" or "new".
	Side string
	// Offset is the byte offset of the error, -1 if unknown.
	Offset int64
	// Msg describes the error.
	Msg string
}

// Error returns, for example, "new version is not valid JSON: invalid
// character '}' looking for beginning of object key string (at byte 512)".
func (e *SyntaxError) Error() string {
	msg := e.Side + " version is not valid JSON: " + e.Msg
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	return msg
}

// Unwrap returns ErrInvalidJSON.
func (e *SyntaxError) Unwrap() error { return ErrInvalidJSON }

var utf8BOM = []byte("\xef\xbb\xbf")

// Parse decodes one JSON document into maps, slices, strings, json.Number,
// booleans and nil. A UTF-8 byte order mark is skipped; anything but
// whitespace after the document is an error. Errors wrap ErrInvalidJSON.
func Parse(data []byte) (any, error) {
	v, _, err := parse(data)
	return v, err
}

func parse(data []byte) (any, int64, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		off := int64(-1)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) {
			return nil, int64(len(data)), fmt.Errorf("%w: empty document", ErrInvalidJSON)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, int64(len(data)), fmt.Errorf("%w: unexpected end of document", ErrInvalidJSON)
		}
		return nil, off, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, dec.InputOffset(), fmt.Errorf("%w: data after the document", ErrInvalidJSON)
	}
	return v, -1, nil
}

// Diff compares two JSON documents and returns their differences in a
// deterministic order: object keys sorted, array elements in order (for an
// array compared by identity: removed elements, then added and changed ones
// in the new order, then moved ones). Equal documents give no change. If
// either document is not valid JSON, Diff returns a *SyntaxError naming the
// side (and the old side when both are invalid).
func Diff(old, new []byte, opt Options) ([]Change, error) {
	if cs, ok := fastDiff(old, new, opt); ok {
		return cs, nil
	}
	return decodeDiff(old, new, opt)
}

// decodeDiff is Diff through encoding/json: every document, valid or not,
// and the reference the fast path is tested against.
func decodeDiff(old, new []byte, opt Options) ([]Change, error) {
	a, off, err := parse(old)
	if err != nil {
		return nil, &SyntaxError{Side: "old", Offset: off, Msg: strings.TrimPrefix(err.Error(), ErrInvalidJSON.Error()+": ")}
	}
	b, off, err := parse(new)
	if err != nil {
		return nil, &SyntaxError{Side: "new", Offset: off, Msg: strings.TrimPrefix(err.Error(), ErrInvalidJSON.Error()+": ")}
	}
	return Compare(a, b, opt), nil
}

// Compare is Diff for documents already decoded by Parse (or any value made
// of map[string]any, []any, string, json.Number, float64, bool and nil).
func Compare(old, new any, opt Options) []Change {
	d := &differ{ignore: map[string]bool{}, identities: opt.Identities}
	for _, k := range opt.Ignore {
		d.ignore[k] = true
	}
	d.value("", old, new)
	return d.out
}

type differ struct {
	ignore     map[string]bool
	identities [][]string
	out        []Change
}

func (d *differ) add(path string, op Op, old, new any) {
	c := Change{Path: path, Op: op}
	if op != Added {
		c.Old = Encode(old)
	}
	if op != Removed {
		c.New = Encode(new)
	}
	d.out = append(d.out, c)
}

func (d *differ) value(path string, a, b any) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			d.object(path, av, bv)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			d.array(path, av, bv)
			return
		}
	default:
		if scalarEqual(a, b) {
			return
		}
	}
	d.add(path, Changed, a, b)
}

func (d *differ) object(path string, a, b map[string]any) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d.ignore[k] {
			continue
		}
		av, inA := a[k]
		bv, inB := b[k]
		p := keyPath(path, k)
		switch {
		case !inB:
			d.add(p, Removed, av, nil)
		case !inA:
			d.add(p, Added, nil, bv)
		default:
			d.value(p, av, bv)
		}
	}
}

func (d *differ) array(path string, a, b []any) {
	if keys := identityOf(d.identities, a, b); keys != nil {
		d.byIdentity(path, keys, a, b)
		return
	}
	d.bySequence(path, a, b)
}

// identityOf returns the first identity key set that names every element of
// a and b uniquely, or nil.
func identityOf(identities [][]string, a, b []any) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	for _, keys := range identities {
		if _, ok := identify(a, keys); !ok {
			continue
		}
		if _, ok := identify(b, keys); ok {
			return keys
		}
	}
	return nil
}

// identify returns the identity label of each element of s under keys, and
// whether they are all defined and unique.
func identify(s []any, keys []string) ([]string, bool) {
	labels := make([]string, len(s))
	seen := make(map[string]bool, len(s))
	for i, e := range s {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var parts []string
		named := false
		for _, k := range keys {
			raw, present := obj[k]
			if !present {
				return nil, false
			}
			v, ok := identityValue(raw)
			if !ok {
				return nil, false
			}
			named = named || raw != nil
			parts = append(parts, k+"="+v)
		}
		if !named {
			return nil, false
		}
		l := strings.Join(parts, ",")
		if seen[l] {
			return nil, false
		}
		seen[l] = true
		labels[i] = l
	}
	return labels, true
}

// identityValue formats a scalar identity value for a path.
func identityValue(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "null", true
	default:
		return "", false
	}
	if needsQuote(s) {
		return quote(s), true
	}
	return s, true
}

func needsQuote(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return true
	}
	for _, r := range s {
		if strings.ContainsRune(`[]",=`, r) || unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func (d *differ) byIdentity(path string, keys []string, a, b []any) {
	la, _ := identify(a, keys)
	lb, _ := identify(b, keys)
	moved := matchIdentified(path, la, lb,
		func(i int) { d.add(path+"["+la[i]+"]", Removed, a[i], nil) },
		func(j int) { d.add(path+"["+lb[j]+"]", Added, nil, b[j]) },
		func(i, j int) { d.value(path+"["+lb[j]+"]", a[i], b[j]) })
	d.out = append(d.out, moved...)
}

// matchIdentified pairs the elements of two arrays by their identity labels
// (la and lb, one per element, unique within each array), for both
// differs: it calls removed(i) for each old element whose label the new
// array lacks, in old order; then, in new order, added(j) for each new
// element whose label the old array lacks and matched(i, j) for each pair
// that shares a label. It returns a Moved change (old and new index) for
// every matched element outside a longest common subsequence of the two
// orders.
func matchIdentified(path string, la, lb []string, removed, added func(int), matched func(i, j int)) []Change {
	ia := make(map[string]int, len(la))
	for i, l := range la {
		ia[l] = i
	}
	ib := make(map[string]int, len(lb))
	for i, l := range lb {
		ib[l] = i
	}
	for i, l := range la {
		if _, ok := ib[l]; !ok {
			removed(i)
		}
	}
	var commonA, commonB []string // labels of matched elements, in old and new order
	for _, l := range la {
		if _, ok := ib[l]; ok {
			commonA = append(commonA, l)
		}
	}
	for j, l := range lb {
		i, ok := ia[l]
		if !ok {
			added(j)
			continue
		}
		commonB = append(commonB, l)
		matched(i, j)
	}
	// Elements outside a longest common subsequence of the two orders moved.
	var moved []Change
	inOrder := stableOrder(commonA, commonB)
	for _, l := range commonB {
		if !inOrder[l] {
			moved = append(moved, Change{Path: path + "[" + l + "]", Op: Moved,
				Old: json.RawMessage(strconv.Itoa(ia[l])), New: json.RawMessage(strconv.Itoa(ib[l]))})
		}
	}
	return moved
}

func (d *differ) bySequence(path string, a, b []any) {
	ka := make([]string, len(a))
	for i, v := range a {
		ka[i] = string(Encode(v))
	}
	kb := make([]string, len(b))
	for i, v := range b {
		kb[i] = string(Encode(v))
	}
	idx := func(i int) string { return path + "[" + strconv.Itoa(i) + "]" }
	alignSequences(ka, kb,
		func(i int) { d.add(idx(i), Removed, a[i], nil) },
		func(j int) { d.add(idx(j), Added, nil, b[j]) },
		func(i, j int) { d.value(idx(j), a[i], b[j]) })
}

// alignSequences aligns two arrays by a longest common subsequence of their
// elements' encodings (ka, kb), for both differs. Between two common
// elements it pairs the elements of both sides in order, calling
// changed(i, j), then calls removed(i) for the old elements left over and
// added(j) for the new ones; a common element calls nothing.
func alignSequences(ka, kb []string, removed, added func(int), changed func(i, j int)) {
	gap := func(i0, i1, j0, j1 int) {
		n := min(i1-i0, j1-j0)
		for k := 0; k < n; k++ {
			changed(i0+k, j0+k)
		}
		for i := i0 + n; i < i1; i++ {
			removed(i)
		}
		for j := j0 + n; j < j1; j++ {
			added(j)
		}
	}
	i, j := 0, 0
	for _, p := range lcs(ka, kb) {
		gap(i, p[0], j, p[1])
		i, j = p[0]+1, p[1]+1
	}
	gap(i, len(ka), j, len(kb))
}

// keyPath appends an object key to a path.
func keyPath(path, key string) string {
	if isIdent(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + quote(key) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || r == '-'):
		default:
			return false
		}
	}
	return true
}

func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// Encode returns v in compact JSON with object keys sorted, without HTML
// escaping. Values that cannot be encoded (which Parse never returns) give
// "null".
func Encode(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// scalarEqual compares two JSON scalars; numbers by value.
func scalarEqual(a, b any) bool {
	switch av := a.(type) {
	case json.Number:
		switch bv := b.(type) {
		case json.Number:
			return av == bv || numEqual(string(av), string(bv))
		case float64:
			return numEqual(string(av), strconv.FormatFloat(bv, 'g', -1, 64))
		}
		return false
	case float64:
		switch bv := b.(type) {
		case float64:
			return av == bv
		case json.Number:
			return numEqual(strconv.FormatFloat(av, 'g', -1, 64), string(bv))
		}
		return false
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case nil:
		return b == nil
	}
	return false
}

// numEqual reports whether two JSON number literals denote the same value.
// Literals with huge exponents are compared as float64 rather than expanded.
func numEqual(a, b string) bool {
	if a == b {
		return true
	}
	if !bigExponent(a) && !bigExponent(b) {
		x, ok1 := new(big.Rat).SetString(a)
		y, ok2 := new(big.Rat).SetString(b)
		return ok1 && ok2 && x.Cmp(y) == 0
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

// bigExponent reports whether a number literal has an exponent beyond
// ±400, which big.Rat would expand into a huge integer.
func bigExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
	return err != nil || e > 400 || e < -400
}
