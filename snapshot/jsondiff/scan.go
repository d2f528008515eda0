package jsondiff

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"unicode/utf8"
)

// The fast path of Diff: both documents are scanned once into flat arrays
// of nodes that point into their bytes (no maps, no interfaces, no string
// per value), equal subtrees are recognised by their bytes, and only what
// differs is looked at further. It gives exactly what the encoding/json path
// gives; documents it does not handle the same way (invalid JSON, which
// needs encoding/json's error; keys with escapes, keys listed twice,
// invalid UTF-8; deep nesting) are left to that path.

// The kinds of node.
const (
	kindNull uint8 = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

// maxScanDepth is the deepest nesting the scanner takes; deeper documents
// go through encoding/json (whose own limit is 10,000).
const maxScanDepth = 1000

// node is a value of a scanned document. The children of an array or an
// object are consecutive in doc.nodes, an object's sorted by key.
type node struct {
	kind uint8
	// simple: a string whose bytes between the quotes are its value and
	// also its encoding by Encode (no escapes, no U+2028 or U+2029).
	simple     bool
	start, end int32 // the value's bytes in doc.data, a string's with its quotes
	kstart     int32 // an object member's key, between its quotes
	kend       int32
	first, n   int32 // an array's or object's children in doc.nodes
}

// doc is a scanned document.
type doc struct {
	data  []byte
	nodes []node
	root  node
	stack []node // children of the containers being scanned
}

// docs keeps scanned documents for their node arrays: a diff of two
// snapshots scans thousands of documents one after the other.
var docs = sync.Pool{New: func() any { return new(doc) }}

// scanDoc scans data (a byte order mark already removed); ok is false if
// the fast path does not take it. Put d back with release once no node of
// it is used any more.
func scanDoc(data []byte) (d *doc, ok bool) {
	if len(data) >= math.MaxInt32 || !utf8.Valid(data) {
		return nil, false
	}
	d = docs.Get().(*doc)
	d.data, d.nodes, d.stack = data, d.nodes[:0], d.stack[:0]
	if n := 16 + len(data)/32; cap(d.nodes) < n {
		d.nodes = make([]node, 0, n)
	}
	i := skipSpace(data, 0)
	root, i, ok := d.value(i, 0)
	if !ok || skipSpace(data, i) != len(data) {
		d.release()
		return nil, false
	}
	d.root = root
	return d, true
}

// release puts d back into docs.
func (d *doc) release() {
	d.data = nil
	docs.Put(d)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value at i and returns it and where it ends.
func (d *doc) value(i, depth int) (node, int, bool) {
	data := d.data
	if i >= len(data) {
		return node{}, i, false
	}
	switch c := data[i]; {
	case c == '{':
		return d.object(i, depth+1)
	case c == '[':
		return d.array(i, depth+1)
	case c == '"':
		end, simple, ok := scanString(data, i)
		return node{kind: kindString, simple: simple, start: int32(i), end: int32(end)}, end, ok
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok := scanNumber(data, i)
		return node{kind: kindNumber, start: int32(i), end: int32(end)}, end, ok
	}
	for _, lit := range [...]struct {
		word string
		kind uint8
	}{{"null", kindNull}, {"false", kindFalse}, {"true", kindTrue}} {
		if bytes.HasPrefix(data[i:], []byte(lit.word)) {
			end := i + len(lit.word)
			return node{kind: lit.kind, start: int32(i), end: int32(end)}, end, true
		}
	}
	return node{}, i, false
}

// scanString scans the string whose opening quote is at i and returns the
// index after its closing quote and whether it is simple.
func scanString(data []byte, i int) (int, bool, bool) {
	simple := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j + 1, simple, true
		case c == '\\':
			simple = false
			j++
			if j >= len(data) {
				return j, false, false
			}
			switch data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(data) || !isHex4(data[j+1:j+5]) {
					return j, false, false
				}
				j += 4
			default:
				return j, false, false
			}
		case c < 0x20:
			return j, false, false
		case c == 0xe2 && j+2 < len(data) && data[j+1] == 0x80 && (data[j+2] == 0xa8 || data[j+2] == 0xa9):
			simple = false // U+2028 and U+2029 are escaped when encoded
		}
	}
	return len(data), false, false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// scanNumber scans the number at i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(data []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if j, ok := digits(i); ok {
		i = j
	} else {
		return i, false
	}
	var ok bool
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

// array scans the array whose bracket is at i.
func (d *doc) array(i, depth int) (node, int, bool) {
	start, mark := i, len(d.stack)
	i, done, ok := d.open(i, depth, ']')
	if !ok {
		return node{}, i, false
	}
	for !done {
		v, next, ok := d.value(i, depth)
		if !ok {
			return node{}, next, false
		}
		d.stack = append(d.stack, v)
		if i, done, ok = d.next(next, ']'); !ok {
			return node{}, i, false
		}
	}
	return d.close(kindArray, start, i+1, mark), i + 1, true
}

