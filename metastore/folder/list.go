package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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

	buf   []byte   // getdents(2) buffer of the fast path
	names []byte   // entry names; a directory's followed by "/"
	ents  []dirent // entries of the directories being listed
	path  []byte   // path of the directory being listed, ending in "/"
	st    unix.Stat_t
}

// dirent is an entry of a directory being listed: names[off:end] and its
// type (unix.DT_*).
type dirent struct {
	off, end int
	typ      uint8
}

// dir lists the open directory fd, whose path is l.path, keeping only the
// entries whose names start with namePrefix.
func (l *lister) dir(fd int, namePrefix string) error {
	base, nbase := len(l.ents), len(l.names)
	defer func() {
		l.ents, l.names = l.ents[:base], l.names[:nbase]
	}()
	if err := l.read(fd, namePrefix); err != nil {
		return err
	}
	// A directory sorts as its name followed by "/", as its files' paths do.
	slices.SortFunc(l.ents[base:], func(a, b dirent) int {
		return bytes.Compare(l.names[a.off:a.end], l.names[b.off:b.end])
	})
	stats := l.statAll(fd, l.ents[base:])
	plen := len(l.path)
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

// read reads the entries of fd whose names start with namePrefix onto
// l.ents and l.names, leaving out temporary files, which the store notes.
func (l *lister) read(fd int, namePrefix string) error {
	err := l.s.readDir(fd, l.buf, func(name []byte, typ uint8) error {
		if len(name) < len(namePrefix) || string(name[:len(namePrefix)]) != namePrefix {
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
			l.s.seen.met(string(l.path) + string(name))
			return nil
		}
		start := len(l.names)
		l.names = append(l.names, name...)
		if typ == unix.DT_DIR {
			l.names = append(l.names, '/')
		}
		l.ents = append(l.ents, dirent{off: start, end: len(l.names), typ: typ})
		return nil
	})
	if err != nil {
		return l.fail(err)
	}
	return nil
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

// listEntriesParallel lists each folder of the root on its own goroutine (at
// most s.workers at once, ahead of the caller) and hands the entries to fn
// in byte order of path.
func (s *Store) listEntriesParallel(ctx context.Context, fn func(metastore.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("folder: list /: %w", err)
	}
	// Byte order of full paths: a folder sorts as its name plus "/".
	type part struct {
		key  string
		dir  bool
		name string
		done chan struct{}
		ents []metastore.Entry
		err  error
	}
	parts := make([]*part, 0, len(des))
	for _, d := range des {
		key := d.Name()
		if d.IsDir() {
			key += "/"
		}
		parts = append(parts, &part{key: key, dir: d.IsDir(), name: d.Name(), done: make(chan struct{})})
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
			go func(p *part) {
				defer close(p.done)
				prefix := "/" + p.name
				if p.dir {
					prefix += "/"
				}
				p.err = s.listEntries(ctx, prefix, func(e metastore.Entry) error {
					if p.dir || e.Path == prefix {
						p.ents = append(p.ents, e)
					}
					return nil
				})
			}(p)
		}
	}()
	for _, p := range parts {
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if p.err != nil {
			return p.err
		}
		for _, e := range p.ents {
			if err := fn(e); err != nil {
				return err
			}
		}
		p.ents = nil
	}
	return nil
}
