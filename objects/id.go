package objects

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// ID is the SHA-1 name of a git object.
type ID [20]byte

// ZeroID is the ID of no object.
var ZeroID ID

// String returns the 40-digit lower-case hexadecimal form of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ZeroID }

// ParseID parses the 40-digit hexadecimal form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 40 {
		return id, fmt.Errorf("object id %q: want 40 hexadecimal digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("object id %q: not hexadecimal", s)
	}
	return id, nil
}

// Kind is the type of a git object.
type Kind int8

// The object kinds this package writes and reads.
const (
	KindCommit Kind = 1
	KindTree   Kind = 2
	KindBlob   Kind = 3
)

// String returns the git name of the kind ("commit", "tree", "blob").
func (k Kind) String() string {
	switch k {
	case KindCommit:
		return "commit"
	case KindTree:
		return "tree"
	case KindBlob:
		return "blob"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// HashObject returns the ID git gives an object of kind k with content data.
func HashObject(k Kind, data []byte) ID {
	h := sha1.New()
	writeObjectHeader(h, k, len(data))
	h.Write(data)
	var id ID
	h.Sum(id[:0])
	return id
}

// writeObjectHeader writes what git hashes before an object's content:
// its kind, a space, its size in decimal and a NUL.
func writeObjectHeader(h io.Writer, k Kind, size int) {
	h.Write([]byte(k.String()))
	h.Write([]byte{' '})
	h.Write(strconv.AppendInt(nil, int64(size), 10))
	h.Write([]byte{0})
}
