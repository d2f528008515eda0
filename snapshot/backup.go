package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
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

// packObjectWriter stores objects into a pack (see tree.WriteFunc).
func packObjectWriter(pw *objects.PackWriter) tree.WriteFunc {
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
	if tree.IsReserved(p) {
		return fmt.Errorf("%w: %s collides with the repository's own records under /%s", ErrReservedPath, p, tree.RecordsDir)
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
func (r *Repository) scan(ctx context.Context, src metastore.Source, paths []string, write tree.WriteFunc, cl *cacheLoad, prog Progress) ([]scanned, scanStats, error) {
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
					it.uuid = uuidOf(res.Data)
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
func (r *Repository) scanWalk(ctx context.Context, w metastore.Walker, write tree.WriteFunc, prog Progress) ([]scanned, scanStats, error) {
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
			it.uuid = uuidOf(res.Data)
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

// uuidOf reads Kylin's /UUID resource (scope.DecodeUUID); "" if it holds
// no identity.
func uuidOf(data []byte) string {
	u, _ := scope.DecodeUUID(data)
	return u
}

// treeItems returns what the tree of a snapshot of items records.
func treeItems(items []scanned) []tree.Item {
	out := make([]tree.Item, len(items))
	for i, it := range items {
		out[i] = tree.Item{Key: it.path, ID: it.id, Timestamp: it.ts}
	}
	return out
}
