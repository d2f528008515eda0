package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ProjectAdditions are what MergeProject adds to a Kylin project JSON, so
// that a restored cube is listed by the project it is restored into.
type ProjectAdditions struct {
	// Realization is the cube (or hybrid) to add to "realizations"; ""
	// adds none.
	Realization string
	// RealizationType is the type of the realization, "CUBE" when empty.
	RealizationType string
	// Model is the model name to add to "models"; "" adds none.
	Model string
	// Tables are the "DB.TABLE" names to add to "tables".
	Tables []string
}

// ErrInvalidProjectJSON is wrapped by MergeProject's errors about documents
// it cannot merge into: invalid JSON, a root that is not an object, or a
// "realizations", "models" or "tables" member that is not an array.
var ErrInvalidProjectJSON = errors.New("invalid project JSON")

// MergeProject adds to a Kylin project document (the content of
// "/project/P.json") what add lists, where it is missing:
// {"name": R, "type": T, "realization": R} to "realizations" unless an entry
// of that type and realization is there, the model to "models" unless
// present, and each table to "tables" unless present (table names compare
// without regard to case).
//
// It edits the text instead of re-serialising it: every byte outside the
// inserted text stays as it was, key order, spacing and unknown fields
// included. New elements are inserted after the last element of an array,
// before its closing ']', with the spacing of that last element; a missing
// array is created as a new member before the final '}'; a null member
// becomes an array. changed is false, and merged is data, when nothing was
// missing. The error wraps ErrInvalidProjectJSON when data is not valid JSON
// or not an object, or when one of those members has another type.
func MergeProject(data []byte, add ProjectAdditions) (merged []byte, changed bool, err error) {
	start := 0
	if bytes.HasPrefix(data, utf8BOM) {
		start = len(utf8BOM)
	}
	if !json.Valid(data[start:]) {
		return nil, false, fmt.Errorf("%w: not valid JSON", ErrInvalidProjectJSON)
	}
	i := skipWS(data, start)
	if data[i] != '{' {
		return nil, false, fmt.Errorf("%w: the document is not an object", ErrInvalidProjectJSON)
	}
	root, rootEnd, err := scanObject(data, i)
	if err != nil {
		return nil, false, err
	}
	m := merger{data: data, root: root, rootEnd: rootEnd}

	if add.Realization != "" {
		typ := add.RealizationType
		if typ == "" {
			typ = "CUBE"
		}
		elem := `{"name":` + quote(add.Realization) + `,"type":` + quote(typ) +
			`,"realization":` + quote(add.Realization) + `}`
		err := m.array("realizations", []string{elem}, func(raw []byte, _ int) bool {
			var e realizationEntry
			return json.Unmarshal(raw, &e) == nil && e.name() == add.Realization && strings.EqualFold(e.Type, typ)
		})
		if err != nil {
			return nil, false, err
		}
	}
	if add.Model != "" {
		err := m.array("models", []string{quote(add.Model)}, func(raw []byte, _ int) bool {
			var s string
			return json.Unmarshal(raw, &s) == nil && s == add.Model
		})
		if err != nil {
			return nil, false, err
		}
	}
	var tables []string
	for _, t := range add.Tables {
		dup := t == ""
		for _, u := range tables {
			dup = dup || strings.EqualFold(t, u)
		}
		if !dup {
			tables = append(tables, t)
		}
	}
	if len(tables) > 0 {
		elems := make([]string, len(tables))
		for k, t := range tables {
			elems[k] = quote(t)
		}
		err := m.array("tables", elems, func(raw []byte, k int) bool {
			var s string
			return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, tables[k])
		})
		if err != nil {
			return nil, false, err
		}
	}
	m.addMembers()
	if len(m.edits) == 0 {
		return data, false, nil
	}
	return m.apply(), true, nil
}

// merger collects the text edits of one MergeProject call.
type merger struct {
	data       []byte
	root       []member
	rootEnd    int // index after the root's '}'
	edits      []edit
	newMembers []newMember // missing arrays, to create
}

// newMember is a member MergeProject creates: a quoted key and its value.
type newMember struct{ key, value string }

// edit replaces data[start:end] with text (an insertion when start == end).
type edit struct {
	start, end int
	text       string
}

