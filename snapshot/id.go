package snapshot

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// ID names a snapshot: the SHA-1 of its git commit.
type ID [20]byte

// String returns the 40-digit hexadecimal form, as git prints commit ids.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hexadecimal digits, enough to be unique in any
// realistic repository and accepted wherever a snapshot reference is.
func (id ID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the zero ID (no snapshot).
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler (the 40-digit form), so IDs
// print as strings in JSON.
func (id ID) MarshalText() ([]byte, error) {
	if id.IsZero() {
		return []byte{}, nil
	}
	return []byte(id.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ID{}
		return nil
	}
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses the full 40-digit form of an ID. Use Repository.Resolve for
// prefixes, tags and "latest".
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 40 || strings.ToLower(s) != s {
		return id, fmt.Errorf("snapshot id %q: want 40 lower-case hexadecimal digits: %w", s, ErrInvalidRef)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("snapshot id %q: not hexadecimal: %w", s, ErrInvalidRef)
	}
	return id, nil
}

func (id ID) object() objects.ID { return objects.ID(id) }
