package snapshot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// Info describes a snapshot, as log and show print it.
type Info struct {
	// ID names the snapshot (its commit).
	ID ID
	// Parent is the previous snapshot of the same scope and kind, if any.
	Parent ID
	// Time is when the snapshot was taken; for an imported Kylin backup
	// folder, when it was recorded (see FolderTime).
	Time time.Time
	// Recorded is when the snapshot was written into the repository. Log
	// and "latest" order snapshots by it (see Log).
	Recorded time.Time
	// FolderTime is, for an imported Kylin backup folder named
	// meta_YYYY_MM_DD_HH_MM_SS, the time in its name as written
	// ("2006-01-02T15:04:05"): the wall clock of the Kylin host, whose time
	// zone is unknown. It is shown, never compared with recorded times.
	FolderTime string
	// Scope is what the snapshot holds.
	Scope scope.Scope
	// Kind says why it was taken.
	Kind Kind
	// Author is who took it, as user@host.
	Author string
	// Message is the title the user gave, or a default.
	Message string
	// Resources and Bytes count the resources and their total size.
	Resources int
	Bytes     int64
	// Source is where the metadata came from, password masked.
	Source string
	// UUID is the metastore's /UUID at the time.
	UUID string
	// WithSegments is true for cube snapshots that include the segments'
	// dictionaries, snapshots and statistics.
	WithSegments bool
	// RestoreOf is, for a safety snapshot, the snapshot whose restore it
	// protects against.
	RestoreOf string
	// ImportPath is, for an imported Kylin backup folder, its path.
	ImportPath string
	// RestoreAdded is, for the safety snapshot of a cube restore, the
	// resources that restore added (restoring the safety snapshot with
	// AfterTruncate removes them).
	RestoreAdded []string
	// Tags are the names that point at this snapshot.
	Tags []string

	tree objects.ID
}

