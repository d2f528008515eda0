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
// jobDecoder instead lets json.Valid (the same scanner json.Unmarshal runs
// first) decide whether a job is JSON, then walks the valid text once
// without decoding what the rules do not read, and keeps the few strings it
// reads in place or in a buffer it reuses from job to job. Only a string
// with escapes or invalid UTF-8 goes through json.Unmarshal, so strings read
// exactly as before. (jsontext, the token reader of the JSON v2 prototype,
// scans in one pass and was about 3x faster again in BenchmarkJobDecoder,
// but scope imports only the standard library: see TestImports.)
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
	if !json.Valid(data) {
		var v struct{}
		return e, json.Unmarshal(data, &v) // the same error as before
	}
	switch i := skipWS(data, 0); data[i] {
	case 'n':
		return e, nil
	case '{':
	default:
		return e, errNotObject
	}
	badParams := false
	eachMember(data, skipWS(data, 0), func(name, value []byte) {
		switch {
		case j.nameFolds(name, "params"):
			badParams = j.params(&e, value)
		case j.nameFolds(name, "tasks"):
			j.steps(&e, value)
		}
	})
	j.tasks = e.tasks
	if badParams {
		return e, fmt.Errorf("params: %w", errNotObject)
	}
	return e, nil
}

// params reads a job's "params", replacing what an earlier "params" set.
// It reports whether the value is neither an object nor null.
func (j *jobDecoder) params(e *executable, value []byte) (bad bool) {
	e.params = [numParams][]byte{}
	if value[0] != '{' {
		return value[0] != 'n'
	}
	eachMember(value, 0, func(name, v []byte) {
		if i := j.paramIndex(name); i >= 0 {
			e.params[i] = j.stringValue(v)
		}
	})
	return false
}

// steps reads a job's "tasks", replacing what an earlier "tasks" listed.
func (j *jobDecoder) steps(e *executable, value []byte) {
	e.tasks = e.tasks[:0]
	if value[0] != '[' {
		return
	}
	eachElement(value, 0, func(step []byte) {
		if step[0] != '{' {
			return
		}
		var id []byte
		eachMember(step, 0, func(name, v []byte) {
			if j.nameFolds(name, "uuid") {
				id = j.stringValue(v)
			}
		})
		if len(id) > 0 {
			e.tasks = append(e.tasks, id)
		}
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
		return nil // not reached: s is a string of a valid document
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

// The walkers below read JSON text that json.Valid accepted; they use
// skipWS and scanString of MergeProject's scanner, but skip values without
// decoding or recording anything.

// eachMember calls fn with the name (quoted) and the value of each member
// of the object that starts at b[i] == '{', and returns the index after it.
func eachMember(b []byte, i int, fn func(name, value []byte)) int {
	for i = skipWS(b, i+1); b[i] != '}'; i = skipWS(b, i+1) {
		nameEnd, _ := scanString(b, i)
		start := skipWS(b, skipWS(b, nameEnd)+1) // past ':'
		end := skipValue(b, start)
		fn(b[i:nameEnd], b[start:end])
		if i = skipWS(b, end); b[i] == '}' {
			break
		}
	}
	return i + 1
}

// eachElement calls fn with each element of the array that starts at
// b[i] == '[', and returns the index after it.
func eachElement(b []byte, i int, fn func(value []byte)) int {
	for i = skipWS(b, i+1); b[i] != ']'; i = skipWS(b, i+1) {
		end := skipValue(b, i)
		fn(b[i:end])
		if i = skipWS(b, end); b[i] == ']' {
			break
		}
	}
	return i + 1
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				end, _ := scanString(b, i)
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !isWS(b[i]) && b[i] != ',' && b[i] != ']' && b[i] != '}' {
		i++
	}
	return i
}
