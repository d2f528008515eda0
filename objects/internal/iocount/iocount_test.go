package iocount

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestReaderCountsFromItsOffsetAndReportsProgress(t *testing.T) {
	var seen []int64
	r := &Reader{R: strings.NewReader("hello world"), N: 12, Progress: func(n int64) { seen = append(seen, n) }}
	b, err := io.ReadAll(io.LimitReader(r, 5))
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	if r.N != 17 || len(seen) == 0 || seen[len(seen)-1] != 17 {
		t.Fatalf("N = %d, progress %v; want 17", r.N, seen)
	}
	quiet := &Reader{R: strings.NewReader("abc")}
	if _, err := io.ReadAll(quiet); err != nil || quiet.N != 3 {
		t.Fatalf("without progress: N = %d, %v", quiet.N, err)
	}
}

func TestWriterCounts(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	io.WriteString(w, "abc")
	io.WriteString(w, "de")
	if w.N != 5 || buf.String() != "abcde" {
		t.Fatalf("N = %d, wrote %q", w.N, buf.String())
	}
}