// Backup records the resources of src that opt.Scope holds as a new snapshot.
// Nothing is visible in the repository until the snapshot is complete: the
// objects are written first, the reference last, under the repository lock.
// A folder metastore that is, contains or lies inside the repository is
// refused with ErrInsideRepository (see CheckSeparate).
func (r *Repository) Backup(ctx context.Context, src metastore.Source, opt BackupOptions) (*BackupResult, error) {
	if err := r.checkSeparate(src); err != nil {
		return nil, err
	}
	if opt.kind == "" {
		opt.kind = KindBackup
	}
	prog := opt.Progress
	if prog == nil {
		prog = noProgress{}
	}
	if opt.Source == "" {
		opt.Source = metastore.Describe(src)
	}
	for _, t := range opt.Tags {
		if err := checkTagName(t); err != nil {
			return nil, err
		}
	}
	res := &BackupResult{Repository: r.Path()}

	// One consistent view of the source for the whole backup, when it can
	// give one (a database transaction).
	if v, ok := src.(metastore.Viewer); ok {
		view, err := v.View(ctx)
		if err != nil {
			return nil, fmt.Errorf("open a consistent view of %s: %w", opt.Source, err)
		}
		defer view.Close()
		src = view
	}

	// Which resources: all of them, an explicit list, or what the scope
	// rules say.
	paths := opt.paths
	if paths == nil && opt.Scope.Kind != scope.System {
		sr, err := scope.Resolve(ctx, src, opt.Scope, scope.Options{WithSegments: opt.WithSegments})
		if err != nil {
			return nil, err
		}
		paths = sr.Paths
		res.Warnings = sr.Warnings
	}

	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The change cache is read while the pack is set up and the source is
	// listed.
	cachePath := r.cachePath(opt.Source)
	cl := r.loadCacheAsync(cachePath)
	defer cl.wait()

	for i, t := range opt.Tags {
		if err := r.checkNewTag(t, opt.Tags[:i]); err != nil {
			return nil, err
		}
	}

	pw, err := r.newPack()
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			pw.Abort()
		}
	}()

	if paths == nil && opt.kind == KindBackup {
		opt.memoPath = cachePath + ".trees"
	}
	items, st, err := r.scan(ctx, src, paths, packObjectWriter(pw), cl, prog)
	if err != nil {
		return nil, err
	}
	cache := cl.wait()
	if len(items) == 0 && opt.kind != KindSafety {
		return nil, fmt.Errorf("%w: %s has no resources in %s", ErrEmptySource, opt.Source, opt.Scope)
	}
	for _, it := range items {
		res.Bytes += it.size
	}
	res.Resources = len(items)
	res.Unread = st.unread
	res.Warnings = append(res.Warnings, st.warnings...)
	res.Warnings = append(res.Warnings, storeNotices(src)...)

	rec, err := r.record(pw, items, opt)
	if err != nil {
		return nil, err
	}
	if opt.kind == KindImport {
		if prev, ok := r.findImport(rec.tree, opt.importPath); ok {
			res.Snapshot = prev
			return res, nil
		}
	}
	if opt.SkipIfUnchanged && rec.unchanged {
		// Nothing new to record; the tags name the snapshot that already
		// holds this content.
		for _, tag := range opt.Tags {
			if err := r.objs.UpdateRef(refTags+tag, rec.parent, objects.ZeroID); err != nil {
				return nil, fmt.Errorf("tag %q: %w", tag, err)
			}
		}
		info, err := r.info(rec.parent, nil)
		if err != nil {
			return nil, err
		}
		res.Snapshot = info
		r.updateCache(cachePath, cache, items, paths == nil, rec.parent)
		if rec.memo != nil {
			rec.memo.save(opt.memoPath, rec.parent)
		}
		return res, nil
	}
	// Write the change cache and the tree memo under temporary names while
	// the pack is finished and synced; they replace the old ones only once
	// the snapshot is published. One that cannot be saved only makes the
	// next backup slower.
	prepared := make(chan []staged, 1)
	go func() {
		var files []staged
		if data := r.encodeCache(cache, items, paths == nil, rec.commit); data != nil {
			if f, err := prepareAtomic(cachePath, data, tmpMarker+"cache-"); err == nil {
				files = append(files, f)
			}
		}
		if rec.memo != nil {
			if data := rec.memo.encode(rec.commit); data != nil {
				if f, err := prepareAtomic(opt.memoPath, data, tmpMarker+"trees-"); err == nil {
					files = append(files, f)
				}
			}
		}
		prepared <- files
	}()
	ps, err := r.publish(pw, rec, opt.Tags)
	committed = true
	files := <-prepared
	if err != nil {
		for _, f := range files {
			f.discard()
		}
		return nil, err
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
		info, err = r.info(rec.commit, map[objects.ID][]string{rec.commit: slices.Sorted(slices.Values(opt.Tags))})
		if err != nil {
			return nil, err
		}
	}
	res.Snapshot = info
	res.Recorded = true
	return res, nil
}

// recorded is a snapshot written into a pack but not yet published.
type recorded struct {
	ref       string
	parent    objects.ID
	commit    objects.ID
	tree      objects.ID
	unchanged bool // the tree equals the parent's
	memo      *dirMemo
}

