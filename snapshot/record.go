package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// recordRequest is a snapshot to record: what Backup, Import and the safety
// snapshot of a Restore ask of the recording steps below.
type recordRequest struct {
	scope      scope.Scope
	kind       Kind
	title      string   // the snapshot's title; a default names the scope
	source     string   // the metastore, as Metastore-Source records it
	all        bool     // list the whole source; else read members
	members    []string // the resources of a scope
	segments   bool     // a cube scope with its segments (Metastore-With-Segments)
	tags       []string // names for the new snapshot
	skip       bool     // record nothing if the latest snapshot of the scope holds the same
	restoreOf  ID       // a safety snapshot's restored snapshot
	added      []string // a cube restore's safety snapshot: what the restore adds
	importPath string   // an import's folder
	uuid       string   // decoded content of the /UUID scanned
	progress   Progress
}

// recordSource records src (open, see openSource) as the snapshot req
// describes, under the repository lock: it scans the source into a new
// pack, with the change cache, builds the trees and the commit, and
// publishes them.
func (r *Repository) recordSource(ctx context.Context, src metastore.Source, req recordRequest) (*BackupResult, error) {
	req.progress = progressOrNone(req.progress)
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	caches := r.openCaches(req.source, req.all, req.kind == KindBackup && req.all)
	defer caches.close()
	for i, t := range req.tags {
		if err := r.checkNewTag(t, req.tags[:i]); err != nil {
			return nil, err
		}
	}
	pw, err := r.newPack()
	if err != nil {
		return nil, err
	}
	defer pw.Abort()
	b, rec, err := r.startRecord(pw, req, caches.treeMemo(r))
	if err != nil {
		return nil, err
	}
	// The trees and the change cache of the folders the scan passes are
	// written during it (scanStream), the others' after it.
	stream := &scanStream{b: b, path: caches.path}
	defer stream.discard()
	items, st, err := r.scanStreaming(ctx, src, req.members, req.all, packObjectWriter(pw), packZlibWriter(pw), caches.load, req.progress, stream)
	if err != nil {
		b.Abort()
		return nil, err
	}
	sum := sumOf(items)
	sum.resources += stream.resources
	sum.bytes += stream.bytes
	if sum.resources == 0 {
		return nil, fmt.Errorf("%w: %s has no resources in %s", ErrEmptySource, req.source, req.scope)
	}
	req.uuid = st.uuid
	res := &BackupResult{Repository: r.Path(), Resources: sum.resources, Unread: st.unread, Bytes: sum.bytes}
	res.Warnings = append(st.warnings, storeNotices(src)...)
	// The next change cache is written from the records before the trees,
	// which release them as they pass (see finishRecord).
	switch {
	case stream.started() && caches.load.same:
		// A walk of resources without fingerprints, all the cache holds
		// (none): its entries would be the trusted cache's.
		stream.discard()
	case stream.started():
		if f, err := stream.finish(items); err == nil {
			caches.cache = &f
		}
	default:
		caches.stage(items)
	}
	rec, err = r.finishRecord(pw, b, rec, items, req, sum, true)
	if err != nil {
		return nil, err
	}
	if req.kind == KindImport {
		if prev, ok := r.findImport(rec.tree, req.importPath); ok {
			res.Snapshot = prev
			return res, nil
		}
	}
	if req.skip && rec.unchanged {
		return res, r.keepLatest(res, rec, req.tags, caches)
	}
	return res, r.publishRecord(pw, rec, req.tags, caches, res)
}

// keepLatest ends a backup that found nothing new: the tags name the
// snapshot that already holds this content.
func (r *Repository) keepLatest(res *BackupResult, rec recorded, tags []string, caches *fileCaches) error {
	for _, tag := range tags {
		if err := r.objs.UpdateRef(refTags+tag, rec.parent, objects.ZeroID); err != nil {
			return fmt.Errorf("tag %q: %w", tag, err)
		}
	}
	info, err := r.info(rec.parent, nil)
	if err != nil {
		return err
	}
	res.Snapshot = info
	caches.save(rec.parent)
	return nil
}

// publishRecord publishes a recorded snapshot and, once it is, the caches
// that describe it (written meanwhile under temporary names).
func (r *Repository) publishRecord(pw *objects.PackWriter, rec recorded, tags []string, caches *fileCaches, res *BackupResult) error {
	prepared := make(chan []staged, 1)
	go func() { prepared <- caches.prepare(rec.commit) }()
	ps, err := r.publish(pw, rec, tags)
	files := <-prepared
	if err != nil {
		for _, f := range files {
			f.discard()
		}
		return err
	}
	res.NewObjects, res.NewBytes, res.PackBytes = ps.Objects, ps.Bytes, ps.PackBytes
	for _, f := range files {
		_ = f.commit()
	}
	info, err := r.info(rec.commit, nil)
	if err != nil {
		// The snapshot is recorded: a reference elsewhere that does not
		// parse (Verify reports it) must not make it look failed. Its tags
		// are the ones just given.
		info, err = r.info(rec.commit, map[objects.ID][]string{rec.commit: slices.Sorted(slices.Values(tags))})
		if err != nil {
			return err
		}
	}
	res.Snapshot, res.Recorded = info, true
	return nil
}

// recorded is a snapshot written into a pack but not yet published.
type recorded struct {
	ref        string
	parent     objects.ID
	commit     objects.ID
	tree       objects.ID
	parentTree objects.ID
	unchanged  bool // the tree equals the parent's
}

