package metagen

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/adler32"
	"io"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Binary resources. Their layouts follow Kylin's serialisers closely enough
// to look and compress like the real thing (a Java writeUTF JSON header,
// then typed binary data); nothing reads them back but tests.

// writeUTF appends s as Java's DataOutput.writeUTF does for ASCII text: a
// big-endian uint16 length, then the bytes.
func writeUTF(b []byte, s string) []byte {
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// renderUUIDFile renders /UUID: the metastore's identity as writeUTF.
func renderUUIDFile(uuid string) []byte {
	return writeUTF(nil, uuid)
}

// valueGen produces the i-th distinct value of a column as a pure function
// of its parameters and i. Values come out in dictionary order: numerically
// ascending for numbers and ids, lexically ascending for text, with random
// gaps between consecutive values.
type valueGen struct {
	kind  valueKind
	card  int
	salt  uint64
	base  int64
	step  int64
	width int
	words []string // sorted vocabulary of a text column
	sep   string
	code  string // prefix of a code column
}

// newValueGen draws the parameters of a column with about card distinct
// values; the kind follows from the column name (see kindOf).
func newValueGen(r *rand.Rand, col string, card int) *valueGen {
	g := &valueGen{kind: kindOf(col), card: max(card, 1), salt: r.Uint64()}
	switch g.kind {
	case kindID:
		g.base = between(r, 1, 9) * int64(pick(r, []int{1, 1000, 100000, 10000000}))
		g.step = between(r, 1, 40)
	case kindDate:
		g.base = windowStart - between(r, 0, 5*365)*day
		g.card = min(g.card, 3650)
		g.step = 1
	case kindTime:
		g.base = windowStart - between(r, 0, 365)*day
		g.step = between(r, 1, 600)
	case kindCode:
		g.step = between(r, 1, 7)
		g.width = len(strconv.FormatInt(int64(g.card)*g.step, 36)) + r.IntN(3)
		g.sep = pick(r, []string{"", "", "-", "_"})
		g.code = randomUpper(r, 1+r.IntN(2))
	case kindNumber:
		g.step = between(r, 1, 5000)
	default:
		n := 4 + r.IntN(len(words)-4)
		g.words = make([]string, n)
		for i, k := range r.Perm(len(words))[:n] {
			g.words[i] = words[k]
		}
		slices.Sort(g.words)
		g.sep = pick(r, []string{" ", "-", " / "})
		g.step = between(r, 1, 3)
		// Numbered names: enough digits for the values per word pair.
		perPair := int64(g.card)*g.step/int64(n*n) + 1
		g.width = len(strconv.FormatInt(perPair, 10))
	}
	return g
}

// mix64 is the splitmix64 finaliser: a cheap, well-spread hash of x.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// appendValue appends the i-th value, 0 <= i < card, to b.
func (g *valueGen) appendValue(b []byte, i int) []byte {
	// The ordinal of the i-th value: increasing with i, random gaps.
	ord := int64(i)*g.step + int64(mix64(g.salt^uint64(i))%uint64(max(g.step, 1)))
	switch g.kind {
	case kindID:
		return strconv.AppendInt(b, g.base+ord, 10)
	case kindDate:
		return time.UnixMilli(g.base+ord*day).UTC().AppendFormat(b, "2006-01-02")
	case kindTime:
		return time.UnixMilli(g.base+ord*second).UTC().AppendFormat(b, "2006-01-02 15:04:05")
	case kindCode:
		b = append(b, g.code...)
		b = append(b, g.sep...)
		return appendPadded(b, ord, 36, g.width)
	case kindNumber:
		b = strconv.AppendInt(b, ord/100, 10)
		b = append(b, '.', byte('0'+ord/10%10), byte('0'+ord%10))
		return b
	}
	// Text: "<word><sep><word> <number>", ascending.
	n := int64(len(g.words))
	perPair := int64(1)
	for range g.width {
		perPair *= 10
	}
	pair := ord / perPair
	b = append(b, g.words[(pair/n)%n]...)
	b = append(b, g.sep...)
	b = append(b, g.words[pair%n]...)
	b = append(b, ' ')
	return appendPadded(b, ord%perPair, 10, g.width)
}

// value returns the i-th value as a string.
func (g *valueGen) value(i int) string { return string(g.appendValue(nil, i)) }

// appendPadded appends v in the given base, upper case, left-padded with
// zeros to width digits.
func appendPadded(b []byte, v int64, base, width int) []byte {
	var tmp [24]byte
	s := strconv.AppendInt(tmp[:0], v, base)
	for range width - len(s) {
		b = append(b, '0')
	}
	for _, c := range s {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// dictSpec is what a .dict file is rendered from.
type dictSpec struct {
	uuid        string
	ts          int64
	table, col  string
	colIndex    int
	datatype    string
	cardinality int
}

// renderDict renders a DictionaryInfo file: the writeUTF JSON header, then
// a trie dictionary over the sorted distinct values (TrieDict magic, a head
// and one node per value carrying its suffix after the shared prefix).
func renderDict(r *rand.Rand, d dictSpec) ([]byte, error) {
	g := newValueGen(r, d.col, d.cardinality)
	card := g.card
	hdr := dictInfoJSON{
		rootEntity:        root(d.uuid, d.ts),
		SourceTable:       d.table,
		SourceColumn:      d.col,
		SourceColumnIndex: d.colIndex,
		DataType:          d.datatype,
		Input: signatureJSON{
			Path:             "hdfs://nameservice1/kylin/kylin_metadata/kylin-" + newUUID(r) + "/fact_distinct_columns/" + d.table + "." + d.col,
			Size:             int64(card) * int64(8+r.IntN(24)),
			LastModifiedTime: d.ts - between(r, minute, 20*minute),
		},
		DictionaryClass: "org.apache.kylin.dict.TrieDictionaryForest",
		Cardinality:     card,
	}
	js, err := marshalKylin(hdr)
	if err != nil {
		return nil, err
	}
	last := g.appendValue(nil, card-1)
	out := make([]byte, 0, len(js)+64+card*(len(last)/2+8))
	out = writeUTF(out, string(js))
	out = append(out, "TrieDict"...)
	out = binary.BigEndian.AppendUint16(out, 0x3d)
	out = append(out, 1) // head version
	out = binary.BigEndian.AppendUint32(out, uint32(card))
	out = append(out, 3, 3) // sizes of child offset and values-beneath fields
	out = binary.BigEndian.AppendUint16(out, 0)
	out = binary.BigEndian.AppendUint16(out, uint16(min(len(last)+4, 0xffff)))
	out = writeUTF(out, "org.apache.kylin.dict.StringBytesConverter")
	// Trie nodes in value order. A node is a child offset whose top bits
	// flag end-of-value and last-child, the number of values beneath it, the
	// length of its bytes and the bytes. Most values end in a leaf under the
	// branch they share with the previous value; a value that leaves that
	// branch first gets a branch node for its new prefix. A leaf's offset
	// field holds its value id instead.
	var prev, cur []byte
	offset := uint32(0)
	branch := 0 // length of the current branch prefix
	for i := range card {
		cur = g.appendValue(cur[:0], i)
		shared := 0
		for shared < len(prev) && shared < len(cur) && prev[shared] == cur[shared] {
			shared++
		}
		if i == 0 || shared < branch {
			branch = max(shared, len(cur)-2)
			part := cur[shared:branch]
			offset += uint32(len(part)+7) * uint32(1+r.IntN(3))
			beneath := uint32(min(card-i, 100))
			out = append(out, byte((offset>>16)&0x3f), byte(offset>>8), byte(offset),
				byte(beneath>>16), byte(beneath>>8), byte(beneath), byte(min(len(part), 255)))
			out = append(out, part...)
			shared = branch
		}
		leaf := cur[shared:]
		flags := byte(0x80)
		if i == card-1 || r.IntN(8) == 0 {
			flags |= 0x40
		}
		id := uint32(i) & 0x3fffff
		out = append(out, flags|byte(id>>16), byte(id>>8), byte(id), 0, 0, 1, byte(min(len(leaf), 255)))
		out = append(out, leaf...)
		prev, cur = cur, prev
	}
	return out, nil
}

// snapSpec is what a .snapshot file is rendered from.
type snapSpec struct {
	uuid    string
	ts      int64
	table   string // DB.TABLE
	columns []string
	rows    int
}

// renderSnapshot renders a SnapshotTable file: the writeUTF JSON header,
// the row and column counts, then every cell as writeUTF, row by row.
func renderSnapshot(r *rand.Rand, s snapSpec) ([]byte, error) {
	hdr := snapshotJSON{
		rootEntity: root(s.uuid, s.ts),
		TableName:  s.table,
		Signature: signatureJSON{
			Path:             "hdfs://nameservice1/user/hive/warehouse/" + strings.ToLower(strings.Replace(s.table, ".", ".db/", 1)),
			Size:             int64(s.rows) * int64(40+r.IntN(100)),
			LastModifiedTime: s.ts - between(r, hour, 30*day),
		},
		UseDictionary: true,
	}
	js, err := marshalKylin(hdr)
	if err != nil {
		return nil, err
	}
	gens := make([]*valueGen, len(s.columns))
	for i, c := range s.columns {
		card := s.rows
		if i > 0 {
			card = logNormal(r, 3, 2, 1, s.rows)
		}
		gens[i] = newValueGen(r, c, card)
	}
	out := make([]byte, 0, len(js)+s.rows*len(s.columns)*10)
	out = writeUTF(out, string(js))
	out = binary.BigEndian.AppendUint32(out, uint32(s.rows))
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.columns)))
	for row := range s.rows {
		for i, g := range gens {
			k := row % g.card
			if i > 0 {
				k = r.IntN(g.card)
			}
			// writeUTF, with the length patched in after the value.
			at := len(out)
			out = g.appendValue(append(out, 0, 0), k)
			binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
		}
	}
	return out, nil
}

