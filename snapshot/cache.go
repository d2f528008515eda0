package snapshot

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(data), cacheMagic) {
		return map[string]cacheEntry{}
	}
	// One string for the whole file: paths and fingerprints are slices of
	// it, not an allocation each.
	all := string(data[len(cacheMagic):])
	out := make(map[string]cacheEntry, len(all)/96)
	i := 0
	str := func() (string, bool) {
		n, k := binary.Uvarint([]byte(all[i:min(len(all), i+binary.MaxVarintLen64)]))
		if k <= 0 || n > uint64(len(all)-i-k) {
			return "", false
		}
		s := all[i+k : i+k+int(n)]
		i += k + int(n)
		return s, true
	}
	varint := func() (int64, bool) {
		v, k := binary.Varint([]byte(all[i:min(len(all), i+binary.MaxVarintLen64)]))
		if k <= 0 {
			return 0, false
		}
		i += k
		return v, true
	}
	for i < len(all) {
		p, ok1 := str()
		ch, ok2 := str()
		sz, ok3 := varint()
		ts, ok4 := varint()
		if !ok1 || !ok2 || !ok3 || !ok4 || len(all)-i < 20 {
			return map[string]cacheEntry{}
		}
		e := cacheEntry{change: ch, size: sz, ts: ts}
		copy(e.id[:], all[i:i+20])
		i += 20
		out[p] = e
	}
	return out
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

// The tree memo remembers, for each folder of the last system backup of a
// source, a fingerprint of everything below it and the tree and timestamps
// mirror it gave, so that an unchanged folder costs one hash of its
// listing instead of encoding, hashing and looking up all its trees.

type memoEntry struct {
	fp     [20]byte
	tree   objects.ID
	mirror objects.ID
}

type dirMemo struct {
	repo *objects.Repository
	old  map[string]memoEntry
	next map[string]memoEntry
	keys []string // old's keys, sorted; built on first use
}

// keep carries an unchanged folder and everything remembered below it over
// to the next memo, so that a later change deep inside still finds its
// siblings remembered.
func (m *dirMemo) keep(path string, e memoEntry) {
	m.next[path] = e
	if m.keys == nil {
		m.keys = make([]string, 0, len(m.old))
		for k := range m.old {
			m.keys = append(m.keys, k)
		}
		sort.Strings(m.keys)
	}
	prefix := path + "/"
	for i := sort.SearchStrings(m.keys, prefix); i < len(m.keys) && strings.HasPrefix(m.keys[i], prefix); i++ {
		m.next[m.keys[i]] = m.old[m.keys[i]]
	}
}

const memoMagic = "metastore-trees 1\n"

func loadDirMemo(repo *objects.Repository, path string) *dirMemo {
	m := &dirMemo{repo: repo, old: map[string]memoEntry{}, next: map[string]memoEntry{}}
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(data), memoMagic) {
		return m
	}
	b := data[len(memoMagic):]
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) || uint64(len(b)-k)-n < 60 {
			return &dirMemo{repo: repo, old: map[string]memoEntry{}, next: map[string]memoEntry{}}
		}
		b = b[k:]
		p := string(b[:n])
		b = b[n:]
		var e memoEntry
		copy(e.fp[:], b[:20])
		copy(e.tree[:], b[20:40])
		copy(e.mirror[:], b[40:60])
		b = b[60:]
		m.old[p] = e
	}
	return m
}

func (m *dirMemo) save(path string) error {
	var buf []byte
	buf = append(buf, memoMagic...)
	for p, e := range m.next {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
		buf = append(buf, e.fp[:]...)
		buf = append(buf, e.tree[:]...)
		buf = append(buf, e.mirror[:]...)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-trees-")
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
