package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A metastore of a busy Kylin 2-4 holds hundreds of thousands of jobs under
// "/execute/", and a project scope reads every one of them to learn whose it
// is (see jobs4). Decoding them with encoding/json into structs and maps
// made a map of every job's params and a value of every step, and its
// garbage was what the collector spent its time on at a million resources.
// jobDecoder instead walks each job once, checking it as json.Valid does
// (jsonScanner, so that what fails is what failed before) while it picks
// out the few strings the rules read, in place or into a buffer it reuses
// from job to job, and skips the rest without decoding it: no allocation
// per job. Only a string with escapes or invalid UTF-8 goes through
// json.Unmarshal, so strings read exactly as before. json.Valid followed by
// a walk of the valid text was about 4x slower (two passes), jsontext (the JSON
// v2 prototype's token reader, in go.sum through chromedp) about as fast,
// but scope imports only the standard library (TestImports).
//
// What it reads is what encoding/json read into the structs this replaced
// (kept in execute_test.go as the reference the tests compare with):
//   - "params" and "tasks" match top-level names case-insensitively (as
//     bytes.EqualFold, encoding/json's struct field rule), the last of
//     duplicate names wins, and a "params" that is neither an object nor
//     null is an error;
//   - parameter names match exactly (map keys), the last duplicate wins, and
//     a value that is not a string reads as "";
//   - a step is an object of "tasks" (a list) with a string "uuid" (matched
//     case-insensitively, last duplicate wins) that is not empty; others
//     are skipped;
//   - invalid UTF-8 is accepted and read as U+FFFD, and duplicate names
//     anywhere are accepted.

// Indexes of the job parameters the rules read, in executable.params.
const (
	paramProject = iota // "projectName"
	paramCube           // "cubeName"
	paramSegment        // "segmentId"
	numParams
)

// errInvalid is the error of a job that is not JSON, should encoding/json
// accept what jsonScanner did not (the tests say it never does).
var errInvalid = errors.New("not valid JSON")

// errNotObject is the error of a job or a "params" that is not a JSON
// object (nor null).
var errNotObject = errors.New("not a JSON object")

// executable is "/execute/JOB", Kylin's ExecutablePO, as far as the job rules
// read it: the params of a CubingJob name its project ("projectName"), cube
// ("cubeName") and segment ("segmentId"); "tasks" lists its steps. Its
// slices belong to the jobDecoder that returned it, until its next decode.
type executable struct {
	params [numParams][]byte // unquoted; nil if absent or not a string
	tasks  [][]byte          // the steps' uuids
}

// param returns a parameter of the job (paramProject, ...), or nil.
func (e *executable) param(i int) []byte { return e.params[i] }

// jobDecoder decodes jobs one after the other, reusing its buffers.
type jobDecoder struct {
	text  []byte // unquoted strings of the job being decoded
	tasks [][]byte
}

// newJobDecoder returns a decoder for jobs.
func newJobDecoder() *jobDecoder { return &jobDecoder{} }

// decode reads a job. It fails when data (after a byte order mark) is not
// one JSON value, when that value is neither an object nor null, or when
// its "params" is neither an object nor null: then nobody can tell whose job
// it is. A "tasks" of an unexpected shape (an object, a string, null, a list
// of non-objects) only lists fewer steps, and a parameter that is not a
// string is as good as absent, so that no other field changes what a job
// belongs to. The executable's slices point into data or into the
// decoder's buffers, until its next decode.
func (j *jobDecoder) decode(data []byte) (executable, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	j.text = j.text[:0]
	e := executable{tasks: j.tasks[:0]}
	s := jsonScanner{b: data}
	i := skipWS(data, 0)
	ok, badParams := i < len(data), false
	if ok {
		var end int
		if data[i] == '{' {
			end, ok = s.object(i, func(name []byte, at int) (int, bool) {
				switch {
				case j.nameFolds(name, "params"):
					badParams = data[at] != '{' && data[at] != 'n'
					return j.params(&s, &e, at)
				case j.nameFolds(name, "tasks"):
					return j.steps(&s, &e, at)
				}
				return s.value(at)
			})
		} else {
			end, ok = s.value(i)
		}
		ok = ok && skipWS(data, end) == len(data)
	}
	j.tasks = e.tasks
	switch {
	case !ok:
		var v struct{}
		if err := json.Unmarshal(data, &v); err != nil {
			return e, err // the error encoding/json gives
		}
		return e, errInvalid
	case data[i] == 'n':
		return e, nil
	case data[i] != '{':
		return e, errNotObject
	case badParams:
		return e, fmt.Errorf("params: %w", errNotObject)
	}
	return e, nil
}

// params scans a job's "params", the value at data[at], replacing what an
// earlier "params" set.
func (j *jobDecoder) params(s *jsonScanner, e *executable, at int) (int, bool) {
	e.params = [numParams][]byte{}
	if s.b[at] != '{' {
		return s.value(at)
	}
	return s.object(at, func(name []byte, at int) (int, bool) {
		i := j.paramIndex(name)
		end, ok := s.value(at)
		if ok && i >= 0 {
			e.params[i] = j.stringValue(s.b[at:end])
		}
		return end, ok
	})
}

