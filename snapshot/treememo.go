package snapshot

import (
	"crypto/sha1"
	"encoding/binary"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

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