// object scans the object whose brace is at i.
func (d *doc) object(i, depth int) (node, int, bool) {
	data := d.data
	start, mark := i, len(d.stack)
	i, done, ok := d.open(i, depth, '}')
	if !ok {
		return node{}, i, false
	}
	for !done {
		if i >= len(data) || data[i] != '"' {
			return node{}, i, false
		}
		kend, simple, ok := scanString(data, i)
		if !ok || !simple {
			return node{}, kend, false // a key with escapes: encoding/json decodes it
		}
		ks := i + 1
		i = skipSpace(data, kend)
		if i >= len(data) || data[i] != ':' {
			return node{}, i, false
		}
		v, next, ok := d.value(skipSpace(data, i+1), depth)
		if !ok {
			return node{}, next, false
		}
		v.kstart, v.kend = int32(ks), int32(kend-1)
		d.stack = append(d.stack, v)
		if i, done, ok = d.next(next, '}'); !ok {
			return node{}, i, false
		}
	}
	members := d.stack[mark:]
	slices.SortFunc(members, func(x, y node) int {
		return bytes.Compare(data[x.kstart:x.kend], data[y.kstart:y.kend])
	})
	for k := 1; k < len(members); k++ {
		if bytes.Equal(d.key(&members[k-1]), d.key(&members[k])) {
			return node{}, i, false // a key listed twice: the last one wins in encoding/json
		}
	}
	return d.close(kindObject, start, i+1, mark), i + 1, true
}

// open passes the bracket at i that opens an array or object of depth
// depth, and the space after it: it returns the index of the first element
// or member, or of the closing bracket (done), and false if the value is
// nested too deep.
func (d *doc) open(i, depth int, closing byte) (int, bool, bool) {
	if depth > maxScanDepth {
		return i, false, false
	}
	i = skipSpace(d.data, i+1)
	return i, i < len(d.data) && d.data[i] == closing, true
}

// next passes the space and the comma or closing bracket after an
// element or member of an array or object that ends at i: it returns the
// index of the next one, or of the closing bracket (done), and false if
// neither follows.
func (d *doc) next(i int, closing byte) (int, bool, bool) {
	data := d.data
	i = skipSpace(data, i)
	switch {
	case i >= len(data):
		return i, false, false
	case data[i] == closing:
		return i, true, true
	case data[i] != ',':
		return i, false, false
	}
	return skipSpace(data, i+1), false, true
}

// close moves the children scanned since mark to d.nodes and returns their
// container.
func (d *doc) close(kind uint8, start, end, mark int) node {
	n := node{kind: kind, start: int32(start), end: int32(end), first: int32(len(d.nodes)), n: int32(len(d.stack) - mark)}
	d.nodes = append(d.nodes, d.stack[mark:]...)
	d.stack = d.stack[:mark]
	return n
}

func (d *doc) raw(n *node) []byte { return d.data[n.start:n.end] }

func (d *doc) key(n *node) []byte { return d.data[n.kstart:n.kend] }

func (d *doc) kids(n *node) []node { return d.nodes[n.first : n.first+n.n] }

// str returns the value of a string node.
func (d *doc) str(n *node) string {
	if n.simple {
		return string(d.data[n.start+1 : n.end-1])
	}
	var s string
	json.Unmarshal(d.raw(n), &s) // scanned, so valid
	return s
}

// member returns the member of object n with key k, or nil.
func (d *doc) member(n *node, k string) *node {
	kids := d.kids(n)
	i, found := slices.BinarySearchFunc(kids, k, func(m node, k string) int {
		return bytes.Compare(d.data[m.kstart:m.kend], []byte(k))
	})
	if !found {
		return nil
	}
	return &kids[i]
}

// encode appends the encoding of n that Encode gives the decoded value.
func (d *doc) encode(buf []byte, n *node) []byte {
	switch n.kind {
	case kindString:
		if n.simple {
			return append(buf, d.raw(n)...)
		}
		return append(buf, quote(d.str(n))...)
	case kindArray, kindObject:
		open, close := byte('['), byte(']')
		if n.kind == kindObject {
			open, close = '{', '}'
		}
		buf = append(buf, open)
		for k := range d.kids(n) {
			m := &d.nodes[int(n.first)+k]
			if k > 0 {
				buf = append(buf, ',')
			}
			if n.kind == kindObject {
				buf = append(buf, '"')
				buf = append(buf, d.key(m)...)
				buf = append(buf, '"', ':')
			}
			buf = d.encode(buf, m)
		}
		return append(buf, close)
	}
	return append(buf, d.raw(n)...)
}
