// Package iocount counts the bytes that pass through a reader or a writer,
// for the packs of package objects, the watchdog of objects/gitremote and
// the transfer progress of objects/s3. It imports nothing but the standard
// library (objects/deps_test.go keeps it so), which is what lets
// objects/s3, which knows nothing of git, use it.
package iocount

import "io"

// Reader counts the bytes read through R in N (which may start at an
// offset); after every read that returns bytes it calls Progress, if not
// nil, with N.
type Reader struct {
	R        io.Reader
	N        int64
	Progress func(int64)
}

func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	count(&c.N, c.Progress, n)
	return n, err
}

// Writer counts the bytes written through W in N; after every write that
// takes bytes it calls Progress, if not nil, with N.
type Writer struct {
	W        io.Writer
	N        int64
	Progress func(int64)
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	count(&c.N, c.Progress, n)
	return n, err
}

// count adds n bytes to *total and, if there are any, reports the new
// total to progress (if not nil).
func count(total *int64, progress func(int64), n int) {
	*total += int64(n)
	if n > 0 && progress != nil {
		progress(*total)
	}
}
