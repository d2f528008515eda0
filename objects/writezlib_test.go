package objects

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
)

// zlibOf compresses data with the standard library's zlib (another
// implementation than the pack writer's, as Kylin's java.util.zip is) at
// level.
func zlibOf(t *testing.T, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWriteZlibStoresTheStreamAsIs checks that WriteZlib puts the given
// zlib stream into the pack byte for byte (a stream of stored blocks takes
// as much room as its content, which the writer's own compression would
// not), that the object reads back and git accepts the pack; and that a
// stream that cannot be data's (another content's, a preset dictionary,
// no trailer) is not used: data is compressed as by Write.
func TestWriteZlibStoresTheStreamAsIs(t *testing.T) {
	data := bytes.Repeat([]byte(`{"uuid":"0a1b2c3d","name":"kylin_sales_cube","status":"READY"}`+"\n"), 500)
	stored := zlibOf(t, data, zlib.NoCompression)
	other := zlibOf(t, append([]byte("x"), data...), zlib.BestSpeed)
	dict := append([]byte(nil), stored...)
	dict[1] |= 0x20                                                  // FDICT
	dict[1] += byte(31-(uint16(dict[0])<<8|uint16(dict[1]))%31) % 31 // keep the check value
	large := append(incompressible(streamEntry, 7), data...)         // its stream goes straight into the pack
	tests := []struct {
		name string
		data []byte // nil: data
		z    []byte
		asIs bool
	}{
		{"stored blocks", nil, stored, true},
		{"level 1", nil, zlibOf(t, data, zlib.BestSpeed), true},
		{"larger than streamEntry", large, zlibOf(t, large, zlib.NoCompression), true},
		{"another content's stream", nil, other, false},
		{"preset dictionary", nil, dict, false},
		{"too short", nil, stored[:6], false},
		{"bad header", nil, append([]byte{0x79}, stored[1:]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := data
			if tt.data != nil {
				data = tt.data
			}
			r := newRepo(t)
			w, err := r.NewPackWriter(0)
			if err != nil {
				t.Fatal(err)
			}
			id, added, err := w.WriteZlib(KindBlob, data, tt.z)
			if err != nil || !added {
				t.Fatalf("WriteZlib: added=%v err=%v", added, err)
			}
			if want := HashObject(KindBlob, data); id != want {
				t.Fatalf("id %s, want %s", id, want)
			}
			// Written again, by either method: already there.
			if _, added, _ := w.WriteZlib(KindBlob, data, tt.z); added {
				t.Error("the same blob added twice")
			}
			if _, added, _ := w.WriteBlob(data); added {
				t.Error("the same blob added twice by WriteBlob")
			}
			st, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			var header bytes.Buffer
			appendHeader(&header, KindBlob, uint64(len(data)))
			if tt.asIs && st.PackBytes != int64(header.Len()+len(tt.z)) {
				t.Errorf("entry of %d bytes, want the header and the %d-byte stream", st.PackBytes, len(tt.z))
			}
			if !tt.asIs && st.PackBytes >= int64(len(data)/4) {
				t.Errorf("entry of %d bytes for %d bytes of content: not compressed by the writer?", st.PackBytes, len(data))
			}
			if _, got, err := r.Read(id); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("reads back wrong: %v", err)
			}
			if git, err := exec.LookPath("git"); err == nil {
				packs, _ := r.Packs()
				idx := filepath.Join(r.Path(), "objects", "pack", packs[0]+".idx")
				if out, err := exec.Command(git, "verify-pack", idx).CombinedOutput(); err != nil {
					t.Fatalf("git verify-pack: %v\n%s", err, out)
				}
				out, err := exec.Command(git, "--git-dir", r.Path(), "cat-file", "blob", id.String()).Output()
				if err != nil || !bytes.Equal(out, data) {
					t.Fatalf("git cat-file: %v (%d bytes)", err, len(out))
				}
			}
		})
	}
}

// TestZlibFits checks the header rules of RFC 1950 that zlibFits applies.
func TestZlibFits(t *testing.T) {
	data := []byte("hello")
	for level := zlib.NoCompression; level <= zlib.BestCompression; level++ {
		if z := zlibOf(t, data, level); !zlibFits(data, z) {
			t.Errorf("level %d: a valid stream refused", level)
		}
	}
	z := zlibOf(t, data, 1)
	if zlibFits([]byte("hellO"), z) {
		t.Error("another content's stream accepted")
	}
	for cmf := range 256 {
		for flg := range 256 {
			h := []byte{byte(cmf), byte(flg)}
			ok := zlibFits(data, append(h, z[2:]...))
			valid := cmf&0x0f == 8 && cmf>>4 <= 7 && (cmf*256+flg)%31 == 0 && flg&0x20 == 0
			if ok != valid {
				t.Fatalf("header %s: fits %v, want %v", fmt.Sprintf("%02x%02x", cmf, flg), ok, valid)
			}
		}
	}
}

