package snapshot

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"

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

// cacheMagic starts a cache file; the 20-byte id of the snapshot it was
// saved with follows. A version 1 file is ignored (read as empty).
const cacheMagic = "metastore-cache 2\n"

func cacheName(source string) string {
	h := sha1.Sum([]byte(source))
	return hex.EncodeToString(h[:])
}

// readCacheFile reads a file of the cache folder, never through a symbolic
// link and only if it is a regular file: a link planted in the repository
// to /dev/zero or a FIFO must not make a backup read forever.
func readCacheFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return io.ReadAll(f)
}

// loadCache reads a cache file; a missing or unreadable one is empty.
func loadCache(path string) map[string]cacheEntry {
	m, _ := loadCacheFile(path)
	return m
}

// loadCacheFile reads a cache file and the id of the snapshot it was saved
// with.
func loadCacheFile(path string) (map[string]cacheEntry, objects.ID) {
	data, err := readCacheFile(path)
	if err != nil || !strings.HasPrefix(string(data), cacheMagic) || len(data) < len(cacheMagic)+40 {
		return map[string]cacheEntry{}, objects.ID{}
	}
	// A SHA-1 of everything before it ends the file: a damaged cache is
	// discarded whole, never half trusted.
	if sum := sha1.Sum(data[:len(data)-20]); string(sum[:]) != string(data[len(data)-20:]) {
		return map[string]cacheEntry{}, objects.ID{}
	}
	data = data[:len(data)-20]
	var commit objects.ID
	copy(commit[:], data[len(cacheMagic):])
	// One string for the whole file: paths and fingerprints are slices of
	// it, not an allocation each.
	all := string(data[len(cacheMagic)+20:])
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
			return map[string]cacheEntry{}, objects.ID{}
		}
		e := cacheEntry{change: ch, size: sz, ts: ts}
		copy(e.id[:], all[i:i+20])
		i += 20
		out[p] = e
	}
	return out, commit
}

// cacheLoad is a change cache being read in the background, so that a
// backup lists the source while the cache file is read and checked.
type cacheLoad struct {
	done    chan struct{}
	entries map[string]cacheEntry
	commit  objects.ID
	trusted bool // saved with a snapshot the repository still has
}

// loadCacheAsync starts reading the cache file at path.
func (r *Repository) loadCacheAsync(path string) *cacheLoad {
	c := &cacheLoad{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.entries, c.commit = loadCacheFile(path)
		c.trusted = !c.commit.IsZero() && r.objs.Has(c.commit)
	}()
	return c
}

// ready reports whether the cache has been read.
func (c *cacheLoad) ready() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait returns the cache once it has been read.
func (c *cacheLoad) wait() map[string]cacheEntry {
	<-c.done
	return c.entries
}

// encodeCacheFile returns the bytes of a cache file, in path order.
func encodeCacheFile(entries map[string]cacheEntry, commit objects.ID) []byte {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	buf := make([]byte, 0, 64+len(entries)*128)
	buf = append(buf, cacheMagic...)
	buf = append(buf, commit[:]...)
	for _, p := range paths {
		buf = appendCacheEntry(buf, p, entries[p])
	}
	sum := sha1.Sum(buf)
	return append(buf, sum[:]...)
}

// encodeCacheItems returns the bytes of a cache file holding the
// fingerprints of items, which are in path order; items without one (read
// by path, not listed) are left out.
func encodeCacheItems(items []scanned, commit objects.ID) []byte {
	buf := make([]byte, 0, 64+len(items)*128)
	buf = append(buf, cacheMagic...)
	buf = append(buf, commit[:]...)
	for i := range items {
		it := &items[i]
		if it.change != "" {
			buf = appendCacheEntry(buf, it.path, cacheEntry{change: it.change, size: it.size, ts: it.ts, id: it.id})
		}
	}
	sum := sha1.Sum(buf)
	return append(buf, sum[:]...)
}

// appendCacheEntry appends one entry of a cache file.
func appendCacheEntry(buf []byte, p string, e cacheEntry) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(p)))
	buf = append(buf, p...)
	buf = binary.AppendUvarint(buf, uint64(len(e.change)))
	buf = append(buf, e.change...)
	buf = binary.AppendVarint(buf, e.size)
	buf = binary.AppendVarint(buf, e.ts)
	return append(buf, e.id[:]...)
}

// encodeCache returns the next change cache: a full scan replaces the old
// one, a partial one updates the paths it saw. It returns nil when there is
// nothing new to write.
func encodeCache(old map[string]cacheEntry, items []scanned, full bool, commit objects.ID) []byte {
	if full && len(items) == len(old) {
		same := true
		for i := range items {
			it := &items[i]
			if it.cached {
				continue
			}
			if c, ok := old[it.path]; !ok || c != (cacheEntry{change: it.change, size: it.size, ts: it.ts, id: it.id}) {
				same = false
				break
			}
		}
		if same {
			// Nothing to learn; the snapshot the file names still holds
			// every blob it lists.
			return nil
		}
	}
	if full {
		// The items are in path order: the file is written from them
		// directly.
		return encodeCacheItems(items, commit)
	}
	next := old
	for _, it := range items {
		if it.change == "" {
			// A scoped scan reads by path and learns no fingerprint: the
			// entry it has stays (if the file changed, its fingerprint no
			// longer matches anyway).
			continue
		}
		next[it.path] = cacheEntry{change: it.change, size: it.size, ts: it.ts, id: it.id}
	}
	return encodeCacheFile(next, commit)
}