// statsSpec is what a /cube_statistics .seq file is rendered from.
type statsSpec struct {
	dims       int   // row key columns: cuboid ids have this many bits
	inputRows  int64 // source rows of the segment
	samplePct  int
	mapperNums int
}

// scratch holds reusable state of one worker: a flate writer costs about a
// megabyte to set up.
type scratch struct {
	fw *flate.Writer
}

func (s *scratch) flateWriter() (*flate.Writer, error) {
	if s.fw == nil {
		fw, err := flate.NewWriter(io.Discard, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		s.fw = fw
	}
	return s.fw, nil
}

// seqSync is the sync marker of the synthetic SequenceFiles.
var seqSync = [16]byte{0x4b, 0x59, 0x4c, 0x49, 0x4e, 0x2d, 0x53, 0x54, 0x41, 0x54, 0x53, 0x2d, 0x53, 0x59, 0x4e, 0x43}

// renderStats renders cuboid statistics as Kylin writes them: a Hadoop
// SequenceFile of LongWritable cuboid id -> BytesWritable HyperLogLog
// registers, record-compressed with zlib, preceded by the special keys -1
// (mapper overlap ratio), -2 (mapper count) and 0 (sampling percentage).
//
// sc lends the flate writer; a nil sc makes a new one.
func renderStats(r *rand.Rand, s statsSpec, sc *scratch) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString("SEQ\x06")
	for _, class := range []string{"org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.BytesWritable"} {
		out.WriteByte(byte(len(class)))
		out.WriteString(class)
	}
	out.Write([]byte{1, 0}) // record compression, not block compression
	codec := "org.apache.hadoop.io.compress.DefaultCodec"
	out.WriteByte(byte(len(codec)))
	out.WriteString(codec)
	out.Write([]byte{0, 0, 0, 0}) // no metadata
	out.Write(seqSync[:])

	// Each value is its own zlib stream, as with Hadoop's record
	// compression. One flate writer serves all records.
	var zbuf bytes.Buffer
	if sc == nil {
		sc = new(scratch)
	}
	fw, err := sc.flateWriter()
	if err != nil {
		return nil, err
	}
	lastSync := out.Len()
	record := func(key int64, value []byte) error {
		if out.Len()-lastSync > 2000 {
			out.Write([]byte{0xff, 0xff, 0xff, 0xff})
			out.Write(seqSync[:])
			lastSync = out.Len()
		}
		var lenb [4]byte
		binary.BigEndian.PutUint32(lenb[:], uint32(len(value)))
		zbuf.Reset()
		zbuf.Write([]byte{0x78, 0x01}) // zlib header: deflate, fastest
		fw.Reset(&zbuf)
		fw.Write(lenb[:])
		fw.Write(value)
		if err := fw.Close(); err != nil {
			return err
		}
		sum := adler32.New()
		sum.Write(lenb[:])
		sum.Write(value)
		zbuf.Write(sum.Sum(nil))
		var hdr [16]byte
		binary.BigEndian.PutUint32(hdr[0:], uint32(8+zbuf.Len()))
		binary.BigEndian.PutUint32(hdr[4:], 8)
		binary.BigEndian.PutUint64(hdr[8:], uint64(key))
		out.Write(hdr[:])
		out.Write(zbuf.Bytes())
		return nil
	}
	le := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	if err := record(-1, le(uint64(100+r.IntN(400)))); err != nil {
		return nil, err
	}
	if err := record(-2, le(uint64(s.mapperNums))); err != nil {
		return nil, err
	}
	if err := record(0, le(uint64(s.samplePct))); err != nil {
		return nil, err
	}
	// Cuboids: the base cuboid and a sample of its children, in id order.
	dims := min(max(s.dims, 1), 62)
	base := int64(1)<<dims - 1
	nCuboids := min(int64(logNormal(r, 3.4, 0.8, 4, 600)), base)
	ids := map[int64]bool{base: true}
	for int64(len(ids)) < nCuboids {
		ids[r.Int64N(base)+1] = true
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	regs := make([]byte, 0, 4096)
	for _, id := range sorted {
		regs = hllRegisters(r, regs[:0], s.inputRows, id)
		if err := record(id, regs); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// hllRegisters appends a sparse HyperLogLog register set (precision 14):
// a count, then (index delta, register value) pairs, roughly as many as the
// cuboid's estimated cardinality allows.
func hllRegisters(r *rand.Rand, b []byte, rows int64, cuboid int64) []byte {
	dims := bits.OnesCount64(uint64(cuboid))
	est := min(rows, int64(1)<<min(5*dims+3, 40))
	n := int(min(est, 1<<14) / int64(8+r.IntN(24)))
	n = max(n, 1)
	b = append(b, 14)
	b = binary.AppendUvarint(b, uint64(n))
	span := uint64(max(1, (1<<14)/n))
	for range n {
		// One draw per register: the gap from the low bits, the register
		// value (a geometric rank, as HyperLogLog sees) from the high bits.
		u := r.Uint64()
		b = binary.AppendUvarint(b, 1+(u&0xffffffff)%span)
		b = append(b, byte(min(1+bits.TrailingZeros64(u>>32|1<<29), 30)))
	}
	return b
}