// steps scans a job's "tasks", the value at data[at], replacing what an
// earlier "tasks" listed.
func (j *jobDecoder) steps(s *jsonScanner, e *executable, at int) (int, bool) {
	e.tasks = e.tasks[:0]
	if s.b[at] != '[' {
		return s.value(at)
	}
	return s.array(at, func(at int) (int, bool) {
		if s.b[at] != '{' {
			return s.value(at)
		}
		var id []byte
		end, ok := s.object(at, func(name []byte, at int) (int, bool) {
			end, ok := s.value(at)
			if ok && j.nameFolds(name, "uuid") {
				id = j.stringValue(s.b[at:end])
			}
			return end, ok
		})
		if ok && len(id) > 0 {
			e.tasks = append(e.tasks, id)
		}
		return end, ok
	})
}

// unquote returns the text of a JSON string (quotes included): in place
// when it has no escape and is valid UTF-8, else as json.Unmarshal reads
// it (invalid UTF-8 and lone surrogates as U+FFFD), copied into j.text.
func (j *jobDecoder) unquote(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s[1 : len(s)-1]
	}
	var text string
	if json.Unmarshal(s, &text) != nil {
		return nil // not reached: jsonScanner accepted s
	}
	start := len(j.text)
	j.text = append(j.text, text...)
	return j.text[start:len(j.text):len(j.text)]
}

// stringValue returns the text of v if it is a JSON string, or nil.
func (j *jobDecoder) stringValue(v []byte) []byte {
	if v[0] != '"' {
		return nil
	}
	return j.unquote(v)
}

// nameFolds reports whether the object name (quoted) is want, as
// encoding/json matches names to struct fields (bytes.EqualFold).
func (j *jobDecoder) nameFolds(name []byte, want string) bool {
	if len(name) < len(want)+2 {
		// Quoted, a name takes at least as many bytes as the ASCII
		// names asked for: what folds to an ASCII letter (the letter,
		// U+017F for s, U+212A for k) is no shorter, nor is an escape.
		return false
	}
	return bytes.EqualFold(j.unquote(name), []byte(want))
}

// paramIndex returns the index of the parameter the object name (quoted)
// names exactly, or -1.
func (j *jobDecoder) paramIndex(name []byte) int {
	switch string(j.unquote(name)) {
	case "projectName":
		return paramProject
	case "cubeName":
		return paramCube
	case "segmentId":
		return paramSegment
	}
	return -1
}

// jsonScanner checks JSON text as json.Valid does (RFC 8259 with invalid
// UTF-8 inside strings accepted, at most maxDepth nested objects and
// arrays) while the job decoder walks it, so that each byte is looked at
// once. Its methods take the index of the first byte of a value (after
// white space) and return the index after it, or ok == false.
type jsonScanner struct {
	b     []byte
	depth int
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// value scans any value.
func (s *jsonScanner) value(i int) (end int, ok bool) {
	switch c := s.b[i]; {
	case c == '{':
		return s.object(i, nil)
	case c == '[':
		return s.array(i, nil)
	case c == '"':
		return s.str(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	}
	return 0, false
}

// object scans the object at b[i] == '{'. member, if not nil, scans each
// member's value (its quoted name checked already), at b[at].
func (s *jsonScanner) object(i int, member func(name []byte, at int) (int, bool)) (int, bool) {
	return s.list(i, '}', func(i int) (int, bool) {
		b := s.b
		if b[i] != '"' {
			return 0, false
		}
		nameEnd, ok := s.str(i)
		colon := skipWS(b, nameEnd)
		at := skipWS(b, colon+1)
		if !ok || colon >= len(b) || b[colon] != ':' || at >= len(b) {
			return 0, false
		}
		if member == nil {
			return s.value(at)
		}
		return member(b[i:nameEnd], at)
	})
}

// array scans the array at b[i] == '['. elem, if not nil, scans each
// element, at b[at].
func (s *jsonScanner) array(i int, elem func(at int) (int, bool)) (int, bool) {
	if elem == nil {
		elem = s.value
	}
	return s.list(i, ']', elem)
}

// list scans the object or array whose opening bracket is b[i] and whose
// closing one is closing: item scans each member or element, at b[at].
func (s *jsonScanner) list(i int, closing byte, item func(at int) (int, bool)) (int, bool) {
	if s.depth++; s.depth > maxDepth {
		return 0, false
	}
	b := s.b
	if i = skipWS(b, i+1); i < len(b) && b[i] == closing {
		s.depth--
		return i + 1, true
	}
	for i < len(b) {
		end, ok := item(i)
		if i = skipWS(b, end); !ok || i >= len(b) {
			return 0, false
		}
		if b[i] == closing {
			s.depth--
			return i + 1, true
		}
		if b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
	return 0, false
}

// str scans the string at b[i] == '"': no control character, only JSON's
// escapes; any other byte, valid UTF-8 or not.
func (s *jsonScanner) str(i int) (int, bool) {
	b := s.b
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if i++; i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return 0, false
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

// number scans the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number(i int) (int, bool) {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		i = skipDigits(b, i)
	}
	return i, true
}

// literal scans true, false or null (lit) at b[i].
func (s *jsonScanner) literal(i int, lit string) (int, bool) {
	if !bytes.HasPrefix(s.b[i:], []byte(lit)) {
		return 0, false
	}
	return i + len(lit), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipDigits returns the index of the first byte at or after i that is
// not a digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
