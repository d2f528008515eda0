package objects

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// The fuzz targets of this file feed damaged bytes to everything that
// decodes repository data. Their seed corpora (testdata/fuzz/<Name>) run with
// the normal tests; `go test -fuzz FuzzX ./objects` explores further (see
// RELIABILITY.md). The promise: no panic, no unbounded allocation, and every
// failure an error wrapping ErrCorrupt or ErrNotFound.

// FuzzDecodeTree: DecodeTree never panics, refuses what EncodeTree would not
// write as a name, and what it accepts in canonical form encodes back to the
// same bytes.
func FuzzDecodeTree(f *testing.F) {
	good, _ := EncodeTree([]TreeEntry{
		{Name: "a.json", Mode: ModeFile, ID: HashObject(KindBlob, []byte("a"))},
		{Name: "cube", Mode: ModeDir, ID: HashObject(KindTree, nil)},
	})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("100644 ..\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte("100644 a/b\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte("120000 link\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte("99999999999 x\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeTree(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeTree error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.Name == "." || e.Name == ".." || bytes.ContainsAny([]byte(e.Name), "/\x00") {
				t.Fatalf("DecodeTree accepted entry name %q", e.Name)
			}
		}
		again, err := EncodeTree(entries)
		if err != nil {
			return // not canonical (order, modes): Verify reports it
		}
		back, err := DecodeTree(again)
		if err != nil {
			t.Fatalf("re-decoding an encoded tree: %v", err)
		}
		if len(back) != len(entries) || (len(back) > 0 && !reflect.DeepEqual(back, entries)) {
			t.Fatalf("tree does not round-trip: %v != %v", back, entries)
		}
	})
}

// FuzzDecodeCommit: DecodeCommit never panics and fails only with ErrCorrupt.
func FuzzDecodeCommit(f *testing.F) {
	f.Add(EncodeCommit(Commit{Tree: HashObject(KindTree, nil), Message: "m\n\nMetastore-Format: 1\n"}))
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent zz\n\n"))
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <b> notatime +0000\n\n"))
	f.Add([]byte("tree \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommit(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeCommit error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if c.Tree.IsZero() {
			t.Fatalf("DecodeCommit accepted a commit without a tree")
		}
	})
}

// FuzzReadPackEntry writes a pack whose entries are the fuzzed bytes and an
// index naming two objects in it (at the start, and at an offset the input
// chooses), then reads both through the repository: Read and Size must not
// panic, must not allocate what the pack cannot hold, and must fail with
// ErrCorrupt (or ErrNotFound) when the entry is damaged.
func FuzzReadPackEntry(f *testing.F) {
	whole := encodeEntry(KindBlob, bytes.Repeat([]byte("kylin metadata "), 40), DefaultCompression)
	base := bytes.Repeat([]byte("0123456789abcdef"), 32)
	target := append(append([]byte{}, base...), "changed tail"...)
	delta := packfile.DiffDelta(base, target)
	refDelta := encodeDeltaEntry(HashObject(KindBlob, base), delta, DefaultCompression)
	f.Add(whole, uint16(0))
	f.Add(append(append([]byte{}, whole...), refDelta...), uint16(len(whole)))
	f.Add(whole[:len(whole)/2], uint16(3))
	// An entry claiming 2 GiB of content.
	f.Add([]byte{0xbf, 0xff, 0xff, 0xff, 0x0f, 0x78, 0x9c, 0x03, 0x00}, uint16(0))
	// An OFS_DELTA pointing before the pack's start, and one pointing at itself.
	f.Add(append(append([]byte{}, whole...), 0x65, 0x7f, 0x78, 0x9c), uint16(len(whole)))
	f.Add(append(append([]byte{}, whole...), 0x65, 0x00, 0x78, 0x9c), uint16(len(whole)))
	// One repository for the whole run, its pack replaced for each input
	// (creating a repository per input would make the fuzzer 20 times
	// slower).
	r, err := Init(filepath.Join(f.TempDir(), "r.git"), "refs/heads/main", nil)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	f.Fuzz(func(t *testing.T, body []byte, second uint16) {
		first := HashObject(KindBlob, []byte("first"))
		other := HashObject(KindBlob, []byte("second"))
		offs := map[ID]int64{first: 12}
		if len(body) > 0 {
			offs[other] = 12 + int64(int(second)%len(body))
		}
		writeRawPack(t, r, body, offs)
		for id := range offs {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, data, err := r.Read(id)
			runtime.ReadMemStats(&after)
			// Deflate cannot expand its input more than 1032 times: an
			// entry claiming more than the pack can hold is corrupt, and
			// must not cost gigabytes to find out.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(len(body))*1100+64<<20 {
				t.Fatalf("Read allocated %d bytes for a %d-byte pack", grew, len(body))
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
					t.Fatalf("Read: error %v wraps neither ErrCorrupt nor ErrNotFound", err)
				}
			} else if int64(len(data)) > int64(len(body))*1100+1024 {
				t.Fatalf("Read returned %d bytes from a %d-byte pack", len(data), len(body))
			}
			if _, err := r.Size(id); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Size: error %v wraps neither ErrCorrupt nor ErrNotFound", err)
			}
		}
	})
}

