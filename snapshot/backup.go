package snapshot

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// Progress receives the progress of long operations. Implementations must be
// safe for concurrent use.
type Progress interface {
	// Start begins a phase ("scanning", "restoring") of total steps, or of
	// unknown length when total is negative.
	Start(phase string, total int64)
	// Add reports n more steps done.
	Add(n int64)
	// Done ends the phase.
	Done()
}

type noProgress struct{}

func (noProgress) Start(string, int64) {}
func (noProgress) Add(int64)           {}
func (noProgress) Done()               {}

func defaultWorkers() int {
	n := runtime.NumCPU()
	if n < 2 {
		n = 2
	}
	return n
}

// BackupOptions say what a backup records.
type BackupOptions struct {
	// Scope is what to record: the whole metastore, one project or one cube.
	Scope scope.Scope
	// WithSegments adds, for a cube scope, the dictionaries, table snapshots
	// and statistics its segments reference.
	WithSegments bool
	// Message is the snapshot's title; a default names the scope.
	Message string
	// Tags are names to give the new snapshot.
	Tags []string
	// SkipIfUnchanged records nothing when the scope's content (bytes and
	// timestamps) equals the latest snapshot of the same scope.
	SkipIfUnchanged bool
	// Source describes the metastore for the record (a folder path, a JDBC
	// URL with the password masked); metastore.Describe(src) if empty.
	Source string
	// Progress receives progress; nil for none.
	Progress Progress

	kind         Kind
	paths        []string // an explicit member list (safety snapshots)
	restoreOf    ID
	importPath   string
	memoPath     string   // tree memo file; "" for none
	restoreAdded []string // safety snapshots of cube restores: paths the restore adds
}

// BackupResult is what a backup did.
type BackupResult struct {
	// Snapshot is the recorded snapshot (or, when Recorded is false, the
	// latest snapshot of the scope, which already holds this content).
	Snapshot Info
	// Recorded is false when SkipIfUnchanged found nothing new.
	Recorded bool
	// Resources is the number of resources in the snapshot, Bytes their
	// total size.
	Resources int
	Bytes     int64
	// NewObjects and NewBytes count the objects the repository did not have
	// yet, and their uncompressed size; PackBytes is what they took on disk.
	NewObjects int
	NewBytes   int64
	PackBytes  int64
	// Unread counts resources whose content the change cache vouched for, so
	// they were not read or hashed again.
	Unread int
	// Warnings are scope decisions that met unreadable resources or missing
	// references.
	Warnings []scope.Warning
	// Repository is the repository's path.
	Repository string
}

// scanned is one resource of a scan: where its content is and when it was
// written.
type scanned struct {
	path   string
	id     objects.ID
	size   int64
	ts     int64
	change string
	uuid   string // decoded content of /UUID
	gone   bool   // deleted (or kept elsewhere) when it was to be read
	cached bool   // taken from the change cache, whose entry it equals
}

type scanStats struct {
	unread   int
	warnings []scope.Warning
}

// elsewhereWarning is the backup's report of a resource Kylin keeps outside
// the metastore.
func elsewhereWarning(p string, err error) scope.Warning {
	return scope.Warning{Path: p, Message: fmt.Sprintf("not backed up: %v (Kylin pushed it out of the database, see kylin.metadata.jdbc.max-cell-size; give --hdfs-root to read it)", err)}
}

// objectWriter stores an object or, in a dry run, only names it. base is an
// earlier version of the object (same path, previous snapshot), which the
// store may use as a delta base; zero if unknown.
type objectWriter func(k objects.Kind, data []byte, base objects.ID) (objects.ID, error)

func packObjectWriter(pw *objects.PackWriter) objectWriter {
	return func(k objects.Kind, data []byte, base objects.ID) (objects.ID, error) {
		id, _, err := pw.WriteDelta(k, data, base)
		return id, err
	}
}

