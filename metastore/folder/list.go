package folder

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kylin-tools/metastore/metastore"
)

// List calls fn for the path of every file whose path starts with prefix, in
// byte order of path, streaming the tree one directory at a time. It skips
// Write's temporary files and stops at the first error: an error wrapping
// metastore.ErrInvalidPath for an invalid prefix, the context's error once
// ctx is done, an error wrapping ErrSymlink or ErrNotRegular that names the
// first symbolic link or special file met, an error reading a directory, or
// the error fn returns, returned as is.
func (s *Store) List(ctx context.Context, prefix string, fn func(path string) error) error {
	return s.list(ctx, prefix, false, func(p string, _ *unix.Stat_t) error { return fn(p) })
}

// ListEntries is List with each file's size, its modification time in
// milliseconds as Timestamp, and a Change fingerprint of its device, inode,
// change time, modification time and size, all from one lstat(2).
//
// A file whose change time is within RacyWindow of the moment it was listed
// gets an empty Change: file systems stamp times with a coarse clock, so a
// second write in the same tick could leave every field of the fingerprint
// as it was (git's "racily clean" entries). Such files are always read.
//
// Listing the whole store ("/") lists the root's folders on several
// goroutines at once (the system calls, one lstat per file, dominate) and
// still calls fn in order, from the calling goroutine.
func (s *Store) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	if prefix == "/" && s.workers > 1 {
		return s.listEntriesParallel(ctx, fn)
	}
	return s.listEntries(ctx, prefix, fn)
}

func (s *Store) listEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	var change []byte
	return s.list(ctx, prefix, true, func(p string, st *unix.Stat_t) error {
		// time.Now reads the clock without a system call (vDSO).
		now := time.Now().UnixNano()
		e := metastore.Entry{Path: p, Size: st.Size, Timestamp: millis(st.Mtim)}
		if now-st.Ctim.Nano() >= int64(s.racy) {
			change = appendChange(change[:0], st)
			e.Change = string(change)
		}
		return fn(e)
	})
}

// RacyWindow is how recent a change must be for ListEntries to withhold a
// file's Change fingerprint.
const RacyWindow = 2 * time.Second

// appendChange appends to b the fingerprint of st: device, inode, change
// time, modification time and size in hexadecimal, each time as seconds and
// nanoseconds, separated by colons.
func appendChange(b []byte, st *unix.Stat_t) []byte {
	b = strconv.AppendUint(b, uint64(st.Dev), 16)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Ino), 16)
	csec, cnsec := st.Ctim.Unix()
	msec, mnsec := st.Mtim.Unix()
	for _, n := range [...]int64{csec, cnsec, msec, mnsec} {
		b = append(b, ':')
		b = strconv.AppendInt(b, n, 16)
	}
	b = append(b, ':')
	return strconv.AppendInt(b, st.Size, 16)
}

