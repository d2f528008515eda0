package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// The two sides of a diff and the pairs of their versions of a resource:
// two snapshots of the repository are compared tree by tree (tree.Reader's
// Compare), anything else is listed, or resolved on a scope.

// diffItem is one side's version of a resource.
type diffItem struct {
	size      int64
	sizeKnown bool
	ts        int64
	id        objects.ID
	idKnown   bool
	change    string // a live source's change fingerprint
	data      []byte // content, once read
	dataKnown bool
}

// diffPair is a resource that may differ: a is nil if the old side lacks it,
// b if the new side does.
type diffPair struct {
	path string
	a, b *diffItem
}

// release drops the content read for a pair: a diff may cover a whole
// metastore, and needs each content only while comparing it.
func (p diffPair) release() {
	for _, it := range []*diffItem{p.a, p.b} {
		if it != nil {
			it.data, it.dataKnown = nil, false
		}
	}
}

// diffSide is one side of a diff.
type diffSide struct {
	r      *Repository
	src    metastore.Source
	snap   *Snapshot // set when src is a snapshot of r
	source string    // description, for the change cache
	cache  *cacheIndex
}

func (r *Repository) side(src metastore.Source, source string) *diffSide {
	s := &diffSide{r: r, src: src}
	if snap, ok := src.(*Snapshot); ok && snap.repo == r {
		s.snap = snap
	}
	if source == "" {
		source = metastore.Describe(src)
	}
	s.source = source
	return s
}

func (s *diffSide) ensureSize(ctx context.Context, it *diffItem, p string) error {
	if it.sizeKnown {
		return nil
	}
	if it.dataKnown {
		it.size, it.sizeKnown = int64(len(it.data)), true
		return nil
	}
	if s.snap != nil && it.idKnown {
		n, err := s.r.objs.Size(it.id)
		if err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrCorrupt, s.snap.Describe(), p, err)
		}
		it.size, it.sizeKnown = n, true
		return nil
	}
	_, err := s.content(ctx, it, p)
	return err
}

func (s *diffSide) ensureID(ctx context.Context, it *diffItem, p string) error {
	if it.idKnown {
		return nil
	}
	if !it.dataKnown && it.change != "" {
		if s.cache == nil {
			s.cache = loadCache(s.r.cachePath(s.source))
		}
		if c, ok := s.cache.get(p); ok && c.fp == fingerprintOf(it.change) && (!it.sizeKnown || c.size == it.size) {
			it.id, it.idKnown = c.id, true
			return nil
		}
	}
	_, err := s.content(ctx, it, p)
	return err
}

// content reads the resource, and learns its size and id on the way.
func (s *diffSide) content(ctx context.Context, it *diffItem, p string) ([]byte, error) {
	if it.dataKnown {
		return it.data, nil
	}
	var data []byte
	if s.snap != nil && it.idKnown {
		d, err := s.r.objs.ReadKind(it.id, objects.KindBlob)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: content of %s: %v", ErrCorrupt, s.snap.Describe(), p, err)
		}
		data = d
	} else {
		res, err := s.src.Read(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", p, metastore.Describe(s.src), err)
		}
		data = res.Data
	}
	it.data, it.dataKnown = data, true
	it.size, it.sizeKnown = int64(len(data)), true
	if !it.idKnown {
		it.id, it.idKnown = BlobID(data), true
	}
	return data, nil
}

// BlobID returns the git blob id of data, the identity a snapshot gives
// content: equal ids mean equal bytes.
func BlobID(data []byte) objects.ID { return objects.HashObject(objects.KindBlob, data) }

