package objects

import (
	"bytes"
	"testing"
)

// TestTreeEncoderMatchesEncodeTree checks that encoding a tree entry by
// entry gives EncodeTree's bytes, and refuses what EncodeTree refuses.
func TestTreeEncoderMatchesEncodeTree(t *testing.T) {
	tests := []struct {
		name    string
		entries []TreeEntry
		wantErr bool
	}{
		{"empty", nil, false},
		{"files and folders in git order", []TreeEntry{{Name: "a", Mode: ModeFile, ID: idOf(1)}, {Name: "a-b", Mode: ModeFile, ID: idOf(2)}, {Name: "a", Mode: ModeDir, ID: idOf(3)}, {Name: "b@17", Mode: ModeFile, ID: idOf(4)}}, false},
		{"folder sorts as name/", []TreeEntry{{Name: "a-b", Mode: ModeFile, ID: idOf(2)}, {Name: "a", Mode: ModeDir, ID: idOf(3)}, {Name: "a0", Mode: ModeFile, ID: idOf(4)}}, false},
		{"out of order", []TreeEntry{{Name: "b", Mode: ModeFile}, {Name: "a", Mode: ModeFile}}, true},
		{"a name twice", []TreeEntry{{Name: "a", Mode: ModeFile}, {Name: "a", Mode: ModeFile}}, true},
		{"a slash", []TreeEntry{{Name: "a/b", Mode: ModeFile}}, true},
		{"dot dot", []TreeEntry{{Name: "..", Mode: ModeDir}}, true},
	}
	for _, tt := range tests {
		want, wantErr := EncodeTree(tt.entries)
		var enc TreeEncoder
		var err error
		for _, e := range tt.entries {
			if err = enc.Add(e.Name, e.IsDir(), e.ID); err != nil {
				break
			}
		}
		if (err != nil) != (wantErr != nil) || (err != nil) != tt.wantErr {
			t.Errorf("%s: TreeEncoder error %v, EncodeTree error %v; want an error: %v", tt.name, err, wantErr, tt.wantErr)
			continue
		}
		if err == nil && !bytes.Equal(enc.Bytes(), want) {
			t.Errorf("%s: TreeEncoder wrote %q, EncodeTree %q", tt.name, enc.Bytes(), want)
		}
	}
}