func (s *Store) list(ctx context.Context, prefix string, stat bool, fn func(string, *unix.Stat_t) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("folder: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// "/cube/x" lists the entries of the directory /cube whose names start
	// with "x"; "/" lists the root's.
	i := strings.LastIndexByte(prefix, '/')
	dir, namePrefix := prefix[:i], prefix[i+1:]
	if strings.Contains(prefix[:i+1], "//") {
		return nil // no valid key has an empty component
	}
	w, err := s.walk(dir, walkList)
	if err != nil {
		if (errors.Is(err, unix.ENOENT) || errors.Is(err, ErrNotDir)) && !isRootError(err) {
			return nil
		}
		return fmt.Errorf("folder: list %s: %w", prefix, err)
	}
	defer w.close()
	l := &lister{
		s:       s,
		ctx:     ctx,
		prefix:  prefix,
		stat:    stat,
		statMin: s.statMin,
		chunk:   max(s.chunk, 1),
		held:    s.held,
		fn:      fn,
		buf:     make([]byte, 32<<10),
		path:    append(append(make([]byte, 0, 256), dir...), '/'),
	}
	return l.dir(w.last(), namePrefix)
}

// lister walks a tree in byte order of path. Its names and ents are stacks
// shared by the directories being listed, parent below child, so that a
// whole listing allocates little beyond the paths it hands out.
type lister struct {
	s       *Store
	ctx     context.Context
	prefix  string
	stat    bool
	statMin int // see parallelStatMin
	fn      func(string, *unix.Stat_t) error

	chunk int        // entries of a folder held at once (see listChunk)
	held  *heldStats // tests only; nil otherwise

	buf     []byte   // getdents(2) buffer of the fast path
	names   []byte   // entry names; a directory's followed by "/"
	ents    []dirent // entries of the directories being listed
	scratch []byte   // names moved by trim
	path    []byte   // path of the directory being listed, ending in "/"
	st      unix.Stat_t
}

// dirent is an entry of a directory being listed: names[off:end] and its
// type (unix.DT_*).
type dirent struct {
	off, end int
	key      uint64 // the key's first 8 bytes, big-endian: most comparisons end there
	typ      uint8
}

// sortKey returns the first 8 bytes of key as a big-endian number, zeros
// after a shorter key: two keys it orders are in bytes.Compare's order, and
// only keys it ties need bytes.Compare (the sort of a 307,437-entry job
// folder's names, UUIDs, then rarely reads them).
func sortKey(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// listChunk is the number of entries of one folder a listing holds at
// once. A folder with more is read once per chunk: each pass keeps the
// listChunk smallest entries after the last one handed out, whatever order
// the file system reads them in, so that a listing's memory is bounded by
// the depth of the tree, not by the size of its largest folder (Kylin's
// /execute_output: one file per job step, hundreds of thousands on a busy
// metastore), for one getdents(2) pass over the folder per chunk. A chunk
// holds about 64 bytes per entry, twice over while a pass trims: 65,536
// entries are about 8 MB per folder being listed. At a million resources
// (two folders of 307,437) 16,384 cost 19 passes a folder, 43% of an
// unchanged backup's CPU in getdents; 65,536 cost 5 passes and the same
// peak RSS; 131,072 and 262,144 save little more CPU for 15-70 MB more RSS
// (BENCHMARKS.md, "The listing's chunk").
const listChunk = 65536

// heldStats records, for tests, the most entries a listing held at once.
type heldStats struct {
	mu      sync.Mutex
	dirents int          // entries of the folders being listed (a lister's stack)
	ahead   atomic.Int64 // entries listed ahead of the caller (listEntriesParallel)
	entries int          // the most of ahead
}

func (h *heldStats) noteDirents(n int) {
	h.mu.Lock()
	h.dirents = max(h.dirents, n)
	h.mu.Unlock()
}

// noteAhead adds d to the entries listed ahead of the caller.
func (h *heldStats) noteAhead(d int64) {
	n := h.ahead.Add(d)
	h.mu.Lock()
	h.entries = max(h.entries, int(n))
	h.mu.Unlock()
}

// dir lists the open directory fd, whose path is l.path, keeping only the
// entries whose names start with namePrefix: l.chunk entries at a time (see
// listChunk), each chunk sorted.
func (l *lister) dir(fd int, namePrefix string) error {
	base, nbase := len(l.ents), len(l.names)
	defer func() {
		l.ents, l.names = l.ents[:base], l.names[:nbase]
	}()
	var after []byte // the key of the last entry handed out
	for pass := 0; ; pass++ {
		if pass > 0 {
			if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
				return l.fail(err)
			}
		}
		more, err := l.readChunk(fd, namePrefix, base, nbase, after, pass == 0)
		if err != nil {
			return err
		}
		if err := l.walkChunk(fd, base); err != nil {
			return err
		}
		if !more || len(l.ents) == base {
			return nil
		}
		last := l.ents[len(l.ents)-1]
		after = append(after[:0], l.names[last.off:last.end]...)
		l.ents, l.names = l.ents[:base], l.names[:nbase]
	}
}

// walkChunk hands out, in order, the files of the sorted entries
// l.ents[base:] of the open directory fd, and lists its folders.
func (l *lister) walkChunk(fd int, base int) error {
	stats := l.statAll(fd, l.ents[base:])
	plen := len(l.path)
	defer func() { l.path = l.path[:plen] }()
	for i := base; i < len(l.ents); i++ {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		e := l.ents[i]
		l.path = append(l.path[:plen], l.names[e.off:e.end]...)
		switch e.typ {
		case unix.DT_DIR:
			name := l.transient(e.off, e.end-1)
			child, err := openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == unix.ENOENT {
				continue // removed since it was read
			}
			if err == unix.ENOTDIR || isLoop(err) {
				err = notDirError(fd, name)
			}
			if err != nil {
				return l.fail(err)
			}
			err = l.dir(child, "")
			unix.Close(child)
			if err != nil {
				return err
			}
		case unix.DT_REG:
			var st *unix.Stat_t
			if stats != nil {
				fs := &stats[i-base]
				if fs.err == unix.ENOENT {
					continue // removed since it was read
				}
				err := fs.err
				if err == nil {
					err = checkType(uint32(fs.st.Mode), false)
				}
				if err != nil {
					return l.fail(err)
				}
				st = &fs.st
			} else if l.stat {
				err := fstatat(fd, l.transient(e.off, e.end), &l.st)
				if err == unix.ENOENT {
					continue // removed since it was read
				}
				if err == nil {
					err = checkType(uint32(l.st.Mode), false)
				}
				if err != nil {
					return l.fail(err)
				}
				st = &l.st
			}
			if err := l.fn(string(l.path), st); err != nil {
				return err
			}
		case unix.DT_LNK:
			return l.fail(ErrSymlink)
		default:
			return l.fail(ErrNotRegular)
		}
	}
	return nil
}

// parallelStatMin is the number of files from which a folder's files are
// lstat'ed on several goroutines before they are handed out in order: one
// flat folder (Kylin's execute_output, tens of thousands of job outputs)
// otherwise makes one goroutine the whole listing's critical path.
const parallelStatMin = 4096

// fileStat is the lstat(2) of one entry, or its error.
type fileStat struct {
	st  unix.Stat_t
	err error
}

// statAll lstats the regular files of ents (entries of directory fd) on
// several goroutines when there are many and the listing wants stats; it
// returns nil otherwise (the caller stats as it goes).
func (l *lister) statAll(fd int, ents []dirent) []fileStat {
	if !l.stat || len(ents) < l.statMin {
		return nil
	}
	out := make([]fileStat, len(ents))
	workers := min(runtime.NumCPU(), 4)
	chunk := (len(ents) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(ents); lo += chunk {
		hi := min(lo+chunk, len(ents))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if e := ents[i]; e.typ == unix.DT_REG {
					out[i].err = fstatat(fd, l.transient(e.off, e.end), &out[i].st)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// readChunk reads onto l.ents[base:] and l.names[nbase:] the entries of fd
// whose names start with namePrefix and whose keys (the name, followed by
// "/" for a folder) sort after after (every one when after is nil),
// keeping the l.chunk smallest, sorted. more says whether it left some
// out. Temporary files are left out; the first pass notes them.
func (l *lister) readChunk(fd int, namePrefix string, base, nbase int, after []byte, first bool) (more bool, err error) {
	var bound []byte // once entries were left out: the largest key kept
	err = l.s.readDir(fd, l.buf, func(name []byte, typ uint8) error {
		if len(name) < len(namePrefix) || string(name[:len(namePrefix)]) != namePrefix {
			return nil
		}
		// The key is name or name+"/": leave out what sorts outside
		// (after, bound] either way before asking for its type.
		if after != nil && cmpKey(name, true, after) <= 0 || bound != nil && cmpKey(name, false, bound) > 0 {
			return nil
		}
		if typ == unix.DT_UNKNOWN {
			var st unix.Stat_t
			if err := fstatat(fd, string(name), &st); err != nil {
				if err == unix.ENOENT {
					return nil
				}
				return err
			}
			typ = dtype(uint32(st.Mode))
		}
		if typ == unix.DT_REG && name[0] == '.' && isTemp(string(name)) {
			if first {
				l.s.seen.met(string(l.path) + string(name))
			}
			return nil
		}
		dir := typ == unix.DT_DIR
		if after != nil && cmpKey(name, dir, after) <= 0 || bound != nil && cmpKey(name, dir, bound) > 0 {
			return nil
		}
		start := len(l.names)
		l.names = append(l.names, name...)
		if dir {
			l.names = append(l.names, '/')
		}
		l.ents = append(l.ents, dirent{off: start, end: len(l.names), key: sortKey(l.names[start:]), typ: typ})
		if len(l.ents)-base >= 2*l.chunk {
			l.trim(base, nbase)
			last := l.ents[len(l.ents)-1]
			bound, more = append(bound[:0], l.names[last.off:last.end]...), true
		}
		return nil
	})
	if err != nil {
		return false, l.fail(err)
	}
	if len(l.ents)-base > l.chunk {
		more = true
	}
	l.trim(base, nbase)
	return more, nil
}

// trim sorts l.ents[base:] and keeps the first l.chunk, with their names
// moved together to l.names[nbase:].
func (l *lister) trim(base, nbase int) {
	if l.held != nil {
		l.held.noteDirents(len(l.ents))
	}
	// A directory sorts as its name followed by "/", as its files' paths do.
	slices.SortFunc(l.ents[base:], func(a, b dirent) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return bytes.Compare(l.names[a.off:a.end], l.names[b.off:b.end])
	})
	if len(l.ents)-base <= l.chunk {
		return
	}
	l.ents = l.ents[:base+l.chunk]
	l.scratch = l.scratch[:0]
	for i := base; i < len(l.ents); i++ {
		e := &l.ents[i]
		off := nbase + len(l.scratch)
		l.scratch = append(l.scratch, l.names[e.off:e.end]...)
		e.off, e.end = off, nbase+len(l.scratch)
	}
	l.names = append(l.names[:nbase], l.scratch...)
}

// cmpKey compares the key of an entry named name (followed by "/" if dir)
// with key.
func cmpKey(name []byte, dir bool, key []byte) int {
	if !dir {
		return bytes.Compare(name, key)
	}
	n := len(name)
	if len(key) <= n {
		if c := bytes.Compare(name[:len(key)], key); c != 0 {
			return c
		}
		return 1 // key is name's prefix (or name): name+"/" is longer
	}
	if c := bytes.Compare(name, key[:n]); c != 0 {
		return c
	}
	switch {
	case key[n] > '/':
		return -1
	case key[n] < '/':
		return 1
	case len(key) == n+1:
		return 0
	}
	return -1 // name+"/" is key's prefix
}

// readDir calls fn for each entry of the open directory fd other than "."
// and "..", with its type (unix.DT_*, or DT_UNKNOWN when the file system
// does not tell), on the fast path with getdents(2) into buf. It stops at
// the first error fn returns.
func (s *Store) readDir(fd int, buf []byte, fn func(name []byte, typ uint8) error) error {
	if s.portable {
		return readDirPortable(fd, fn)
	}
	return readDirFast(fd, buf, fn)
}

// transient returns l.names[off:end] as a string without copying it, for a
// system call that copies it at once: the string changes if l.names does.
func (l *lister) transient(off, end int) string {
	return unsafe.String(&l.names[off], end-off)
}

// fail wraps err with the prefix listed and the path where it happened.
func (l *lister) fail(err error) error {
	return fmt.Errorf("folder: list %s: %s: %w", l.prefix, strings.TrimSuffix(string(l.path), "/"), err)
}

// dtype converts a stat mode to a directory entry type.
func dtype(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	default:
		return unix.DT_UNKNOWN // reported as not regular
	}
}

// batchesAhead is how many batches of entries (of min(l.chunk, 1024) each)
// a folder listed by listEntriesParallel may hold ahead of the caller.
const batchesAhead = 8

// listEntriesParallel lists each folder of the root on its own goroutine (at
// most s.workers at once, ahead of the caller) and hands the entries to fn
// in byte order of path. Each folder holds at most batchesAhead batches
// ahead of the caller (and the one it is filling): a large folder waits
// for its turn instead of growing (the lstat calls of a large folder's
// files still run on several goroutines, see statAll).
func (s *Store) listEntriesParallel(ctx context.Context, fn func(metastore.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("folder: list /: %w", err)
	}
	parts := make([]*part, 0, len(des))
	for _, d := range des {
		// Byte order of full paths: a folder sorts as its name plus "/".
		key := d.Name()
		if d.IsDir() {
			key += "/"
		}
		parts = append(parts, &part{key: key, dir: d.IsDir(), name: d.Name(), batches: make(chan []metastore.Entry, batchesAhead)})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].key < parts[j].key })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.workers)
	go func() {
		for _, p := range parts {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go s.listPart(ctx, p)
		}
	}()
	for _, p := range parts {
		for open := true; open; {
			var batch []metastore.Entry
			select {
			case batch, open = <-p.batches:
			case <-ctx.Done():
				return ctx.Err()
			}
			for _, e := range batch {
				if err := fn(e); err != nil {
					return err
				}
			}
			if s.held != nil {
				s.held.noteAhead(-int64(len(batch)))
			}
		}
		<-sem
		if p.err != nil {
			return p.err
		}
	}
	return nil
}

// part is one entry of the root being listed by listEntriesParallel.
type part struct {
	key     string // name, followed by "/" for a folder
	dir     bool
	name    string
	batches chan []metastore.Entry // closed once err is set
	err     error
}

// listPart lists p into p.batches, and closes it.
func (s *Store) listPart(ctx context.Context, p *part) {
	defer close(p.batches)
	prefix := "/" + p.name
	if p.dir {
		prefix += "/"
	}
	size := min(max(s.chunk, 1), 1024)
	var batch []metastore.Entry
	send := func() error {
		select {
		case p.batches <- batch:
			batch = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.err = s.listEntries(ctx, prefix, func(e metastore.Entry) error {
		if !p.dir && e.Path != prefix {
			return nil
		}
		if batch == nil {
			batch = make([]metastore.Entry, 0, size)
		}
		batch = append(batch, e)
		if s.held != nil {
			s.held.noteAhead(1)
		}
		if len(batch) < size {
			return nil
		}
		return send()
	})
	if p.err == nil && len(batch) > 0 {
		p.err = send()
	}
}