// classify compares the two versions of a pair; changed is false when they
// are identical (bytes and timestamp). With details, the content of an
// added, modified or deleted resource is read here, which tells its size
// too (no separate look at the object's header).
func (r *Repository) classify(ctx context.Context, a, b *diffSide, p diffPair, details bool) (Change, bool, error) {
	ch := Change{Path: p.path, Type: scope.TypeOf(p.path)}
	switch {
	case p.a == nil && p.b == nil:
		return ch, false, nil
	case p.a == nil:
		ch.Action = DiffAdded
	case p.b == nil:
		ch.Action = DiffDeleted
	default:
		same, err := sameContent(ctx, a, b, p)
		if err != nil {
			return ch, false, err
		}
		switch {
		case !same:
			ch.Action = DiffModified
		case p.a.ts != p.b.ts:
			ch.Action = DiffTouched
		default:
			return ch, false, nil
		}
	}
	if details && ch.Action != DiffTouched {
		for _, side := range []struct {
			s  *diffSide
			it *diffItem
		}{{a, p.a}, {b, p.b}} {
			if side.it != nil {
				if _, err := side.s.content(ctx, side.it, p.path); err != nil {
					return ch, false, err
				}
			}
		}
	}
	if err := a.describe(ctx, p.a, p.path, &ch.OldSize, &ch.OldTimestamp, &ch.OldID); err != nil {
		return ch, false, err
	}
	if err := b.describe(ctx, p.b, p.path, &ch.NewSize, &ch.NewTimestamp, &ch.NewID); err != nil {
		return ch, false, err
	}
	return ch, true, nil
}

// describe fills in the size, timestamp and (if known) id of the side's
// version it of resource p; nothing if the side lacks it.
func (s *diffSide) describe(ctx context.Context, it *diffItem, p string, size, ts *int64, id *string) error {
	if it == nil {
		return nil
	}
	if err := s.ensureSize(ctx, it, p); err != nil {
		return err
	}
	*size, *ts = it.size, it.ts
	if it.idKnown {
		*id = it.id.String()
	}
	return nil
}

// sameContent reports whether both versions of a pair have the same bytes,
// reading as little as it can: ids when both are known, then sizes, then
// the change cache or the content of the side that lacks an id.
func sameContent(ctx context.Context, a, b *diffSide, p diffPair) (bool, error) {
	if p.a.idKnown && p.b.idKnown {
		return p.a.id == p.b.id, nil
	}
	if err := a.ensureSize(ctx, p.a, p.path); err != nil {
		return false, err
	}
	if err := b.ensureSize(ctx, p.b, p.path); err != nil {
		return false, err
	}
	if p.a.size != p.b.size {
		return false, nil
	}
	if err := a.ensureID(ctx, p.a, p.path); err != nil {
		return false, err
	}
	if err := b.ensureID(ctx, p.b, p.path); err != nil {
		return false, err
	}
	return p.a.id == p.b.id, nil
}

// treePairs walks the trees of two snapshots together and returns the
// resources whose blob or timestamp differ, and how many trees it read.
// Folders whose resource tree and timestamps tree are both identical are
// skipped unread.
func (r *Repository) treePairs(ctx context.Context, rootA, rootB objects.ID, f pathFilter) ([]diffPair, int, error) {
	changes, reads, err := r.trees.Compare(ctx, rootA, rootB, f)
	if err != nil {
		return nil, 0, err
	}
	pairs := make([]diffPair, len(changes))
	for i, ch := range changes {
		pairs[i].path = ch.Key
		if ch.Old != nil {
			pairs[i].a = &diffItem{id: ch.Old.ID, idKnown: true, ts: ch.Old.Timestamp}
		}
		if ch.New != nil {
			pairs[i].b = &diffItem{id: ch.New.ID, idKnown: true, ts: ch.New.Timestamp}
		}
	}
	return pairs, reads, nil
}

// listPairs lists both sides (at least one of them not a snapshot of r) and
// pairs their resources by path.
func (r *Repository) listPairs(ctx context.Context, a, b *diffSide, f pathFilter) ([]diffPair, error) {
	la, err := r.listSide(ctx, a, f)
	if err != nil {
		return nil, err
	}
	lb, err := r.listSide(ctx, b, f)
	if err != nil {
		return nil, err
	}
	pairs := make([]diffPair, 0, max(len(la), len(lb)))
	for p, ia := range la {
		pairs = append(pairs, diffPair{path: p, a: ia, b: lb[p]})
	}
	for p, ib := range lb {
		if _, ok := la[p]; !ok {
			pairs = append(pairs, diffPair{path: p, b: ib})
		}
	}
	return pairs, nil
}

