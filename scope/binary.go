package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// BinaryKind names a binary resource format of Kylin.
type BinaryKind string

// The binary resources of a metastore.
const (
	// BinaryDictionary is a segment dictionary, "/dict/TABLE/COLUMN/UUID.dict":
	// Kylin's DictionaryInfo as a Java writeUTF string of indented JSON,
	// then the dictionary itself.
	BinaryDictionary BinaryKind = "dictionary"
	// BinarySnapshot is a lookup table snapshot,
	// "/table_snapshot/TABLE/UUID.snapshot" (and KE's
	// "/ext_table_snapshot/..."): a writeUTF JSON header, then the rows.
	BinarySnapshot BinaryKind = "snapshot"
	// BinaryStatistics is a segment's cuboid statistics,
	// "/cube_statistics/CUBE/SEGMENT.seq", a Hadoop sequence file. No header
	// fields are read from it.
	BinaryStatistics BinaryKind = "statistics"
	// BinaryUUID is the metastore's identity, "/UUID": a writeUTF string.
	BinaryUUID BinaryKind = "uuid"
)

// BinaryKindOf returns the binary format of the resource at key by its
// type (see TypeOf), or "" for resources Kylin stores as JSON.
func BinaryKindOf(key string) BinaryKind {
	switch TypeOf(key) {
	case "dict":
		return BinaryDictionary
	case "table_snapshot", "ext_table_snapshot":
		return BinarySnapshot
	case "cube_statistics":
		return BinaryStatistics
	case "UUID":
		return BinaryUUID
	}
	return ""
}

// ErrNoHeader is wrapped by the errors of ReadBinaryHeader when a resource
// has no header it can read: not a binary resource, a format without header
// fields, or damaged bytes.
var ErrNoHeader = errors.New("no readable header")

// BinaryHeader is what can be read from the start of a binary resource.
type BinaryHeader struct {
	// Kind is the format.
	Kind BinaryKind
	// JSON is, for dictionaries and snapshots, the header exactly as Kylin
	// wrote it (indented JSON).
	JSON []byte
	// Fields is JSON decoded with json.Decoder.UseNumber: "uuid",
	// "source_table", "source_column", "cardinality", "dictionary_class",
	// "input", "last_modified" for a dictionary; "uuid", "table_name",
	// "signature", "last_modified" for a snapshot.
	Fields map[string]any
	// UUID is, for /UUID, the metastore's identity.
	UUID string
}

// ReadBinaryHeader reads the header of the binary resource at key. A
// dictionary or snapshot starts with a Java writeUTF string (a two-byte
// big-endian length, then modified UTF-8) holding a JSON object; /UUID is
// such a string alone (plain text is accepted too). The error wraps
// ErrNoHeader for any other resource, for statistics, and for bytes that do
// not hold a header; ReadBinaryHeader never panics, whatever data holds.
func ReadBinaryHeader(key string, data []byte) (*BinaryHeader, error) {
	kind := BinaryKindOf(key)
	switch kind {
	case BinaryUUID:
		u, ok := DecodeUUID(data)
		if !ok {
			return nil, fmt.Errorf("%s: %w: not a UUID string", key, ErrNoHeader)
		}
		return &BinaryHeader{Kind: kind, UUID: u}, nil
	case BinaryDictionary, BinarySnapshot:
	case "":
		return nil, fmt.Errorf("%s: %w: not a binary resource", key, ErrNoHeader)
	default:
		return nil, fmt.Errorf("%s: %w: %s files have no header fields", key, ErrNoHeader, kind)
	}
	s, ok := readUTF(data)
	if !ok {
		return nil, fmt.Errorf("%s: %w: no length-prefixed header", key, ErrNoHeader)
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, fmt.Errorf("%s: %w: header is not a JSON object", key, ErrNoHeader)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("%s: %w: header: %v", key, ErrNoHeader, err)
	}
	if fields == nil {
		return nil, fmt.Errorf("%s: %w: header is null", key, ErrNoHeader)
	}
	return &BinaryHeader{Kind: kind, JSON: []byte(s), Fields: fields}, nil
}

// readUTF decodes a Java DataOutput.writeUTF string at the start of data.
func readUTF(data []byte) (string, bool) {
	if len(data) < 2 {
		return "", false
	}
	n := int(data[0])<<8 | int(data[1])
	if n == 0 || len(data) < 2+n {
		return "", false
	}
	return decodeModifiedUTF8(data[2 : 2+n])
}

// decodeModifiedUTF8 converts Java's modified UTF-8 (NUL as 0xC0 0x80,
// supplementary characters as two three-byte surrogates) to UTF-8.
func decodeModifiedUTF8(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	var out strings.Builder
	var units []uint16
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c&0xE0 == 0xC0 && i+1 < len(b) && b[i+1]&0xC0 == 0x80:
			units = append(units, uint16(c&0x1F)<<6|uint16(b[i+1]&0x3F))
			i += 2
		case c&0xF0 == 0xE0 && i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80:
			units = append(units, uint16(c&0x0F)<<12|uint16(b[i+1]&0x3F)<<6|uint16(b[i+2]&0x3F))
			i += 3
		default:
			return "", false
		}
	}
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		if u >= 0xD800 && u < 0xDC00 && i+1 < len(units) && units[i+1] >= 0xDC00 && units[i+1] < 0xE000 {
			u = (u-0xD800)<<10 | (rune(units[i+1]) - 0xDC00) + 0x10000
			i++
		}
		out.WriteRune(u)
	}
	return out.String(), true
}

// DecodeUUID reads Kylin's /UUID resource, the metastore's identity: a Java
// writeUTF string (a two-byte big-endian length, then the text), or plain
// text (surrounding white space trimmed). ok is false for anything that
// cannot be such an identity: no text, more than 128 bytes, invalid UTF-8,
// or a control character (a line break would also forge lines in the
// Metastore-UUID trailer that records it).
func DecodeUUID(b []byte) (string, bool) {
	var s string
	if len(b) >= 2 && int(b[0])<<8|int(b[1]) == len(b)-2 {
		s = string(b[2:])
	} else {
		s = string(bytes.TrimSpace(b))
	}
	if s == "" || !utf8.ValidString(s) || len(s) > 128 {
		return "", false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	return s, true
}
