package jsondiff

import (
	"bytes"
	"strconv"
	"strings"
)

// fastDiff is Diff on two scanned documents (see scan.go); ok is false if
// either is left to the encoding/json path. It follows differ step by step.
func fastDiff(old, new []byte, opt Options) (_ []Change, ok bool) {
	a, ok := scanDoc(bytes.TrimPrefix(old, utf8BOM))
	if !ok {
		return nil, false
	}
	defer a.release()
	b, ok := scanDoc(bytes.TrimPrefix(new, utf8BOM))
	if !ok {
		return nil, false
	}
	defer b.release()
	d := &fastDiffer{a: a, b: b, ignore: map[string]bool{}, identities: opt.Identities}
	for _, k := range opt.Ignore {
		d.ignore[k] = true
	}
	d.value("", &a.root, &b.root)
	return d.out, true
}

type fastDiffer struct {
	a, b       *doc // old and new
	ignore     map[string]bool
	identities [][]string
	out        []Change
}

// add records a change of x (old; nil for Added) to y (new; nil for Removed).
func (d *fastDiffer) add(path string, op Op, x, y *node) {
	c := Change{Path: path, Op: op}
	if x != nil {
		c.Old = d.a.encode(nil, x)
	}
	if y != nil {
		c.New = d.b.encode(nil, y)
	}
	d.out = append(d.out, c)
}

func (d *fastDiffer) value(path string, x, y *node) {
	if x.kind == y.kind {
		if bytes.Equal(d.a.raw(x), d.b.raw(y)) {
			return // equal bytes, equal values
		}
		switch x.kind {
		case kindObject:
			d.object(path, x, y)
			return
		case kindArray:
			d.array(path, x, y)
			return
		case kindNumber:
			if numEqual(string(d.a.raw(x)), string(d.b.raw(y))) {
				return
			}
		case kindString:
			if (!x.simple || !y.simple) && d.a.str(x) == d.b.str(y) {
				return
			}
		}
	}
	d.add(path, Changed, x, y)
}

// object merges the members of x and y, both sorted by key.
func (d *fastDiffer) object(path string, x, y *node) {
	ka, kb := d.a.kids(x), d.b.kids(y)
	i, j := 0, 0
	for i < len(ka) || j < len(kb) {
		var c int
		switch {
		case i == len(ka):
			c = 1
		case j == len(kb):
			c = -1
		default:
			c = bytes.Compare(d.a.key(&ka[i]), d.b.key(&kb[j]))
		}
		var k []byte
		if c <= 0 {
			k = d.a.key(&ka[i])
		} else {
			k = d.b.key(&kb[j])
		}
		if !d.ignore[string(k)] {
			switch {
			case c < 0:
				d.add(keyPath(path, string(k)), Removed, &ka[i], nil)
			case c > 0:
				d.add(keyPath(path, string(k)), Added, nil, &kb[j])
			default:
				if !bytes.Equal(d.a.raw(&ka[i]), d.b.raw(&kb[j])) {
					d.value(keyPath(path, string(k)), &ka[i], &kb[j])
				}
			}
		}
		if c <= 0 {
			i++
		}
		if c >= 0 {
			j++
		}
	}
}

func (d *fastDiffer) array(path string, x, y *node) {
	if la, lb, ok := d.identityOf(x, y); ok {
		d.byIdentity(path, la, lb, x, y)
		return
	}
	d.bySequence(path, x, y)
}

// identityOf returns the identity labels of the elements of x and y under
// the first identity key set that names every element of both uniquely.
func (d *fastDiffer) identityOf(x, y *node) ([]string, []string, bool) {
	if x.n+y.n == 0 {
		return nil, nil, false
	}
	for _, keys := range d.identities {
		la, ok := d.a.identify(x, keys)
		if !ok {
			continue
		}
		if lb, ok := d.b.identify(y, keys); ok {
			return la, lb, true
		}
	}
	return nil, nil, false
}

// identify is identify for the elements of array n.
func (doc *doc) identify(n *node, keys []string) ([]string, bool) {
	kids := doc.kids(n)
	for k := range kids {
		if kids[k].kind != kindObject {
			return nil, false
		}
	}
	labels := make([]string, len(kids))
	seen := make(map[string]bool, len(kids))
	var b strings.Builder
	for i := range kids {
		b.Reset()
		named := false
		for k, key := range keys {
			m := doc.member(&kids[i], key)
			if m == nil {
				return nil, false
			}
			v, ok := doc.identityValue(m)
			if !ok {
				return nil, false
			}
			named = named || m.kind != kindNull
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(v)
		}
		if !named {
			return nil, false
		}
		l := b.String()
		if seen[l] {
			return nil, false
		}
		seen[l] = true
		labels[i] = l
	}
	return labels, true
}

// identityValue is identityValue for a node.
func (doc *doc) identityValue(n *node) (string, bool) {
	switch n.kind {
	case kindString:
		s := doc.str(n)
		if needsQuote(s) {
			return quote(s), true
		}
		return s, true
	case kindNumber, kindNull, kindTrue, kindFalse:
		return string(doc.raw(n)), true
	}
	return "", false
}

func (d *fastDiffer) byIdentity(path string, la, lb []string, x, y *node) {
	a, b := d.a.kids(x), d.b.kids(y)
	moved := matchIdentified(path, la, lb,
		func(i int) { d.add(path+"["+la[i]+"]", Removed, &a[i], nil) },
		func(j int) { d.add(path+"["+lb[j]+"]", Added, nil, &b[j]) },
		func(i, j int) {
			if !bytes.Equal(d.a.raw(&a[i]), d.b.raw(&b[j])) {
				d.value(path+"["+lb[j]+"]", &a[i], &b[j])
			}
		})
	d.out = append(d.out, moved...)
}

func (d *fastDiffer) bySequence(path string, x, y *node) {
	a, b := d.a.kids(x), d.b.kids(y)
	ka := make([]string, len(a))
	var buf []byte
	for i := range a {
		buf = d.a.encode(buf[:0], &a[i])
		ka[i] = string(buf)
	}
	kb := make([]string, len(b))
	for i := range b {
		buf = d.b.encode(buf[:0], &b[i])
		kb[i] = string(buf)
	}
	idx := func(i int) string { return path + "[" + strconv.Itoa(i) + "]" }
	alignSequences(ka, kb,
		func(i int) { d.add(idx(i), Removed, &a[i], nil) },
		func(j int) { d.add(idx(j), Added, nil, &b[j]) },
		func(i, j int) { d.value(idx(j), &a[i], &b[j]) })
}
