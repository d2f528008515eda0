package jdbc

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"
)

// gzipMagic starts Kylin 5's compressed content: CompressionUtils writes
// "GZIP" and then a zlib stream (java.util.zip.Deflater at level 1, with the
// zlib header and checksum), despite the name.
var gzipMagic = []byte("GZIP")

// isGzipped is CompressionUtils.isCompressed: more than four bytes starting
// with "GZIP".
func isGzipped(b []byte) bool {
	return len(b) > len(gzipMagic) && bytes.HasPrefix(b, gzipMagic)
}

// codec inflates and deflates Kylin 5 content, reusing its buffers. It is
// not safe for concurrent use.
type codec struct {
	src bytes.Reader // the stream being inflated: what is left of it
	zr  io.ReadCloser
	out bytes.Buffer
	zw  *zlib.Writer
	in  bytes.Buffer
}

// errCorrupt is wrapped by errors about compressed content that does not
// inflate.
var errCorrupt = errors.New("compressed content (GZIP + zlib) is corrupt")

func (c *codec) reader(b []byte) (io.Reader, error) {
	src := &c.src
	src.Reset(b[len(gzipMagic):])
	if c.zr == nil {
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		c.zr = zr
		return zr, nil
	}
	if err := c.zr.(zlib.Resetter).Reset(src, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return c.zr, nil
}

// decode returns b inflated if it is compressed, else b itself. The result
// is valid until the next call.
func (c *codec) decode(b []byte) ([]byte, error) {
	if !isGzipped(b) {
		return b, nil
	}
	r, err := c.reader(b)
	if err != nil {
		return nil, err
	}
	c.out.Reset()
	if _, err := c.out.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return c.out.Bytes(), nil
}

// decodeStream is decode that also returns, when b is compressed, its zlib
// stream (b without "GZIP") if inflating it read the whole of it: the bytes
// Kylin stored, which a backup may keep as they are (see
// metastore.Resource.Zlib). z is nil when b is not compressed, or has bytes
// after its stream. data is valid until the next call; z aliases b.
func (c *codec) decodeStream(b []byte) (data, z []byte, err error) {
	data, err = c.decode(b)
	if err != nil || !isGzipped(b) || c.src.Len() != 0 {
		return data, nil, err
	}
	return data, b[len(gzipMagic):], nil
}

// inflatedSize returns the size of compressed b once inflated.
func (c *codec) inflatedSize(b []byte) (int64, error) {
	r, err := c.reader(b)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return n, nil
}

// encode returns "GZIP" followed by data deflated at level 1, as Kylin 5's
// CompressionUtils.compress writes. The result is valid until the next call.
func (c *codec) encode(data []byte) []byte {
	c.in.Reset()
	c.in.Write(gzipMagic)
	if c.zw == nil {
		c.zw, _ = zlib.NewWriterLevel(&c.in, zlib.BestSpeed)
	} else {
		c.zw.Reset(&c.in)
	}
	c.zw.Write(data)
	c.zw.Close()
	return c.in.Bytes()
}
