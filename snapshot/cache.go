package snapshot

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kylin-tools/metastore/objects"
)

// The change cache lets a backup skip reading and hashing resources that did
// not change since the previous backup of the same source, as git's index
// does: for every path it keeps the backend's change fingerprint (for a
// file: device, inode, ctime, mtime and size) and the blob that held the
// content then. A resource is taken from the cache only if its fingerprint is
// non-empty and identical and the repository still has the blob, so a stale
// or damaged cache costs time, never correctness. It lives outside the
// snapshots, in metastore-cache/ inside the repository, one file per source.

type cacheEntry struct {
	change string
	size   int64
	ts     int64
	id     objects.ID
}

const cacheMagic = "metastore-cache 1\n"

func cacheName(source string) string {
	h := sha1.Sum([]byte(source))
	return hex.EncodeToString(h[:])
}

// loadCache reads a cache file; a missing or unreadable one is empty.
func loadCache(path string) map[string]cacheEntry {
	out := map[string]cacheEntry{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(cacheMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != cacheMagic {
		return out
	}
	readStr := func() (string, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return "", err
		}
		if n > 1<<20 {
			return "", errors.New("cache string too long")
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return string(b), err
	}
	for {
		p, err := readStr()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return map[string]cacheEntry{}
		}
		var e cacheEntry
		if e.change, err = readStr(); err != nil {
			return map[string]cacheEntry{}
		}
		sz, err1 := binary.ReadVarint(br)
		ts, err2 := binary.ReadVarint(br)
		_, err3 := io.ReadFull(br, e.id[:])
		if err1 != nil || err2 != nil || err3 != nil {
			return map[string]cacheEntry{}
		}
		e.size, e.ts = sz, ts
		out[p] = e
	}
}

// saveCache replaces the cache file atomically.
func saveCache(path string, entries map[string]cacheEntry) error {
	if err := os.MkdirAll(filepath.Dir(path), objects.DirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-cache-")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	bw.WriteString(cacheMagic)
	var buf [binary.MaxVarintLen64]byte
	putStr := func(s string) {
		n := binary.PutUvarint(buf[:], uint64(len(s)))
		bw.Write(buf[:n])
		bw.WriteString(s)
	}
	for p, e := range entries {
		putStr(p)
		putStr(e.change)
		n := binary.PutVarint(buf[:], e.size)
		bw.Write(buf[:n])
		n = binary.PutVarint(buf[:], e.ts)
		bw.Write(buf[:n])
		bw.Write(e.id[:])
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("save change cache: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
