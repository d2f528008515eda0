package objects

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
)

// ReadPackIndex reads a version 2 pack index file (as WriteIndex writes
// it) and returns the checksum of the pack it describes and the objects it
// lists. The index's own checksum is checked.
func ReadPackIndex(path string) (ID, []ID, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ID{}, nil, err
	}
	return ParsePackIndex(data)
}

// ParsePackIndex is ReadPackIndex for an index held in memory.
func ParsePackIndex(data []byte) (ID, []ID, error) {
	if len(data) < len(idxMagic)+256*4+40 {
		return ID{}, nil, fmt.Errorf("%w: pack index of %d bytes", ErrCorrupt, len(data))
	}
	x, err := parseIndex(data)
	if err != nil {
		return ID{}, nil, fmt.Errorf("%w: pack index: %v", ErrCorrupt, err)
	}
	if !x.checksumOK() {
		return ID{}, nil, fmt.Errorf("%w: pack index: checksum does not match its content", ErrCorrupt)
	}
	ids := make([]ID, x.n)
	for i := range ids {
		copy(ids[i][:], x.id(i))
		if i > 0 && bytes.Compare(ids[i-1][:], ids[i][:]) >= 0 {
			return ID{}, nil, fmt.Errorf("%w: pack index: ids not sorted", ErrCorrupt)
		}
	}
	var sum ID
	copy(sum[:], x.packChecksum())
	return sum, ids, nil
}

// PackName returns the base name of the pack whose checksum is sum.
func PackName(sum ID) string { return "pack-" + hex.EncodeToString(sum[:]) }

// Refresh makes packs that another writer (or a hard link) put into the
// repository since it was opened visible.
func (r *Repository) Refresh() { r.reindex() }
