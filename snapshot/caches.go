package snapshot

import "github.com/kylin-tools/metastore/objects"

// fileCaches are the change cache and the tree memo of one source, kept
// beside the snapshots in the repository's cache folder (see
// changecache.go and treememo.go). Neither is part of a snapshot, and one
// that is missing, stale or damaged only makes a backup slower. The change
// cache is read in the background while the source is listed; both are
// saved for the snapshot they describe, once it is published.
type fileCaches struct {
	path    string     // the change cache file; the tree memo is path+".trees"
	load    *cacheLoad // the change cache being read
	full    bool       // the scan lists the whole source, not some members
	useMemo bool       // the tree memo serves this recording (full backups)
	memo    *dirMemo
	cache   *staged // the next change cache, its snapshot to fill in (see stage)
}

// openCaches starts reading the caches of source: the change cache (whole
// if full; for a scoped scan, only the entries of its paths, once it names
// them), and the tree memo if useMemo.
func (r *Repository) openCaches(source string, full, useMemo bool) *fileCaches {
	c := &fileCaches{path: r.cachePath(source), full: full, useMemo: useMemo}
	if full {
		c.load = r.loadCacheAsync(c.path)
	} else {
		// Read for the scan's paths once it names them (see scan).
		c.load = r.lazyCache(c.path)
	}
	return c
}

// close waits for the change cache to be opened and closes it (so that
// nothing reads it after the command), and removes a next cache that was
// not saved.
func (c *fileCaches) close() {
	c.load.close()
	if c.cache != nil {
		c.cache.discard()
		c.cache = nil
	}
}

// treeMemo returns the tree memo, read once; nil if it does not serve.
func (c *fileCaches) treeMemo(r *Repository) *dirMemo {
	if c.useMemo && c.memo == nil {
		c.memo = loadDirMemo(r.objs, c.path+".trees")
	}
	return c.memo
}

// stage writes the next change cache, of the resources items, under a
// temporary name, before the snapshot it describes is recorded: the
// records are released while its trees are written. The snapshot's id is
// filled in by prepare. Nothing is written when there is nothing new (see
// encodeCache).
func (c *fileCaches) stage(items scanList) {
	if c.cache != nil {
		c.cache.discard()
		c.cache = nil
	}
	if file, ok := encodeCache(c.path, items, c.full, c.load.same, objects.ID{}); ok {
		if f, err := prepareAtomicFrom(c.path, file, tmpMarker+"cache-"); err == nil {
			c.cache = &f
		}
	}
}

// prepare completes the caches that describe snapshot commit under
// temporary names (the change cache stage wrote, the tree memo): commit
// them once it is published.
func (c *fileCaches) prepare(commit objects.ID) []staged {
	var files []staged
	if f := c.cache; f != nil {
		c.cache = nil
		switch {
		case !c.full:
			// A scoped scan's merge keeps entries of the last full
			// backup beside its own, whose blobs snapshot commit does
			// not hold (and the full backup's may be forgotten and
			// pruned while commit stays): it names no snapshot, and its
			// blobs are looked up one by one (see cacheLoad.trusted).
			files = append(files, *f)
		case setCacheCommit(f.tmp, commit) == nil:
			files = append(files, *f)
		default:
			f.discard()
		}
	}
	if c.memo != nil {
		if data := c.memo.encode(commit); data != nil {
			if f, err := prepareAtomic(c.path+".trees", data, tmpMarker+"trees-"); err == nil {
				files = append(files, f)
			}
		}
	}
	return files
}

// save writes the caches that describe snapshot commit, published already.
// A cache that cannot be saved only makes the next backup slower.
func (c *fileCaches) save(commit objects.ID) {
	for _, f := range c.prepare(commit) {
		_ = f.commit()
	}
}