func hashOnly(k objects.Kind, data []byte, _ objects.ID) (objects.ID, error) {
	return objects.HashObject(k, data), nil
}

// checkKey refuses keys that cannot be stored in a snapshot tree.
func checkKey(p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return err
	}
	if p == "/"+recordsDir || strings.HasPrefix(p, "/"+recordsDir+"/") {
		return fmt.Errorf("%w: %s collides with the repository's own records under /%s", ErrReservedPath, p, recordsDir)
	}
	return nil
}

// scan lists (or takes from paths) the resources of src and stores or hashes
// their content, using the change cache where it can.
//
// The cache may still be loading (cl): resources listed before it is ready
// wait in a queue, so the listing starts at once. A cache saved with a
// snapshot the repository still has is trusted: the blobs it names exist and
// need not be looked up one by one.
func (r *Repository) scan(ctx context.Context, src metastore.Source, paths []string, write objectWriter, cl *cacheLoad, prog Progress) ([]scanned, scanStats, error) {
	var st scanStats
	if w, ok := src.(metastore.Walker); ok && paths == nil {
		return r.scanWalk(ctx, w, write, prog)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		unread   int
		items    []*scanned
		cache    map[string]cacheEntry // nil until cl is ready
		trusted  bool
		waiting  []*scanned // listed before the cache was ready
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	// Resources the cache vouches for are settled as they are listed; the
	// others go to the workers, which read and store them while the listing
	// goes on.
	next := make(chan *scanned, 1024)
	var wg sync.WaitGroup
	for w := 0; w < r.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				res, err := src.Read(ctx, it.path)
				if errors.Is(err, fs.ErrNotExist) {
					it.gone = true // deleted while we were backing up
					prog.Add(1)
					continue
				}
				if errors.Is(err, metastore.ErrContentElsewhere) {
					it.gone = true
					mu.Lock()
					st.warnings = append(st.warnings, elsewhereWarning(it.path, err))
					mu.Unlock()
					prog.Add(1)
					continue
				}
				if err != nil {
					fail(fmt.Errorf("read %s: %w", it.path, err))
					continue
				}
				id, err := write(objects.KindBlob, res.Data, cache[it.path].id)
				if err != nil {
					fail(fmt.Errorf("store %s: %w", it.path, err))
					continue
				}
				if it.path == "/UUID" {
					it.uuid = decodeUUID(res.Data)
				}
				if res.Timestamp != it.ts || int64(len(res.Data)) != it.size {
					// Changed between listing and reading: the listed
					// fingerprint no longer vouches for this content.
					it.change = ""
				}
				it.id, it.size, it.ts = id, int64(len(res.Data)), res.Timestamp
				prog.Add(1)
			}
		}()
	}
	settle := func(it *scanned) error {
		if c, ok := cache[it.path]; ok && it.change != "" && it.path != "/UUID" && c.change == it.change && c.size == it.size && (trusted || r.objs.Has(c.id)) {
			it.id = c.id
			it.cached = c.ts == it.ts
			unread++
			prog.Add(1)
			return nil
		}
		select {
		case next <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// flush settles the queued resources once the cache is ready; block
	// says whether to wait for it.
	flush := func(block bool) error {
		if cache == nil {
			if !block && !cl.ready() {
				return nil
			}
			cache, trusted = cl.wait(), cl.trusted
		}
		for i, it := range waiting {
			if err := settle(it); err != nil {
				return err
			}
			waiting[i] = nil
		}
		waiting = waiting[:0]
		return nil
	}
	add := func(it *scanned) error {
		if err := checkKey(it.path); err != nil {
			return err
		}
		items = append(items, it)
		if cache == nil {
			waiting = append(waiting, it)
			return flush(false)
		}
		return settle(it)
	}
	var err error
	if paths == nil {
		prog.Start("scanning", -1)
		err = metastore.ListEntries(ctx, src, "/", func(e metastore.Entry) error {
			return add(&scanned{path: e.Path, size: e.Size, ts: e.Timestamp, change: e.Change})
		})
		if err != nil {
			err = fmt.Errorf("list %s: %w", metastore.Describe(src), err)
		}
	} else {
		prog.Start("reading", int64(len(paths)))
		for _, p := range paths {
			if err = add(&scanned{path: p}); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush(true)
	}
	close(next)
	wg.Wait()
	prog.Done()
	if firstErr != nil {
		return nil, st, firstErr
	}
	if err != nil {
		return nil, st, err
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	out := make([]scanned, 0, len(items))
	for _, it := range items {
		if !it.gone {
			out = append(out, *it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	for i := 1; i < len(out); i++ {
		if out[i].path == out[i-1].path {
			return nil, st, fmt.Errorf("source listed %s twice", out[i].path)
		}
	}
	st.unread = unread
	sort.Slice(st.warnings, func(i, j int) bool { return st.warnings[i].Path < st.warnings[j].Path })
	return out, st, nil
}

// scanWalk stores the resources a Walker streams (a database read in one
// pass), hashing and compressing them on several workers.
func (r *Repository) scanWalk(ctx context.Context, w metastore.Walker, write objectWriter, prog Progress) ([]scanned, scanStats, error) {
	var st scanStats
	var items []scanned
	type job struct {
		i    int
		data []byte
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	results := map[int]objects.ID{}
	for n := 0; n < r.opt.Workers; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				id, err := write(objects.KindBlob, j.data, objects.ID{})
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				results[j.i] = id
				mu.Unlock()
				prog.Add(1)
			}
		}()
	}
	prog.Start("reading", -1)
	err := w.Walk(ctx, "/", func(res metastore.Resource, rerr error) error {
		if rerr != nil {
			if errors.Is(rerr, metastore.ErrContentElsewhere) {
				st.warnings = append(st.warnings, elsewhereWarning(res.Path, rerr))
				return nil
			}
			return fmt.Errorf("read %s: %w", res.Path, rerr)
		}
		if err := checkKey(res.Path); err != nil {
			return err
		}
		it := scanned{path: res.Path, size: int64(len(res.Data)), ts: res.Timestamp}
		if res.Path == "/UUID" {
			it.uuid = decodeUUID(res.Data)
		}
		items = append(items, it)
		data := append([]byte(nil), res.Data...)
		select {
		case jobs <- job{len(items) - 1, data}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	prog.Done()
	if firstErr != nil {
		return nil, st, firstErr
	}
	if err != nil {
		return nil, st, err
	}
	for i := range items {
		items[i].id = results[i]
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	for i := 1; i < len(items); i++ {
		if items[i].path == items[i-1].path {
			return nil, st, fmt.Errorf("source listed %s twice", items[i].path)
		}
	}
	return items, st, nil
}

// decodeUUID reads Kylin's /UUID resource: a Java writeUTF string (two-byte
// big-endian length, then the text). Plain text is accepted too.
func decodeUUID(b []byte) string {
	var s string
	if len(b) >= 2 && int(b[0])<<8|int(b[1]) == len(b)-2 {
		s = string(b[2:])
	} else {
		s = strings.TrimSpace(string(b))
	}
	if !utf8.ValidString(s) || len(s) > 128 || strings.ContainsAny(s, "\n\r\x00") {
		return ""
	}
	return s
}

// buildTree writes the trees of a snapshot from resources sorted by path and
// returns the root tree: the resource folders plus the .metastore records.
// prev, if not nil, is the previous snapshot's tree, whose folders serve as
// delta bases for the new versions of the same folders. memo, if not nil,
// remembers the trees of folders whose content did not change since the
// last backup, so they are not encoded and hashed again; it is updated.
// has says whether the repository already holds an object (nil: never
// skip a write); large trees are written by up to workers goroutines.
func buildTree(items []scanned, write objectWriter, prev *prevTree, memo *dirMemo, has func(objects.ID) bool, workers int) (objects.ID, error) {
	b := &treeBuilder{write: write, prev: prev, memo: memo, has: has, sem: make(chan struct{}, workers)}
	root, err := b.root(items)
	if werr := b.wait(); werr != nil && err == nil {
		err = werr
	}
	return root, err
}

func (b *treeBuilder) root(items []scanned) (objects.ID, error) {
	entries, mirror, err := b.dir(items, 1)
	if err != nil {
		return objects.ID{}, err
	}
	tsTree, err := b.tree(recordsDir+"/"+timestampsDir, mirror)
	if err != nil {
		return objects.ID{}, err
	}
	tsEntry := objects.TreeEntry{Name: timestampsDir, Mode: objects.ModeDir, ID: tsTree}
	recID, err := b.tree(recordsDir, []objects.TreeEntry{tsEntry})
	if err != nil {
		return objects.ID{}, err
	}
	entries = append(entries, objects.TreeEntry{Name: recordsDir, Mode: objects.ModeDir, ID: recID})
	objects.SortTree(entries)
	return b.tree("", entries)
}

type treeBuilder struct {
	write     objectWriter
	prev      *prevTree
	memo      *dirMemo
	has       func(objects.ID) bool
	empty     objects.ID
	haveEmpty bool

	// Large trees (a flat folder of tens of thousands of jobs) are
	// compressed and delta-encoded on other cores while the walk goes on.
	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	lateErr error
}

// asyncTreeSize is the size above which a tree is stored in the
// background.
const asyncTreeSize = 64 << 10

// tree writes the tree at path (slash-separated tree names from the root).
func (b *treeBuilder) tree(path string, entries []objects.TreeEntry) (objects.ID, error) {
	data, err := objects.EncodeTree(entries)
	if err != nil {
		return objects.ID{}, err
	}
	id := objects.HashObject(objects.KindTree, data)
	if b.has != nil && b.has(id) {
		return id, nil
	}
	var base objects.ID
	if b.prev != nil {
		base = b.prev.at(path)
	}
	if len(data) < asyncTreeSize || cap(b.sem) < 2 {
		return b.write(objects.KindTree, data, base)
	}
	b.sem <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.sem; b.wg.Done() }()
		if _, err := b.write(objects.KindTree, data, base); err != nil {
			b.mu.Lock()
			if b.lateErr == nil {
				b.lateErr = err
			}
			b.mu.Unlock()
		}
	}()
	return id, nil
}

// wait waits for the trees being stored in the background.
func (b *treeBuilder) wait() error {
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lateErr
}

// dir returns the entries of the folder whose resources are items, all of
// which share the first `off` bytes of their path (the folder's path with
// its slash), and the entries of its timestamps mirror, in which each
// resource is an empty blob named "<name>@<milliseconds>" and each subfolder
// a tree (see FORMAT.md).
func (b *treeBuilder) dir(items []scanned, off int) ([]objects.TreeEntry, []objects.TreeEntry, error) {
	var entries, mirror []objects.TreeEntry
	if n := len(items); n <= 1<<16 {
		// At most one entry per resource: enough for a flat folder of job
		// outputs without regrowing, little to waste for a nested one.
		entries, mirror = make([]objects.TreeEntry, 0, n), make([]objects.TreeEntry, 0, n)
	}
	for i := 0; i < len(items); {
		rest := items[i].path[off:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			if len(entries) > 0 && entries[len(entries)-1].Name == rest {
				return nil, nil, fmt.Errorf("resource %s is also a folder: a snapshot cannot hold both", items[i].path)
			}
			empty, err := b.emptyBlob()
			if err != nil {
				return nil, nil, err
			}
			entries = append(entries, objects.TreeEntry{Name: rest, Mode: objects.ModeFile, ID: items[i].id})
			mirror = append(mirror, objects.TreeEntry{Name: timestampName(rest, items[i].ts), Mode: objects.ModeFile, ID: empty})
			i++
			continue
		}
		name := rest[:slash]
		prefix := items[i].path[:off+slash+1]
		j := i + 1
		for j < len(items) && strings.HasPrefix(items[j].path, prefix) {
			j++
		}
		for _, e := range entries {
			if e.Name == name {
				return nil, nil, fmt.Errorf("resource %s is also a folder: a snapshot cannot hold both", items[i].path[:off+slash])
			}
		}
		id, subTS, err := b.subdir(items[i:j], off+slash+1)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, objects.TreeEntry{Name: name, Mode: objects.ModeDir, ID: id})
		mirror = append(mirror, objects.TreeEntry{Name: escapeDir(name), Mode: objects.ModeDir, ID: subTS})
		i = j
	}
	objects.SortTree(entries)
	objects.SortTree(mirror)
	return entries, mirror, nil
}

// subdir writes the tree and the timestamps mirror of a folder below the
// root (see dir), or takes them from the memo.
func (b *treeBuilder) subdir(items []scanned, off int) (objects.ID, objects.ID, error) {
	path := items[0].path[1 : off-1]
	var fp [20]byte
	if b.memo != nil {
		fp = fingerprint(items, off)
		if m, ok := b.memo.old[path]; ok && m.fp == fp && b.memo.has(m.tree) && b.memo.has(m.mirror) {
			b.memo.keep(path, m)
			return m.tree, m.mirror, nil
		}
	}
	entries, mirror, err := b.dir(items, off)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	id, err := b.tree(path, entries)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	mirrorPath := recordsDir + "/" + timestampsDir
	for _, c := range strings.Split(path, "/") {
		mirrorPath += "/" + escapeDir(c)
	}
	mid, err := b.tree(mirrorPath, mirror)
	if err != nil {
		return objects.ID{}, objects.ID{}, err
	}
	if b.memo != nil {
		b.memo.next[path] = memoEntry{fp: fp, tree: id, mirror: mid}
	}
	return id, mid, nil
}

// fingerprint identifies the content of a folder: the names, objects and
// timestamps of everything below it.
func fingerprint(items []scanned, off int) [20]byte {
	// One buffer, one hash: SHA-1 over many tiny writes is several times
	// slower.
	n := 0
	for _, it := range items {
		n += len(it.path) - off + 29
	}
	buf := make([]byte, 0, n)
	for _, it := range items {
		buf = append(buf, it.path[off:]...)
		buf = append(buf, 0)
		buf = append(buf, it.id[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(it.ts))
	}
	return sha1.Sum(buf)
}

func splitDir(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// prevTree finds the trees of an earlier snapshot by path.
type prevTree struct {
	repo *objects.Repository
	root objects.ID
	dirs map[string]map[string]objects.TreeEntry
}

func newPrevTree(repo *objects.Repository, root objects.ID) *prevTree {
	return &prevTree{repo: repo, root: root, dirs: map[string]map[string]objects.TreeEntry{}}
}

// at returns the id of the tree at path, or the zero ID.
func (p *prevTree) at(path string) objects.ID {
	if path == "" {
		return p.root
	}
	parent, name := splitDir(path)
	pid := p.at(parent)
	if pid.IsZero() {
		return objects.ID{}
	}
	d, ok := p.dirs[parent]
	if !ok {
		entries, err := p.repo.ReadTree(pid)
		if err == nil {
			d = make(map[string]objects.TreeEntry, len(entries))
			for _, e := range entries {
				d[e.Name] = e
			}
		}
		p.dirs[parent] = d
	}
	if e, ok := d[name]; ok && e.IsDir() {
		return e.ID
	}
	return objects.ID{}
}

func (b *treeBuilder) emptyBlob() (objects.ID, error) {
	if !b.haveEmpty {
		id, err := b.write(objects.KindBlob, nil, objects.ID{})
		if err != nil {
			return id, err
		}
		b.empty, b.haveEmpty = id, true
	}
	return b.empty, nil
}