func (r *Repository) listSide(ctx context.Context, s *diffSide, f pathFilter) (map[string]*diffItem, error) {
	out := map[string]*diffItem{}
	if s.snap != nil {
		pairs, _, err := r.treePairs(ctx, objects.ID{}, s.snap.Info.tree, f)
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out[p.path] = p.b
		}
		return out, nil
	}
	err := metastore.ListEntries(ctx, s.src, f.listPrefix(), func(e metastore.Entry) error {
		if f.Match(e.Path) {
			out[e.Path] = &diffItem{size: e.Size, sizeKnown: true, ts: e.Timestamp, change: e.Change}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", metastore.Describe(s.src), err)
	}
	return out, nil
}

// scopePairs resolves scope s on both sides and pairs the union of their
// members.
func (r *Repository) scopePairs(ctx context.Context, a, b *diffSide, s scope.Scope, segments bool, f pathFilter, cache resolved) ([]diffPair, []scope.Warning, error) {
	ra, errA := r.resolveSide(ctx, a, s, segments, cache)
	rb, errB := r.resolveSide(ctx, b, s, segments, cache)
	missing := func(err error) bool {
		return errors.Is(err, scope.ErrUnknownProject) || errors.Is(err, scope.ErrUnknownCube)
	}
	switch {
	case errA != nil && !missing(errA):
		return nil, nil, errA
	case errB != nil && !missing(errB):
		return nil, nil, errB
	case errA != nil && errB != nil:
		return nil, nil, errB
	}
	members := map[string]bool{}
	warned := map[scope.Warning]bool{}
	var warnings []scope.Warning
	for _, res := range []*scope.Result{ra, rb} {
		if res == nil {
			continue
		}
		for _, p := range res.Paths {
			if f.Match(p) {
				members[p] = true
			}
		}
		for _, w := range res.Warnings {
			if !warned[w] {
				warned[w] = true
				warnings = append(warnings, w)
			}
		}
	}
	sort.Slice(warnings, func(i, j int) bool {
		if warnings[i].Path != warnings[j].Path {
			return warnings[i].Path < warnings[j].Path
		}
		return warnings[i].Message < warnings[j].Message
	})
	var pairs []diffPair
	for p := range members {
		ia, err := r.itemOf(ctx, a, p)
		if err != nil {
			return nil, nil, err
		}
		ib, err := r.itemOf(ctx, b, p)
		if err != nil {
			return nil, nil, err
		}
		pairs = append(pairs, diffPair{path: p, a: ia, b: ib})
	}
	return pairs, warnings, nil
}

func (r *Repository) resolveSide(ctx context.Context, s *diffSide, sc scope.Scope, segments bool, cache resolved) (*scope.Result, error) {
	if s.snap != nil && cache != nil {
		if res, ok := cache[s.snap.Info.ID]; ok {
			return res, nil
		}
	}
	res, err := scope.Resolve(ctx, s.src, sc, scope.Options{WithSegments: segments})
	if err != nil {
		return nil, err
	}
	if s.snap != nil && cache != nil {
		cache[s.snap.Info.ID] = res
	}
	return res, nil
}

// itemOf looks one resource up on one side; nil if the side lacks it.
func (r *Repository) itemOf(ctx context.Context, s *diffSide, p string) (*diffItem, error) {
	if s.snap != nil {
		id, ts, err := s.snap.lookup(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &diffItem{id: id, idKnown: true, ts: ts}, nil
	}
	res, err := s.src.Read(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", p, metastore.Describe(s.src), err)
	}
	return &diffItem{size: int64(len(res.Data)), sizeKnown: true, ts: res.Timestamp,
		data: res.Data, dataKnown: true, id: BlobID(res.Data), idKnown: true}, nil
}