// record writes the trees and the commit of a snapshot of items.
func (r *Repository) record(pw *objects.PackWriter, items []scanned, opt BackupOptions) (recorded, error) {
	var rec recorded
	var err error
	rec.ref = chainRef(opt.Scope, opt.kind)
	rec.parent, err = r.objs.Ref(rec.ref)
	if err != nil && !errors.Is(err, objects.ErrNotFound) {
		return rec, err
	}
	b := &tree.Builder{Write: packObjectWriter(pw), Has: r.objs.Has, Workers: r.opt.Workers}
	var parentTree objects.ID
	if !rec.parent.IsZero() {
		pc, err := r.objs.ReadCommit(rec.parent)
		if err != nil {
			return rec, fmt.Errorf("%w: latest snapshot of %s: %v", ErrCorrupt, opt.Scope, err)
		}
		parentTree = pc.Tree
		b.Prev = r.trees.Open(pc.Tree, "snapshot "+ID(rec.parent).Short())
	}
	var memo *dirMemo
	if opt.memoPath != "" {
		memo = loadDirMemo(r.objs, opt.memoPath)
		b.Memo = memo
	}
	root, err := b.Build(treeItems(items))
	if err != nil {
		return rec, err
	}
	rec.unchanged = !rec.parent.IsZero() && parentTree == root
	rec.memo = memo
	var uuid string
	var bytes int64
	for _, it := range items {
		bytes += it.size
		if it.path == "/UUID" {
			uuid = it.uuid
		}
	}
	rec.tree = root
	// A snapshot is taken and recorded at one instant (an imported folder
	// too: the time in its name has no zone, so it is no instant at all; see
	// Info.FolderTime).
	now := r.opt.Now()
	t := trailerInfo{
		Scope: opt.Scope, Kind: opt.kind, Source: opt.Source, UUID: uuid,
		Resources: len(items), Bytes: bytes, Segments: opt.WithSegments,
		ImportPath: opt.importPath, TakenAt: now, RecordedAt: now, Added: opt.restoreAdded,
	}
	if !opt.restoreOf.IsZero() {
		t.RestoreOf = opt.restoreOf.String()
	}
	who := objects.Signature{Name: r.opt.User, Email: r.opt.User + "@" + r.opt.Host}
	author, committer := who, who
	author.When, committer.When = now, now
	c := objects.Commit{Tree: root, Author: author, Committer: committer, Message: encodeMessage(opt.Message, t)}
	if !rec.parent.IsZero() {
		c.Parents = []objects.ID{rec.parent}
	}
	rec.commit, err = pw.WriteCommit(c)
	return rec, err
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

// updateCache records the fingerprints of this scan (see encodeCache).
func (r *Repository) updateCache(path string, old map[string]cacheEntry, items []scanned, full bool, commit objects.ID) {
	if data := r.encodeCache(old, items, full, commit); data != nil {
		// A cache that cannot be saved only makes the next backup slower.
		_ = writeAtomic(path, data, tmpMarker+"cache-")
	}
}

// encodeCache returns the next change cache: a full scan replaces the old
// one, a partial one updates the paths it saw. It returns nil when there is
// nothing new to write.
func (r *Repository) encodeCache(old map[string]cacheEntry, items []scanned, full bool, commit objects.ID) []byte {
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

// info reads the description of snapshot id. tags maps commit ids to tag
// names; nil reads them from the repository.
func (r *Repository) info(id objects.ID, tags map[objects.ID][]string) (Info, error) {
	c, err := r.objs.ReadCommit(id)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return Info{}, fmt.Errorf("%w: snapshot %s: commit missing", ErrCorrupt, id)
		}
		return Info{}, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, id, err)
	}
	title, tr := splitMessage(c.Message)
	t, err := decodeTrailers(tr)
	if err != nil {
		return Info{}, fmt.Errorf("commit %s: %w", ID(id).Short(), err)
	}
	info := Info{
		ID: ID(id), Time: c.Author.When, Recorded: c.Committer.When,
		Scope: t.Scope, Kind: t.Kind, Author: c.Author.Email, Message: title,
		Resources: t.Resources, Bytes: t.Bytes, Source: t.Source, UUID: t.UUID,
		WithSegments: t.Segments, RestoreOf: t.RestoreOf, ImportPath: t.ImportPath, RestoreAdded: t.Added,
		tree: c.Tree,
	}
	if !t.TakenAt.IsZero() {
		info.Time = t.TakenAt.In(c.Author.When.Location())
	}
	switch {
	case !t.RecordedAt.IsZero():
		info.Recorded = t.RecordedAt.In(c.Committer.When.Location())
	case t.Kind != KindImport && !t.TakenAt.IsZero():
		// Written before Metastore-Recorded-At: a backup or safety
		// snapshot was recorded the instant it was taken.
		info.Recorded = info.Time
	}
	if t.Kind == KindImport {
		// An import's time is when it was recorded; older imports carry
		// the folder name read in the importing host's zone as their
		// Taken-At, which is no instant (FolderTime keeps the name's).
		info.Time = info.Recorded
		info.FolderTime, _ = backupFolderTime(path.Base(filepath.ToSlash(t.ImportPath)))
	}
	if len(c.Parents) > 0 {
		info.Parent = ID(c.Parents[0])
	}
	if tags == nil {
		tags, err = r.tagMap()
		if err != nil {
			return Info{}, err
		}
	}
	info.Tags = tags[id]
	return info, nil
}
