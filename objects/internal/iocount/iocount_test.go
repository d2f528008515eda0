package iocount

import (
	"bytes"
	"fmt"
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

func TestWriterCountsAndReportsProgress(t *testing.T) {
	var buf bytes.Buffer
	var seen []int64
	w := &Writer{W: &buf, Progress: func(n int64) { seen = append(seen, n) }}
	io.WriteString(w, "abc")
	io.WriteString(w, "")
	io.WriteString(w, "de")
	if w.N != 5 || buf.String() != "abcde" || fmt.Sprint(seen) != "[3 5]" {
		t.Fatalf("N = %d, wrote %q, progress %v", w.N, buf.String(), seen)
	}
	quiet := &Writer{W: io.Discard}
	if _, err := io.WriteString(quiet, "abc"); err != nil || quiet.N != 3 {
		t.Fatalf("without progress: N = %d, %v", quiet.N, err)
	}
}
