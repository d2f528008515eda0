package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
	"golang.org/x/sync/errgroup"
)

// scanned is one resource of a scan: where its content is and when it was
// written. A scan holds one per resource until the snapshot is recorded
// (72 bytes, beside its path): what is needed only while it is read
// travels with the read (see toRead), not in here.
type scanned struct {
	path   string
	fp     fingerprint // the backend's change fingerprint; zero: none
	size   int64
	ts     int64
	id     objects.ID // after the 8-byte fields: 72 bytes, not 80
	gone   bool       // deleted (or kept elsewhere) when it was to be read
	cached bool       // taken from the change cache, whose entry it equals
}

// entry is the change cache's entry for it.
func (it *scanned) entry() cacheEntry {
	return cacheEntry{fp: it.fp, size: it.size, ts: it.ts, id: it.id}
}

// toRead is a resource for the workers to read and store.
type toRead struct {
	it  *scanned
	old cacheEntry // the change cache's entry for it: its blob is a delta base
	had bool       // the cache had an entry
}

type scanStats struct {
	unread   int
	uuid     string // decoded content of /UUID
	warnings []scope.Warning
}

// elsewhereWarning is the backup's report of a resource Kylin keeps outside
// the metastore.
func elsewhereWarning(p string, err error) scope.Warning {
	return scope.Warning{Path: p, Message: fmt.Sprintf("not backed up: %v (Kylin pushed it out of the database, see kylin.metadata.jdbc.max-cell-size; give --hdfs-root to read it)", err)}
}

// packObjectWriter stores objects into a pack (see tree.WriteFunc).
func packObjectWriter(pw *objects.PackWriter) tree.WriteFunc {
	return func(k objects.Kind, data []byte, base objects.ID) (objects.ID, error) {
		id, _, err := pw.WriteDelta(k, data, base)
		return id, err
	}
}

// zlibWriter stores a blob from its content and the zlib stream its source
// keeps (metastore.Resource.Zlib), not compressing it again.
type zlibWriter func(data, z []byte) (objects.ID, error)

// packZlibWriter stores blobs into a pack as their source compressed them
// (see objects.PackWriter.WriteZlib).
func packZlibWriter(pw *objects.PackWriter) zlibWriter {
	return func(data, z []byte) (objects.ID, error) {
		id, _, err := pw.WriteZlib(objects.KindBlob, data, z)
		return id, err
	}
}

// hashOnly names objects without storing them (a dry run).
func hashOnly(k objects.Kind, data []byte, _ objects.ID) (objects.ID, error) {
	return objects.HashObject(k, data), nil
}

// checkKey refuses keys that cannot be stored in a snapshot tree.
func checkKey(p string) error {
	if err := metastore.CheckPath(p); err != nil {
		return err
	}
	if tree.IsReserved(p) {
		return fmt.Errorf("%w: %s collides with the repository's own records under /%s", ErrReservedPath, p, tree.RecordsDir)
	}
	return nil
}

// uuidOf reads Kylin's /UUID resource (scope.DecodeUUID); "" if it holds
// no identity.
func uuidOf(data []byte) string {
	u, _ := scope.DecodeUUID(data)
	return u
}

// scan lists the resources of src (all of them, or the members given) and
// stores or hashes their content with write, using the change cache where
// it can (see scanner). A Walker listing the whole source streams them in
// one pass instead (see walkScan).
func (r *Repository) scan(ctx context.Context, src metastore.Source, members []string, all bool, write tree.WriteFunc, cache *cacheLoad, prog Progress) (scanList, scanStats, error) {
	return r.scanStreaming(ctx, src, members, all, write, nil, cache, prog, nil)
}