// record writes the trees and the commit of a snapshot of items; memo, if
// not nil, remembers the trees of unchanged folders (see tree.Memo). If
// release, the items are released folder by folder as their trees are
// written (see scanList.release), and gone when it returns.
func (r *Repository) record(pw *objects.PackWriter, items scanList, req recordRequest, memo *dirMemo, release bool) (recorded, error) {
	b, rec, err := r.startRecord(pw, req, memo)
	if err != nil {
		return rec, err
	}
	return r.finishRecord(pw, b, rec, items, req, sumOf(items), release)
}

// startRecord finds the latest snapshot of req's scope and returns the
// builder of the new one's trees: the previous snapshot's folders are the
// delta bases of the new versions, memo (if not nil) remembers the trees of
// unchanged folders.
func (r *Repository) startRecord(pw *objects.PackWriter, req recordRequest, memo *dirMemo) (*tree.Builder, recorded, error) {
	rec := recorded{ref: chainRef(req.scope, req.kind)}
	var err error
	rec.parent, err = r.objs.Ref(rec.ref)
	if err != nil && !errors.Is(err, objects.ErrNotFound) {
		return nil, rec, err
	}
	b := &tree.Builder{Write: packObjectWriter(pw), Has: r.objs.Has, Workers: r.opt.Workers}
	if !rec.parent.IsZero() {
		pc, err := r.objs.ReadCommit(rec.parent)
		if err != nil {
			return nil, rec, fmt.Errorf("%w: latest snapshot of %s: %v", ErrCorrupt, req.scope, err)
		}
		rec.parentTree = pc.Tree
		b.Prev = r.trees.Open(pc.Tree, "snapshot "+ID(rec.parent).Short())
	}
	if memo != nil {
		b.Memo = memo
	}
	return b, rec, nil
}

// finishRecord adds items to the trees b writes (those a scan's stream did
// not write, see scanStream), then writes the root tree and the commit of a
// snapshot of the resources sum counts. If release, see record.
func (r *Repository) finishRecord(pw *objects.PackWriter, b *tree.Builder, rec recorded, items scanList, req recordRequest, sum itemsSum, release bool) (recorded, error) {
	if release {
		freed := 0
		b.Passed = func(hi int) {
			items.release(freed, hi)
			freed = hi
		}
		defer func() { items.release(freed, items.Len()) }()
	}
	b.Add(items) // an error is Finish's
	var err error
	if rec.tree, err = b.Finish(); err != nil {
		return rec, err
	}
	rec.unchanged = !rec.parent.IsZero() && rec.parentTree == rec.tree
	rec.commit, err = pw.WriteCommit(r.commitOf(rec, sum, req))
	return rec, err
}

// itemsSum is the number of resources of a snapshot and their total size.
type itemsSum struct {
	resources int
	bytes     int64
}

func sumOf(items scanList) itemsSum {
	s := itemsSum{resources: items.Len()}
	for it := range items.all() {
		s.bytes += it.size
	}
	return s
}

// commitOf is the commit of a snapshot of the resources sum counts, whose
// tree rec has.
func (r *Repository) commitOf(rec recorded, sum itemsSum, req recordRequest) objects.Commit {
	// A snapshot is taken and recorded at one instant (an imported folder
	// too: the time in its name has no zone, so it is no instant at all; see
	// Info.FolderTime).
	now := r.opt.Now()
	t := trailerInfo{
		Scope: req.scope, Kind: req.kind, Source: req.source, UUID: req.uuid,
		Resources: sum.resources, Bytes: sum.bytes, Segments: req.segments,
		ImportPath: req.importPath, TakenAt: now, RecordedAt: now, Added: req.added,
	}
	if !req.restoreOf.IsZero() {
		t.RestoreOf = req.restoreOf.String()
	}
	who := objects.Signature{Name: r.opt.User, Email: r.opt.User + "@" + r.opt.Host, When: now}
	c := objects.Commit{Tree: rec.tree, Author: who, Committer: who, Message: encodeMessage(req.title, t)}
	if !rec.parent.IsZero() {
		c.Parents = []objects.ID{rec.parent}
	}
	return c
}

// newPack starts the pack of a write. It absorbs the repository's small
// packs, so that the new versions of trees and blobs and their previous
// versions share a pack, where git resolves deltas (FORMAT.md, "Packs");
// publish removes them.
func (r *Repository) newPack() (*objects.PackWriter, error) {
	pw, err := r.objs.NewPackWriter(r.opt.Compression)
	if err != nil {
		return nil, err
	}
	if m, err := r.objs.PlanMerge(); err == nil {
		pw.Absorb(m)
	}
	return pw, nil
}

// publish commits the pack, then moves the scope's reference and adds the
// tags: objects first, references last. The packs the new one absorbed are
// removed once it is referenced.
func (r *Repository) publish(pw *objects.PackWriter, rec recorded, tags []string) (objects.PackStats, error) {
	ps, err := pw.Commit()
	if err != nil {
		return ps, err
	}
	if err := r.objs.UpdateRef(rec.ref, rec.commit, rec.parent); err != nil {
		return ps, err
	}
	r.objs.RemovePacks(ps.Merged)
	for _, tag := range tags {
		if err := r.objs.UpdateRef(refTags+tag, rec.commit, objects.ZeroID); err != nil {
			return ps, fmt.Errorf("snapshot %s recorded, but tag %q failed: %w", ID(rec.commit).Short(), tag, err)
		}
	}
	return ps, nil
}