// TestReadBlobZlib checks that ReadBlobZlib hands on a whole blob's zlib
// stream (exactly the entry's: the stream a WriteZlib stored comes back
// byte for byte, and one the writer compressed inflates to the content
// with nothing after it), no stream for a delta in a pack git made, and
// refuses what is not a blob.
func TestReadBlobZlib(t *testing.T) {
	r := newRepo(t)
	w, _ := r.NewPackWriter(0)
	data := bytes.Repeat([]byte(`{"name":"kylin_sales_cube","status":"READY"}`+"\n"), 300)
	kylins := zlibOf(t, append([]byte("k"), data...), zlib.BestSpeed)
	kid, _, _ := w.WriteZlib(KindBlob, append([]byte("k"), data...), kylins)
	id, _, _ := w.WriteBlob(data)
	tree, _, _ := w.WriteTree([]TreeEntry{{Name: "a", Mode: ModeFile, ID: id}, {Name: "k", Mode: ModeFile, ID: kid}})
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, z, err := r.ReadBlobZlib(kid); err != nil || !bytes.Equal(got, append([]byte("k"), data...)) || !bytes.Equal(z, kylins) {
		t.Errorf("stored stream: %d bytes, stream of %d bytes (%v); want the %d-byte stream written", len(got), len(z), err, len(kylins))
	}
	got, z, err := r.ReadBlobZlib(id)
	if err != nil || !bytes.Equal(got, data) || z == nil {
		t.Fatalf("whole blob: %d bytes, stream %v, %v", len(got), z != nil, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil || !bytes.Equal(out.Bytes(), data) || !zlibFits(data, z) {
		t.Errorf("the stream inflates to %d bytes (%v), want the content", out.Len(), err)
	}
	if _, _, err := r.ReadBlobZlib(tree); err == nil {
		t.Error("a tree read as a blob")
	}

	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed: no packs with deltas to read")
	}
	r2 := newRepo(t)
	w2, _ := r2.NewPackWriter(0)
	var entries []TreeEntry
	want := map[ID][]byte{}
	for v := range 20 {
		b := append(bytes.Clone(data), fmt.Sprintf("version %d\n", v)...)
		id, _, _ := w2.WriteBlob(b)
		want[id] = b
		entries = append(entries, TreeEntry{Name: fmt.Sprintf("v%02d", v), Mode: ModeFile, ID: id})
	}
	commitAndRepack(t, git, r2, w2, entries)
	r2.reindex()
	whole, deltas := 0, 0
	for id, b := range want {
		got, z, err := r2.ReadBlobZlib(id)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s: %v", id, err)
		}
		if z == nil {
			deltas++
		} else if whole++; !zlibFits(b, z) {
			t.Errorf("%s: a stream that is not the content's", id)
		}
	}
	if whole == 0 || deltas == 0 {
		t.Errorf("%d whole blobs and %d deltas: want both", whole, deltas)
	}
}

// TestReadBlobZlibSizes: the stream ReadBlobZlib returns is the entry's
// whole stream and nothing after it, whether the first read of the entry
// held all of it or not (streams of a few bytes to hundreds of KiB, and
// streams ending at each byte around where that read ends), with other
// entries packed after it.
func TestReadBlobZlibSizes(t *testing.T) {
	r := newRepo(t)
	w, _ := r.NewPackWriter(0)
	rnd := rand.New(rand.NewPCG(1, 2))
	want := map[ID][]byte{}
	var entries []TreeEntry
	add := func(name string, b []byte, level int) {
		z := zlibOf(t, b, level)
		id, _, err := w.WriteZlib(KindBlob, b, z)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = z
		entries = append(entries, TreeEntry{Name: name, Mode: ModeFile, ID: id})
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rnd.Uint32())
		}
		return b
	}
	for i, n := range []int{1, 100, 3000, 4000, 4030, 4050, 4070, 4090, 4100, 5000, 70000, 300000} {
		add(fmt.Sprintf("b%02d-false", i), bytes.Repeat([]byte{'k'}, n), zlib.BestSpeed)
		add(fmt.Sprintf("b%02d-true", i), random(n), zlib.BestSpeed)
	}
	// Stored blocks: their streams end at every byte around the end of
	// the entry's first read (a 2-byte entry header, 11 bytes of zlib and
	// block framing around the content).
	for n := firstPackRead - 40; n <= firstPackRead; n++ {
		add(fmt.Sprintf("s%04d", n), random(n), zlib.NoCompression)
	}
	if _, _, err := w.WriteTree(entries); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for id, wantZ := range want {
		data, z, err := r.ReadBlobZlib(id)
		if err != nil || HashObject(KindBlob, data) != id {
			t.Fatalf("%s: %v", id, err)
		}
		if !bytes.Equal(z, wantZ) {
			t.Errorf("%s (%d bytes): a stream of %d bytes, want the %d written", id, len(data), len(z), len(wantZ))
		}
	}
}