// scanStreaming is scan with, for a whole source (listed or walked), a
// stream that writes the trees and the change cache of the folders the
// listing or walk passes (see scanStream): the list returned then holds
// only the resources it did not write. A walk stores the resources its source keeps compressed
// with writeZ, if not nil.
func (r *Repository) scanStreaming(ctx context.Context, src metastore.Source, members []string, all bool, write tree.WriteFunc, writeZ zlibWriter, cache *cacheLoad, prog Progress, stream *scanStream) (scanList, scanStats, error) {
	if w, ok := src.(metastore.Walker); ok && all {
		return r.walkScan(ctx, src, w, write, writeZ, cache, prog, stream)
	}
	s := &scanner{src: src, write: write, load: cache, prog: prog, has: r.objs.Has, drained: make(chan struct{}, 1)}
	if all {
		s.stream = stream
	}
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan toRead, 1024)
	for range r.opt.Workers {
		g.Go(func() error {
			for it := range next {
				if err := s.readChecked(gctx, it); err != nil {
					return err
				}
				if s.inflight.Add(-1) == 0 {
					select {
					case s.drained <- struct{}{}:
					default:
					}
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		return s.list(gctx, members, all, next)
	})
	err := g.Wait()
	prog.Done()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return scanList{}, scanStats{}, err
	}
	items, err := s.result()
	// The cache file holds exactly the entries of the resources scanned:
	// an unchanged backup need not write it again.
	// A cache that names no snapshot the repository has is written again
	// though: the new one is trusted.
	cache.same = err == nil && s.all && cache.trusted && !s.differs.Load() && s.found == cache.count && items.Len() == cache.count && (s.stream == nil || !s.stream.started())
	return items, scanStats{unread: s.unread, uuid: s.uuid, warnings: sortWarnings(s.warnings)}, err
}

// scanner is the state of one scan. The listing runs on one goroutine: it
// settles the resources the change cache vouches for as they are listed,
// and sends the others to the workers, which read and store them while the
// listing goes on. The cache may still be loading: resources listed before
// it is ready wait in a queue, so the listing starts at once. A cache saved
// with a snapshot the repository still has is trusted: the blobs it names
// exist and need not be looked up one by one.
type scanner struct {
	src   metastore.Source
	write tree.WriteFunc
	load  *cacheLoad
	prog  Progress
	has   func(objects.ID) bool

	// Owned by the listing.
	all     bool        // the whole source is listed
	walked  bool        // by walkScan: differs is set by the walk alone
	slabs   [][]scanned // the resources listed, in order, slabSize at a time
	waiting []*scanned  // listed before the cache was ready
	ready   bool        // the cache is
	hint    int         // where in a scoped scan's entries the next path is likely
	trusted bool
	unread  int
	found   int         // resources the cache had an entry for
	differs atomic.Bool // a resource's entry is not the cache's (set by a listing's workers too)

	uuid string // decoded content of /UUID, set by the worker that read it

	mu       sync.Mutex // guards warnings
	warnings []scope.Warning

	// A whole scan's stream of trees (nil: none), and what it waits on:
	// the resources sent to the workers and not yet read, and a signal
	// when that drops to none.
	stream   *scanStream
	inflight atomic.Int64
	drained  chan struct{}
}

// list lists the resources to scan (all of them, or the members), and
// settles each.
func (s *scanner) list(ctx context.Context, members []string, all bool, next chan<- toRead) error {
	s.all = all
	if all {
		s.prog.Start("scanning", -1)
		err := metastore.ListEntries(ctx, s.src, "/", func(e metastore.Entry) error {
			if err := s.pass(ctx, e.Path); err != nil {
				return err
			}
			return s.add(ctx, scanned{path: e.Path, size: e.Size, ts: e.Timestamp, fp: fingerprintOf(e.Change)}, next)
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", metastore.Describe(s.src), err)
		}
	} else {
		s.prog.Start("reading", int64(len(members)))
		s.load.startFor(members) // no-op if the whole cache is being read
		s.reserve(len(members))
		for _, p := range members {
			if err := s.add(ctx, scanned{path: p}, next); err != nil {
				return err
			}
		}
	}
	return s.flush(ctx, true, next)
}

func (s *scanner) add(ctx context.Context, item scanned, next chan<- toRead) error {
	if err := checkKey(item.path); err != nil {
		return err
	}
	it := s.newItem(item)
	if !s.ready {
		s.waiting = append(s.waiting, it)
		return s.flush(ctx, false, next)
	}
	return s.settle(ctx, it, next)
}

// slabSize is how many resources of a scan are allocated together: one
// allocation per resource cost a pointer and an object header each, and
// result can free a slab as soon as it is copied.
const slabSize = 4096

// newItem stores it in the current slab and returns where: workers update
// it there (a slab never moves).
func (s *scanner) newItem(it scanned) *scanned {
	if n := len(s.slabs); n == 0 || len(s.slabs[n-1]) == cap(s.slabs[n-1]) {
		s.slabs = append(s.slabs, make([]scanned, 0, slabSize))
	}
	b := &s.slabs[len(s.slabs)-1]
	*b = append(*b, it)
	return &(*b)[len(*b)-1]
}

// reserve makes room for a scoped scan's n members in one slab, which
// result returns as it is (its users take it as one slice: see
// cacheMerge). It moves the resources listed so far, which must all be
// waiting for the cache (none has gone to the workers).
func (s *scanner) reserve(n int) {
	listed := 0
	for _, b := range s.slabs {
		listed += len(b)
	}
	one := make([]scanned, 0, max(n, listed))
	for _, b := range s.slabs {
		one = append(one, b...)
	}
	for i := range s.waiting {
		s.waiting[i] = &one[i]
	}
	s.slabs = [][]scanned{one}
}

// flush settles the queued resources once the cache is ready; block says
// whether to wait for it.
func (s *scanner) flush(ctx context.Context, block bool, next chan<- toRead) error {
	if !s.ready {
		if !block && !s.load.ready() {
			return nil
		}
		s.load.wait()
		// A whole scan keeps its slabs of slabSize (see newItem), not one
		// reserved from the cache's size: the snapshot's record frees
		// them one by one as its trees are written (scanList.release).
		s.ready, s.trusted = true, s.load.trusted
	}
	for i, it := range s.waiting {
		if err := s.settle(ctx, it, next); err != nil {
			return err
		}
		s.waiting[i] = nil
	}
	s.waiting = s.waiting[:0]
	return nil
}

// settle takes a resource the cache vouches for (same fingerprint, blob in
// the repository) from the cache, and sends the others to be read.
func (s *scanner) settle(ctx context.Context, it *scanned, next chan<- toRead) error {
	c, ok := s.lookup(it.path)
	if ok {
		s.found++
	}
	if ok && it.fp.known() && it.path != "/UUID" && c.fp == it.fp && c.size == it.size && (s.trusted || s.has(c.id)) {
		it.id = c.id
		it.cached = c.ts == it.ts
		if !it.cached {
			s.differs.Store(true)
		}
		s.unread++
		s.prog.Add(1)
		return nil
	}
	s.inflight.Add(1)
	select {
	case next <- toRead{it: it, old: c, had: ok}:
		return nil
	case <-ctx.Done():
		s.inflight.Add(-1)
		return ctx.Err()
	}
}

// lookup returns the change cache's entry of path p: from the stream of a
// whole scan, or the entries a scoped scan kept.
func (s *scanner) lookup(p string) (cacheEntry, bool) {
	if s.load.entries == nil {
		return s.load.cursor.seek(p)
	}
	c, after, ok := s.load.entries.find(p, s.hint)
	s.hint = after
	return c, ok
}

// readChecked reads and stores a resource sent to the workers, and notes
// whether its entry differs from the cache's.
func (s *scanner) readChecked(ctx context.Context, t toRead) error {
	if err := s.read(ctx, t.it, t.old.id); err != nil {
		return err
	}
	if !t.had || t.it.gone || t.it.entry() != t.old {
		s.differs.Store(true)
	}
	return nil
}

// read reads and stores one resource.
func (s *scanner) read(ctx context.Context, it *scanned, base objects.ID) error {
	defer s.prog.Add(1)
	res, err := s.src.Read(ctx, it.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		it.gone = true // deleted while we were backing up
		return nil
	case errors.Is(err, metastore.ErrContentElsewhere):
		it.gone = true
		s.mu.Lock()
		s.warnings = append(s.warnings, elsewhereWarning(it.path, err))
		s.mu.Unlock()
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", it.path, err)
	}
	id, err := s.write(objects.KindBlob, res.Data, base)
	if err != nil {
		return fmt.Errorf("store %s: %w", it.path, err)
	}
	if it.path == "/UUID" {
		s.uuid = uuidOf(res.Data)
	}
	if res.Timestamp != it.ts || int64(len(res.Data)) != it.size {
		// Changed between listing and reading: the listed fingerprint no
		// longer vouches for this content.
		it.fp = fingerprint{}
	}
	it.id, it.size, it.ts = id, int64(len(res.Data)), res.Timestamp
	return nil
}

// result returns the resources scanned (those still there), in path order:
// the slabs, each compacted in place, as they are if the listing was in
// path order (as sources list), else copied into one slice and sorted.
func (s *scanner) result() (scanList, error) {
	for k, b := range s.slabs {
		out := b[:0]
		for i := range b {
			if !b[i].gone {
				out = append(out, b[i])
			}
		}
		clear(b[len(out):]) // no path kept alive past the end
		s.slabs[k] = out
	}
	l := listOfSlabs(s.slabs)
	s.slabs = nil
	if l.sorted() {
		return l, nil
	}
	one := l.flat()
	return listOf(one), sortScanned(one)
}

// sortScanned sorts resources by path and refuses a path listed twice.
func sortScanned(items []scanned) error {
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	for i := 1; i < len(items); i++ {
		if items[i].path == items[i-1].path {
			return fmt.Errorf("source listed %s twice", items[i].path)
		}
	}
	return nil
}

func sortWarnings(ws []scope.Warning) []scope.Warning {
	sort.Slice(ws, func(i, j int) bool { return ws[i].Path < ws[j].Path })
	return ws
}

// walkScan stores the resources a Walker streams (a database read in one
// pass), hashing and compressing them on several workers. The walk's
// goroutine only copies each resource's content (valid only during the
// walk's call) into a reused buffer, or keeps it as it is when the walk
// hands it on (Owned), and hands it on, with the zlib stream
// the source keeps it as, if any, for writeZ (not nil) to store as it is:
// inflating Kylin 5's content and deflating it again was half of the CPU
// of a backup of a Kylin 5 database. A ChangeWalker does not even decode
// the resources whose Change the change cache (if not nil) names with a
// blob the repository has (see walkCache). With a stream (and a cache,
// even an empty one), once a resource differs from the cache (at once
// without one), the trees of each folder of the root are written as the
// walk leaves it, as a listing's are (scanStream): a walk of a million rows
// held every record until its end (275 MB), and its list grew by doubling.
func (r *Repository) walkScan(ctx context.Context, src metastore.Source, w metastore.Walker, write tree.WriteFunc, writeZ zlibWriter, cache *cacheLoad, prog Progress, stream *scanStream) (scanList, scanStats, error) {
	var st scanStats
	wc := r.walkCache(w, cache)
	defer wc.close()
	// The scanner keeps the records in slabs and, with a stream, writes the
	// trees of each folder of the root the walk leaves (see scanStream),
	// once the cache is open (s.ready).
	s := &scanner{src: src, load: cache, prog: prog, has: r.objs.Has, all: true, walked: true, drained: make(chan struct{}, 1)}
	if cache != nil {
		s.stream = stream
	}
	var bufs walkBuffers
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan walkJob, 64)
	for range r.opt.Workers {
		g.Go(func() error { return s.storeWalked(jobs, &bufs, write, writeZ) })
	}
	prog.Start("reading", -1)
	g.Go(func() error {
		defer close(jobs)
		return wc.walk(gctx, func(res metastore.Resource, rerr error) error {
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
			if !s.ready && cache != nil && cache.ready() {
				s.ready = true
			}
			if err := s.pass(gctx, res.Path); err != nil {
				return err
			}
			if res.Unread {
				it, id, err := wc.unread(res)
				if err != nil {
					return err
				}
				it.id = id
				s.newItem(it)
				if wc.differs {
					s.differs.Store(true)
				}
				st.unread++
				prog.Add(1)
				return nil
			}
			it := s.newItem(scanned{path: res.Path, fp: fingerprintOf(res.Change), size: int64(len(res.Data)), ts: res.Timestamp})
			if wc.read(*it); wc.differs {
				s.differs.Store(true)
			}
			if res.Path == "/UUID" {
				st.uuid = uuidOf(res.Data)
			}
			j := walkJob{it: it, owned: res.Owned, data: bufs.take(res.Data, res.Owned)}
			if res.Zlib != nil && writeZ != nil {
				j.z = bufs.take(res.Zlib, res.Owned)
			}
			s.inflight.Add(1)
			select {
			case jobs <- j:
				return nil
			case <-gctx.Done():
				s.inflight.Add(-1)
				return gctx.Err()
			}
		})
	})
	err := g.Wait()
	prog.Done()
	if err != nil {
		return scanList{}, st, err
	}
	wc.finish()
	items, err := s.result()
	return items, st, err
}

// walkJob is a walked resource for a worker to store: its content, and
// the zlib stream its source keeps it as (z, or nil); copies in the walk's
// buffers unless the walker handed them on (owned).
type walkJob struct {
	it      *scanned
	data, z *[]byte
	owned   bool
}

// storeWalked stores the walked resources of jobs, with writeZ those that
// come with their zlib stream, and sets their records' ids.
func (s *scanner) storeWalked(jobs <-chan walkJob, bufs *walkBuffers, write tree.WriteFunc, writeZ zlibWriter) error {
	for j := range jobs {
		var id objects.ID
		var err error
		if j.z != nil {
			id, err = writeZ(*j.data, *j.z)
		} else {
			id, err = write(objects.KindBlob, *j.data, objects.ID{})
		}
		if !j.owned {
			bufs.put(j.z)
			bufs.put(j.data)
		}
		if err != nil {
			return err
		}
		j.it.id = id
		s.prog.Add(1)
		if s.inflight.Add(-1) == 0 {
			select {
			case s.drained <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// walkCache is the change cache of a walk (see walkScan): a ChangeWalker
// asks known, on the goroutine reading its source, whether it may leave a
// resource's content unread; known hands the cache's entry of each
// resource it vouches for to the walk's callback through a queue, in
// order, and the callback takes the blob of an unread resource from it.
// The callback also looks up the entry of each resource read, to note
// whether the walk found exactly the cache's entries. Each of known and the
// callback reads the cache file with a cursor of its own, in path order: a
// walk out of byte order only misses entries (reads more, writes the cache
// again), and never takes a blob from another resource's entry (the
// backup fails, though, once its stream wrote a folder the walk returns
// to: see scanner.pass).
type walkCache struct {
	w     metastore.Walker
	cache *cacheLoad // nil: none
	has   func(objects.ID) bool

	// Owned by known (the walk's reading goroutine).
	known   *cacheCursor
	started bool

	mu     sync.Mutex
	queue  []vouched // known's entries, not yet taken by the callback
	queued int       // of queue, those taken

	// Owned by the callback.
	found   int  // resources with a fingerprint the cache has an entry for
	listed  int  // resources with a fingerprint
	differs bool // an entry is not the cache's
}

// vouched is an entry known vouched for.
type vouched struct {
	path string
	e    cacheEntry
}

// walkCache prepares the change cache of a walk of w (opened once the walk
// first needs it).
func (r *Repository) walkCache(w metastore.Walker, cache *cacheLoad) *walkCache {
	return &walkCache{w: w, cache: cache, has: r.objs.Has}
}

// walk walks the whole source, leaving unread what the cache knows.
func (wc *walkCache) walk(ctx context.Context, fn func(metastore.Resource, error) error) error {
	if cw, ok := wc.w.(metastore.ChangeWalker); ok {
		// Without a cache too: the Changes are for the next one.
		return cw.WalkChanges(ctx, "/", wc.isKnown, fn)
	}
	return wc.w.Walk(ctx, "/", fn)
}

// isKnown reports whether the cache names the content of path, whose
// Change is change, with a blob the repository has, and queues its entry
// for the callback. /UUID is always read: the backup decodes it.
func (wc *walkCache) isKnown(p, change string) bool {
	if !wc.started {
		wc.started = true
		wc.known = wc.cache.cursorCopy()
	}
	if wc.known == nil || p == "/UUID" {
		return false
	}
	c, ok := wc.known.seek(p)
	if !ok || !c.fp.known() || c.fp != fingerprintOf(change) || !(wc.cache.trusted || wc.has(c.id)) {
		return false
	}
	wc.mu.Lock()
	wc.queue = append(wc.queue, vouched{path: p, e: c})
	wc.mu.Unlock()
	return true
}

// lookup returns the cache's entry of path p (the callback's cursor).
func (wc *walkCache) lookup(p string) (cacheEntry, bool) {
	if wc.cache == nil {
		return cacheEntry{}, false
	}
	wc.cache.wait()
	c, ok := wc.cache.cursor.seek(p)
	if ok {
		wc.found++
	}
	return c, ok
}

// unread returns the record and blob of a resource the walk left unread:
// the entry known vouched for, next in the queue.
func (wc *walkCache) unread(res metastore.Resource) (scanned, objects.ID, error) {
	wc.mu.Lock()
	var v vouched
	ok := wc.queued < len(wc.queue)
	if ok {
		v = wc.queue[wc.queued]
		wc.queued++
		if wc.queued == len(wc.queue) {
			wc.queue, wc.queued = wc.queue[:0], 0
		}
	}
	wc.mu.Unlock()
	fp := fingerprintOf(res.Change)
	if !ok || v.path != res.Path || v.e.fp != fp {
		return scanned{}, objects.ID{}, fmt.Errorf("read %s: the source left it unread without the backup's say (a fault of the source's walk)", res.Path)
	}
	wc.listed++
	if c, had := wc.lookup(res.Path); !had || c != v.e {
		wc.differs = true
	}
	it := scanned{path: res.Path, fp: fp, size: v.e.size, ts: res.Timestamp, cached: v.e.ts == res.Timestamp}
	if !it.cached {
		wc.differs = true
	}
	return it, v.e.id, nil
}

// read notes a resource the walk read. One without a fingerprint has no
// entry in the cache, nor will it in the next.
func (wc *walkCache) read(it scanned) {
	if !it.fp.known() {
		return
	}
	wc.listed++
	c, ok := wc.lookup(it.path)
	if !ok || c.fp != it.fp || c.size != it.size || c.ts != it.ts {
		wc.differs = true
	}
}

// finish records, once the walk is over, whether it found exactly the
// entries of a trusted cache: then the cache need not be written again
// (nor the one a stream started: see recordSource).
func (wc *walkCache) finish() {
	if wc.cache != nil {
		wc.cache.same = wc.cache.trusted && !wc.differs && wc.found == wc.cache.count && wc.listed == wc.cache.count
	}
}

// close closes known's cursor.
func (wc *walkCache) close() {
	if wc.known != nil {
		wc.known.close()
	}
}

// walkBuffers reuses the buffers a walk copies content into: one new
// buffer per resource was 700 MB allocated and cleared for a 100,000-
// resource database. Buffers over maxWalkBuffer are left to the collector.
type walkBuffers struct{ pool sync.Pool }

const maxWalkBuffer = 1 << 20

// take returns data itself if the walker handed it on (owned: copying a
// Kylin 5 database's inflated content again was a gigabyte of copies at
// 100,000 rows, on the walk's goroutine), else a copy.
func (w *walkBuffers) take(data []byte, owned bool) *[]byte {
	if owned {
		return &data
	}
	return w.copy(data)
}

// copy returns a buffer holding a copy of data.
func (w *walkBuffers) copy(data []byte) *[]byte {
	b, _ := w.pool.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	*b = append((*b)[:0], data...)
	return b
}

func (w *walkBuffers) put(b *[]byte) {
	if b != nil && cap(*b) <= maxWalkBuffer {
		w.pool.Put(b)
	}
}