// writeRawPack writes body as the entries of a pack and an index that puts
// each id at its offset.
func writeRawPack(t testing.TB, r *Repository, body []byte, offs map[ID]int64) {
	t.Helper()
	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(len(offs)))
	pack.Write(body)
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])

	entries := make([]packEntry, 0, len(offs))
	for id, off := range offs {
		entries = append(entries, packEntry{id: id, offset: off})
	}
	ib := bytes.NewBuffer(goGitIndex(t, entries, ID(sum)))
	dir := filepath.Join(r.Path(), "objects", "pack")
	old, _ := os.ReadDir(dir)
	for _, e := range old {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	base := filepath.Join(dir, "pack-"+plumbing.Hash(sum).String())
	if err := os.WriteFile(base+".idx", ib.Bytes(), FileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".pack", pack.Bytes(), FileMode); err != nil {
		t.Fatal(err)
	}
	r.reindex()
}

// FuzzWalkTree checks WalkTree against DecodeTree: on any bytes that decode
// as a tree, the walk yields the same entries; on a canonical tree it never
// fails.
func FuzzWalkTree(f *testing.F) {
	good, _ := EncodeTree([]TreeEntry{{Name: "a", Mode: ModeFile}, {Name: "b", Mode: ModeDir}})
	f.Add(good)
	f.Add([]byte("100644 a\x00short"))
	f.Add([]byte("0100644 x\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, derr := DecodeTree(data)
		var got []TreeEntry
		werr := WalkTree(data, func(m Mode, name []byte, id ID) bool {
			got = append(got, TreeEntry{Name: string(name), Mode: m, ID: id})
			return true
		})
		if derr != nil || werr != nil {
			if werr != nil && !errors.Is(werr, ErrCorrupt) {
				t.Fatalf("WalkTree error %v does not wrap ErrCorrupt", werr)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("WalkTree gave %d entries, DecodeTree %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("entry %d: WalkTree %+v, DecodeTree %+v", i, got[i], want[i])
			}
		}
		if enc, err := EncodeTree(want); err == nil {
			n := 0
			if err := WalkTree(enc, func(Mode, []byte, ID) bool { n++; return true }); err != nil || n != len(want) {
				t.Fatalf("canonical tree: %d entries, %v", n, err)
			}
		}
	})
}

// FuzzEncodingCheck: ScanTree reads the entries DecodeTree and
// DecodeTreeShared decode, with the same error; for any tree they accept,
// EncodingCheck agrees with encoding the entries again and comparing, as
// verify did: nil for the same bytes, EncodeTree's own error when it fails,
// else an error wrapping ErrCorrupt.
func FuzzEncodingCheck(f *testing.F) {
	a := HashObject(KindBlob, []byte("a"))
	good, _ := EncodeTree([]TreeEntry{
		{Name: "a.json", Mode: ModeFile, ID: a},
		{Name: "cube", Mode: ModeDir, ID: HashObject(KindTree, nil)},
	})
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good...))                                 // duplicated
	f.Add([]byte("100755 x\x00aaaaaaaaaaaaaaaaaaaa100644 a\x00aaaaaaaaaaaaaaaaaaaa")) // mode and order
	f.Add([]byte("040000 cube\x00aaaaaaaaaaaaaaaaaaaa"))                              // git's old dir mode
	f.Add([]byte("120000 link\x00aaaaaaaaaaaaaaaaaaaa"))
	f.Add(append(append([]byte{}, good...), "100644 x"...)) // truncated after good entries
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := DecodeTree(data)
		var scanned []TreeEntry
		scanErr := ScanTree(data, func(e TreeEntry) bool {
			scanned = append(scanned, e)
			return true
		})
		if (err == nil) != (scanErr == nil) || (err != nil && err.Error() != scanErr.Error()) {
			t.Fatalf("ScanTree error %v, DecodeTree's %v", scanErr, err)
		}
		if err != nil {
			return
		}
		shared, err := DecodeTreeShared(data)
		if err != nil || !reflect.DeepEqual(shared, entries) || (len(entries) > 0 && !reflect.DeepEqual(scanned, entries)) {
			t.Fatalf("DecodeTreeShared (%v) or ScanTree: entries differ", err)
		}
		again, encErr := EncodeTree(entries)
		c := EncodingCheck{Data: data}
		for _, e := range entries {
			c.Add(e)
		}
		err = c.Err()
		switch {
		case encErr != nil:
			if err == nil || err.Error() != encErr.Error() {
				t.Fatalf("EncodingCheck = %v, want EncodeTree's %v", err, encErr)
			}
		case bytes.Equal(again, data):
			if err != nil {
				t.Fatalf("EncodingCheck of a canonical tree: %v", err)
			}
		case !errors.Is(err, ErrCorrupt):
			t.Fatalf("EncodingCheck of a tree encoded otherwise = %v, want ErrCorrupt", err)
		}
	})
}
