package jdbc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
)

// readerRows are rows with every byte value in their content, and the
// characters LOAD DATA's text escapes, at the edges too.
func readerRows() []*pending {
	var rows []*pending
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for i, out := range [][]byte{all, {}, []byte("\\"), []byte("\t\n\x00\\"), []byte("plain"), bytes.Repeat([]byte("\\\t"), 3000)} {
		rows = append(rows, &pending{key: fmt.Sprintf("/k/%d\\é", i), ts: int64(i) * 1e12, out: out})
	}
	return rows
}

// eachReadWay reads what newReader streams a byte at a time and in large
// reads, and hands each way's name and bytes to check.
func eachReadWay(t *testing.T, newReader func() io.Reader, check func(name string, data []byte)) {
	t.Helper()
	for _, name := range []string{"one byte at a time", "large reads"} {
		r := newReader()
		if name == "one byte at a time" {
			r = iotest.OneByteReader(r)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		check(name, data)
	}
}

// TestTSVReader decodes what tsvReader streams, read a byte at a time and
// in large reads, as LOAD DATA would, and compares it with the rows.
func TestTSVReader(t *testing.T) {
	rows := readerRows()
	cols := []copyCol{colKeyOf, colContentOf, colTSOf, colZero}
	eachReadWay(t, func() io.Reader { return &tsvReader{rows: rows, cols: cols} }, func(name string, data []byte) {
		// LOAD DATA's reading: fields end at an unescaped tab, rows at an
		// unescaped newline; \t, \n, \0 and \\ stand for their bytes.
		var got [][]string
		var row []string
		var field []byte
		for i := 0; i < len(data); i++ {
			switch c := data[i]; c {
			case '\\':
				i++
				field = append(field, map[byte]byte{'t': '\t', 'n': '\n', '0': 0, '\\': '\\'}[data[i]])
			case '\t', '\n':
				row = append(row, string(field))
				field = nil
				if c == '\n' {
					got = append(got, row)
					row = nil
				}
			default:
				field = append(field, c)
			}
		}
		if len(got) != len(rows) || len(row) != 0 || len(field) != 0 {
			t.Fatalf("%s: %d rows and %d bytes left over, want %d rows", name, len(got), len(field), len(rows))
		}
		for i, r := range rows {
			want := []string{r.key, string(r.out), strconv.FormatInt(r.ts, 10), "0"}
			if fmt.Sprint(got[i]) != fmt.Sprint(want) {
				t.Errorf("%s: row %d = %q, want %q", name, i, got[i], want)
			}
		}
	})
}

// TestCopyReader decodes what copyReader streams, as PostgreSQL's binary
// COPY format defines it, and compares it with the rows.
func TestCopyReader(t *testing.T) {
	rows := readerRows()
	cols := []copyCol{colKeyOf, colTSOf, colContentOf, colZero}
	eachReadWay(t, func() io.Reader { return &copyReader{rows: rows, cols: cols} }, func(name string, data []byte) {
		if !bytes.HasPrefix(data, []byte("PGCOPY\n\xff\r\n\x00")) || len(data) < 19 {
			t.Fatalf("%s: no binary COPY signature: %q", name, data[:min(len(data), 19)])
		}
		data = data[19:] // signature, flags, header extension length (0)
		for i, r := range rows {
			if n := binary.BigEndian.Uint16(data); int(n) != len(cols) {
				t.Fatalf("%s: row %d has %d fields, want %d", name, i, n, len(cols))
			}
			data = data[2:]
			var fields [][]byte
			for range cols {
				n := binary.BigEndian.Uint32(data)
				fields = append(fields, data[4:4+n])
				data = data[4+n:]
			}
			if string(fields[0]) != r.key || int64(binary.BigEndian.Uint64(fields[1])) != r.ts || !bytes.Equal(fields[2], r.out) || binary.BigEndian.Uint64(fields[3]) != 0 {
				t.Errorf("%s: row %d decodes to %q, want %s, %d, %d bytes, 0", name, i, fields, r.key, r.ts, len(r.out))
			}
		}
		if !bytes.Equal(data, []byte{0xff, 0xff}) {
			t.Errorf("%s: trailer %x, want ffff", name, data)
		}
	})
}