// array adds to the member key the elements of elems that present does not
// find among its elements (present(raw, k) tells whether an existing
// element raw is elems[k]).
func (m *merger) array(key string, elems []string, present func(raw []byte, k int) bool) error {
	mem := m.lookup(key)
	if mem == nil {
		m.newMembers = append(m.newMembers, newMember{quote(key), "[" + strings.Join(elems, ", ") + "]"})
		return nil
	}
	switch m.data[mem.valStart] {
	case 'n': // null
		m.edits = append(m.edits, edit{mem.valStart, mem.valEnd, "[" + strings.Join(elems, ", ") + "]"})
		return nil
	case '[':
	default:
		return fmt.Errorf("%w: %q is not an array", ErrInvalidProjectJSON, key)
	}
	spans, _, err := scanArray(m.data, mem.valStart)
	if err != nil {
		return err
	}
	var missing []string
	for k, e := range elems {
		found := false
		for _, s := range spans {
			if present(m.data[s.start:s.end], k) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if len(spans) == 0 {
		// "[ ]": put the elements before ']' and repeat the inner spacing
		// after them.
		closeAt := mem.valEnd - 1
		inner := string(m.data[mem.valStart+1 : closeAt])
		m.edits = append(m.edits, edit{closeAt, closeAt, strings.Join(missing, ", ") + inner})
		return nil
	}
	last := spans[len(spans)-1]
	ws := string(m.data[wsBefore(m.data, last.start):last.start])
	var b strings.Builder
	for _, e := range missing {
		b.WriteString("," + ws + e)
	}
	m.edits = append(m.edits, edit{last.end, last.end, b.String()})
	return nil
}

// lookup returns the last root member called key (the one JSON decoders
// honour), or nil.
func (m *merger) lookup(key string) *member {
	for k := len(m.root) - 1; k >= 0; k-- {
		if m.root[k].key == key {
			return &m.root[k]
		}
	}
	return nil
}

// addMembers turns newMembers into one edit before the root's final '}',
// spaced like the last member.
func (m *merger) addMembers() {
	if len(m.newMembers) == 0 {
		return
	}
	if len(m.root) == 0 {
		// "{ }": put the members before '}' and repeat the inner spacing
		// after them.
		closeAt := m.rootEnd - 1
		open := bytes.LastIndexByte(m.data[:closeAt], '{')
		var texts []string
		for _, nm := range m.newMembers {
			texts = append(texts, nm.key+": "+nm.value)
		}
		m.edits = append(m.edits, edit{closeAt, closeAt, strings.Join(texts, ", ") + string(m.data[open+1:closeAt])})
		return
	}
	last := m.root[len(m.root)-1]
	ws := string(m.data[wsBefore(m.data, last.keyStart):last.keyStart])
	sep := string(m.data[last.keyEnd:last.valStart]) // ":" as the document spaces it
	var b strings.Builder
	for _, nm := range m.newMembers {
		b.WriteString("," + ws + nm.key + sep + nm.value)
	}
	m.edits = append(m.edits, edit{last.valEnd, last.valEnd, b.String()})
}

// apply returns data with the edits made.
func (m *merger) apply() []byte {
	sort.SliceStable(m.edits, func(i, j int) bool { return m.edits[i].start < m.edits[j].start })
	var out bytes.Buffer
	pos := 0
	for _, e := range m.edits {
		out.Write(m.data[pos:e.start])
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(m.data[pos:])
	return out.Bytes()
}

// quote returns s as a JSON string, without escaping <, > and &.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// The scanner below walks JSON text that json.Valid accepted, recording
// where members and elements start and end.

// member is one member of an object: its decoded key, the span of the
// quoted key and the span of the value.
type member struct {
	key              string
	keyStart, keyEnd int
	valStart, valEnd int
}

// span is the extent of one array element.
type span struct{ start, end int }

var errTruncated = fmt.Errorf("%w: unexpected end of input", ErrInvalidProjectJSON)

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// wsBefore returns the start of the run of spaces that ends at i.
func wsBefore(b []byte, i int) int {
	for i > 0 && isWS(b[i-1]) {
		i--
	}
	return i
}

// scanValue returns the index after the value starting at b[i].
func scanValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errTruncated
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{':
		_, end, err := scanObject(b, i)
		return end, err
	case '[':
		_, end, err := scanArray(b, i)
		return end, err
	}
	for i < len(b) && !isWS(b[i]) && b[i] != ',' && b[i] != ']' && b[i] != '}' {
		i++
	}
	return i, nil
}

// scanString returns the index after the string starting at b[i] == '"'.
func scanString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errTruncated
}

// scanObject returns the members of the object starting at b[i] == '{' and
// the index after its '}'.
func scanObject(b []byte, i int) ([]member, int, error) {
	return scanList(b, i, '}', func(i int) (member, int, error) {
		var mem member
		mem.keyStart = i
		end, err := scanString(b, i)
		if err != nil {
			return mem, 0, err
		}
		mem.keyEnd = end
		if err := json.Unmarshal(b[mem.keyStart:mem.keyEnd], &mem.key); err != nil {
			return mem, 0, fmt.Errorf("%w: %v", ErrInvalidProjectJSON, err)
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return mem, 0, errTruncated
		}
		mem.valStart = skipWS(b, i+1)
		mem.valEnd, err = scanValue(b, mem.valStart)
		return mem, mem.valEnd, err
	})
}

// scanArray returns the elements of the array starting at b[i] == '[' and
// the index after its ']'.
func scanArray(b []byte, i int) ([]span, int, error) {
	return scanList(b, i, ']', func(i int) (span, int, error) {
		end, err := scanValue(b, i)
		return span{i, end}, end, err
	})
}

// scanList returns the items of the object or array whose opening bracket
// is b[i], and the index after its closing one: item scans the item that
// starts at b[i] and returns its end.
func scanList[T any](b []byte, i int, closing byte, item func(i int) (T, int, error)) ([]T, int, error) {
	var items []T
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closing {
		return items, i + 1, nil
	}
	for i < len(b) {
		it, end, err := item(i)
		if err != nil {
			return nil, 0, err
		}
		items = append(items, it)
		i = skipWS(b, end)
		if i >= len(b) {
			break
		}
		if b[i] == closing {
			return items, i + 1, nil
		}
		i = skipWS(b, i+1) // past ','
	}
	return nil, 0, errTruncated
}
