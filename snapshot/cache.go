package snapshot

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

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

// writeAtomic replaces path with data through a temporary file.
func writeAtomic(path string, data []byte, tmpPrefix string) error {
	f, err := prepareAtomic(path, data, tmpPrefix)
	if err != nil {
		return err
	}
	return f.commit()
}

// staged is a file written under a temporary name, to replace path once
// committed.
type staged struct{ tmp, path string }

// tmpMarker starts the names of the temporary files of the cache folder.
const tmpMarker = ".tmp-"

// prepareAtomic writes data to a temporary file beside path.
func prepareAtomic(path string, data []byte, tmpPrefix string) (staged, error) {
	if err := os.MkdirAll(filepath.Dir(path), objects.DirMode); err != nil {
		return staged{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix)
	if err != nil {
		return staged{}, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return staged{}, fmt.Errorf("save %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return staged{}, err
	}
	return staged{tmp: f.Name(), path: path}, nil
}

// commit renames the temporary file over path.
func (f staged) commit() error {
	if err := os.Rename(f.tmp, f.path); err != nil {
		os.Remove(f.tmp)
		return err
	}
	return nil
}

// discard removes the temporary file.
func (f staged) discard() { os.Remove(f.tmp) }

// removeStaleCacheTemp deletes temporary files of the cache folder last
// written before cutoff: left by a backup that was killed. Call it while
// holding the repository lock.
func (r *Repository) removeStaleCacheTemp(cutoff time.Time) {
	dir := filepath.Join(r.Path(), cacheDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpMarker) {
			continue
		}
		if info, err := e.Info(); err == nil && !info.ModTime().After(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
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
	repo    *objects.Repository
	old     map[string]memoEntry
	next    map[string]memoEntry
	keys    []string // old's keys, sorted; built on first use
	trusted bool     // the snapshot it was saved with exists: so do its trees
}

// has reports whether the memo's tree id is in the repository.
func (m *dirMemo) has(id objects.ID) bool {
	return m.trusted || m.repo.Has(id)
}

// Get returns the trees remembered for folder path with fingerprint fp
// (see tree.Memo), and carries them over to the next memo.
func (m *dirMemo) Get(path string, fp [20]byte) (tree, mirror objects.ID, ok bool) {
	e, ok := m.old[path]
	if !ok || e.fp != fp || !m.has(e.tree) || !m.has(e.mirror) {
		return objects.ID{}, objects.ID{}, false
	}
	m.keep(path, e)
	return e.tree, e.mirror, true
}

// Put remembers the trees written for folder path in the next memo.
func (m *dirMemo) Put(path string, fp [20]byte, tree, mirror objects.ID) {
	m.next[path] = memoEntry{fp: fp, tree: tree, mirror: mirror}
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

// memoMagic starts a memo file; the 20-byte id of the snapshot it was saved
// with follows.
const memoMagic = "metastore-trees 2\n"

func loadDirMemo(repo *objects.Repository, path string) *dirMemo {
	m := &dirMemo{repo: repo, old: map[string]memoEntry{}, next: map[string]memoEntry{}}
	data, err := readCacheFile(path)
	if err != nil || !strings.HasPrefix(string(data), memoMagic) || len(data) < len(memoMagic)+40 {
		return m
	}
	if sum := sha1.Sum(data[:len(data)-20]); string(sum[:]) != string(data[len(data)-20:]) {
		return m // damaged: discarded whole
	}
	data = data[:len(data)-20]
	var commit objects.ID
	copy(commit[:], data[len(memoMagic):])
	b := data[len(memoMagic)+20:]
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
	// Objects are never deleted while reachable, and every tree the memo
	// names belongs to that snapshot or an earlier one of the chain.
	m.trusted = !commit.IsZero() && repo.Has(commit)
	return m
}

// unchanged reports whether the next memo would say exactly what the old
// one says (then there is no need to write it).
func (m *dirMemo) unchanged() bool {
	if len(m.next) != len(m.old) {
		return false
	}
	for k, v := range m.next {
		if m.old[k] != v {
			return false
		}
	}
	return true
}

func (m *dirMemo) save(path string, commit objects.ID) error {
	data := m.encode(commit)
	if data == nil {
		return nil
	}
	return writeAtomic(path, data, tmpMarker+"trees-")
}

// encode returns the memo file to save with snapshot commit, or nil if the
// file already says it all.
func (m *dirMemo) encode(commit objects.ID) []byte {
	if m.trusted && m.unchanged() {
		return nil
	}
	var buf []byte
	buf = append(buf, memoMagic...)
	buf = append(buf, commit[:]...)
	for p, e := range m.next {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
		buf = append(buf, e.fp[:]...)
		buf = append(buf, e.tree[:]...)
		buf = append(buf, e.mirror[:]...)
	}
	sum := sha1.Sum(buf)
	return append(buf, sum[:]...)
}
