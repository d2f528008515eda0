package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/jsondiff"
)

// DiffAction says how a resource differs between two metastores.
type DiffAction string

// The actions of a diff.
const (
	// DiffAdded: only the new side has the resource.
	DiffAdded DiffAction = "added"
	// DiffModified: both have it, with different bytes.
	DiffModified DiffAction = "modified"
	// DiffTouched: both have it with the same bytes, but Kylin's timestamp
	// differs (Kylin saved it again without changing it, or a restore
	// rewrote it). It is reported, never counted as modified.
	DiffTouched DiffAction = "touched"
	// DiffDeleted: only the old side has the resource.
	DiffDeleted DiffAction = "deleted"
)

// Change is how one resource differs between the old and the new side of a
// diff. The JSON form (field names in the tags) is the documented --json
// schema of the diff command (README, "Diff JSON schema").
type Change struct {
	// Path is the resource key.
	Path string `json:"path"`
	// Type is the resource type, scope.TypeOf(Path).
	Type string `json:"type"`
	// Action says how it differs.
	Action DiffAction `json:"action"`
	// OldSize and NewSize are the sizes in bytes (0 on the side that lacks
	// the resource).
	OldSize int64 `json:"old_size"`
	NewSize int64 `json:"new_size"`
	// OldTimestamp and NewTimestamp are Kylin's resource timestamps in
	// milliseconds (0 on the side that lacks the resource).
	OldTimestamp int64 `json:"old_timestamp,omitempty"`
	NewTimestamp int64 `json:"new_timestamp,omitempty"`
	// OldID and NewID are the git blob ids of the content (the SHA-1 of
	// "blob <size>\0<bytes>"), equal exactly when the bytes are. A live
	// metastore's id is only computed when needed: it is empty when the
	// sizes alone told the contents apart and no details were asked for.
	OldID string `json:"old_id,omitempty"`
	NewID string `json:"new_id,omitempty"`

	// The details below are filled only when DiffOptions.Details is set.

	// Trivial is set on a modified JSON resource whose only differences
	// are formatting, key order or ignored fields: Fields is empty.
	Trivial bool `json:"trivial,omitempty"`
	// Fields is the field-level difference of a modified JSON resource.
	Fields []jsondiff.Change `json:"fields,omitempty"`
	// Malformed says which version of a JSON resource is not valid JSON
	// and why; Text then holds a line diff instead of Fields.
	Malformed string `json:"malformed,omitempty"`
	// Text is the line diff of a modified resource that is text but not
	// valid JSON.
	Text []jsondiff.Line `json:"text,omitempty"`
	// Binary describes an added, modified or deleted binary resource.
	Binary *BinaryChange `json:"binary,omitempty"`
}

// BinaryChange describes a binary resource: a dictionary, table snapshot,
// statistics file, /UUID, or any resource that is not UTF-8 text. Its
// content hash change is OldID -> NewID of the Change.
type BinaryChange struct {
	// Kind is the format: "dictionary", "snapshot", "statistics", "uuid",
	// or "" for an unknown binary format.
	Kind scope.BinaryKind `json:"kind"`
	// OldHeader and NewHeader are the JSON headers of a dictionary or
	// snapshot (compact, keys sorted), when they can be read.
	OldHeader json.RawMessage `json:"old_header,omitempty"`
	NewHeader json.RawMessage `json:"new_header,omitempty"`
	// Header is the field-level difference of the two headers, for a
	// modified dictionary or snapshot whose headers can both be read.
	Header []jsondiff.Change `json:"header_changes,omitempty"`
	// OldUUID and NewUUID are the decoded content of /UUID.
	OldUUID string `json:"old_uuid,omitempty"`
	NewUUID string `json:"new_uuid,omitempty"`
	// Unreadable says why a header that should be there could not be read.
	Unreadable string `json:"unreadable,omitempty"`
}

// DiffOptions say what a diff compares.
type DiffOptions struct {
	// Scope, if HasScope, limits the diff to the resources of a project or
	// cube scope (a cube with its segments' dictionaries, snapshots and
	// statistics): the scope is resolved on both sides with scope.Resolve
	// and the union of the two member lists is compared, so a resource that
	// left the scope shows as deleted. A scope that neither side has fails
	// with the scope package's not-found error.
	Scope    scope.Scope
	HasScope bool
	// NoSegments leaves a cube scope's segment resources out (to compare
	// with a cube snapshot taken without them).
	NoSegments bool
	// Types, if not empty, keeps the resources of these types
	// (scope.TypeOf: "cube", "cube_desc", "dict", ...).
	Types []string
	// Prefix, if not empty or "/", keeps the resource Prefix and the
	// resources below it: "/cube" means "/cube/*", never "/cube_desc/*".
	Prefix string
	// Details reads the content of every added, modified and deleted
	// resource to fill the details of its Change: the field-level diff of
	// JSON, a line diff of malformed JSON, the headers of binary resources.
	Details bool
	// Ignore lists the JSON fields the field-level diff ignores (see
	// jsondiff.Options; scope.SaveFields is the usual choice).
	Ignore []string
	// Source names a live metastore as its backups did (BackupOptions.Source;
	// metastore.Describe of it if empty), so that the change cache of those
	// backups can vouch for unchanged content without reading it.
	Source string
}

// DiffResult is the outcome of a diff.
type DiffResult struct {
	// Changes are the resources that differ, sorted by path.
	Changes []Change
	// Warnings are what scope resolution met on either side (with a scope
	// filter only).
	Warnings []scope.Warning
}

// Diff compares the resources of two metastores, old and new: two
// snapshots, a snapshot and the live metastore, or any two sources. The
// result lists every resource that was added, modified, touched (same bytes,
// new timestamp) or deleted, sorted by path; unchanged resources are not
// listed.
//
// Two snapshots of r are compared by walking their trees together: a folder
// whose tree and timestamps tree are identical on both sides is skipped
// without being read, so the cost grows with what changed, not with the size
// of the metastore. A live source is listed (metastore.ListEntries) and
// compared by size first; its content is read and hashed only when the
// sizes are equal and the change cache of its backups cannot vouch for it.
//
// A folder side that overlaps the repository (see CheckSeparate) is refused
// with ErrInsideRepository, as Backup refuses it: it would list the
// repository's own files as resources.
func (r *Repository) Diff(ctx context.Context, old, new metastore.Source, opt DiffOptions) (*DiffResult, error) {
	for _, src := range []metastore.Source{old, new} {
		if err := r.checkSeparate(src); err != nil {
			return nil, err
		}
	}
	return r.diff(ctx, old, new, opt, nil)
}

// resolved caches scope resolutions by snapshot, for histories that diff
// each snapshot twice.
type resolved map[ID]*scope.Result

func (r *Repository) diff(ctx context.Context, old, new metastore.Source, opt DiffOptions, cache resolved) (*DiffResult, error) {
	f := newPathFilter(opt.Prefix, opt.Types)
	for _, src := range []*metastore.Source{&old, &new} {
		if v, ok := (*src).(metastore.Viewer); ok {
			view, err := v.View(ctx)
			if err != nil {
				return nil, fmt.Errorf("open a consistent view of %s: %w", metastore.Describe(*src), err)
			}
			defer view.Close()
			*src = view
		}
	}
	a, b := r.side(old, opt.Source), r.side(new, opt.Source)
	res := &DiffResult{}
	var pairs []diffPair
	var err error
	switch {
	case opt.HasScope:
		pairs, res.Warnings, err = r.scopePairs(ctx, a, b, opt.Scope, !opt.NoSegments, f, cache)
	case a.snap != nil && b.snap != nil:
		pairs, _, err = r.treePairs(ctx, a.snap.Info.tree, b.snap.Info.tree, f)
	default:
		pairs, err = r.listPairs(ctx, a, b, f)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].path < pairs[j].path })
	for _, p := range pairs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ch, changed, err := r.classify(ctx, a, b, p)
		if err != nil {
			return nil, err
		}
		if !changed {
			p.release()
			continue
		}
		if opt.Details && ch.Action != DiffTouched {
			if err := r.details(ctx, &ch, a, b, p, opt.Ignore); err != nil {
				return nil, err
			}
		}
		res.Changes = append(res.Changes, ch)
		p.release()
	}
	return res, nil
}

// pathFilter keeps the resources under a prefix and of some types.
type pathFilter struct {
	prefix string // without a trailing slash; "" keeps everything
	types  map[string]bool
}

func newPathFilter(prefix string, types []string) pathFilter {
	prefix = strings.TrimSpace(prefix)
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	f := pathFilter{prefix: strings.TrimRight(prefix, "/")}
	for _, t := range types {
		if t = strings.TrimSpace(t); t != "" {
			if f.types == nil {
				f.types = map[string]bool{}
			}
			f.types[t] = true
		}
	}
	return f
}

// Match reports whether the filter keeps resource p.
func (f pathFilter) Match(p string) bool {
	if f.prefix != "" && p != f.prefix && !strings.HasPrefix(p, f.prefix+"/") {
		return false
	}
	return f.types == nil || f.types[scope.TypeOf(p)]
}

// MayContain reports whether folder dir ("" for the root, "/cube", ...) can
// hold resources the filter keeps.
func (f pathFilter) MayContain(dir string) bool {
	return dir == "" || f.prefix == "" || dir == f.prefix ||
		strings.HasPrefix(dir, f.prefix+"/") || strings.HasPrefix(f.prefix, dir+"/")
}

// listPrefix is the prefix to list a source with.
func (f pathFilter) listPrefix() string {
	if f.prefix == "" {
		return "/"
	}
	return f.prefix
}

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
	cache  map[string]cacheEntry
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
		if c, ok := s.cache[p]; ok && c.change == it.change && (!it.sizeKnown || c.size == it.size) {
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
// are identical (bytes and timestamp).
func (r *Repository) classify(ctx context.Context, a, b *diffSide, p diffPair) (Change, bool, error) {
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
	if p.a != nil {
		if err := a.ensureSize(ctx, p.a, p.path); err != nil {
			return ch, false, err
		}
		ch.OldSize, ch.OldTimestamp = p.a.size, p.a.ts
		if p.a.idKnown {
			ch.OldID = p.a.id.String()
		}
	}
	if p.b != nil {
		if err := b.ensureSize(ctx, p.b, p.path); err != nil {
			return ch, false, err
		}
		ch.NewSize, ch.NewTimestamp = p.b.size, p.b.ts
		if p.b.idKnown {
			ch.NewID = p.b.id.String()
		}
	}
	return ch, true, nil
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

// details reads both versions of a changed resource and describes the
// difference.
func (r *Repository) details(ctx context.Context, ch *Change, a, b *diffSide, p diffPair, ignore []string) error {
	var old, new []byte
	var err error
	if p.a != nil {
		if old, err = a.content(ctx, p.a, p.path); err != nil {
			return err
		}
		ch.OldID = p.a.id.String()
	}
	if p.b != nil {
		if new, err = b.content(ctx, p.b, p.path); err != nil {
			return err
		}
		ch.NewID = p.b.id.String()
	}
	describe(ch, old, new, p.a != nil, p.b != nil, ignore)
	return nil
}

// describe fills the details of ch from the content of the two versions
// (hasOld and hasNew say which exist).
func describe(ch *Change, old, new []byte, hasOld, hasNew bool, ignore []string) {
	kind := scope.BinaryKindOf(ch.Path)
	if kind != "" || (hasOld && !isText(old)) || (hasNew && !isText(new)) {
		ch.Binary = describeBinary(ch.Path, kind, old, new, hasOld, hasNew, ignore)
		return
	}
	if !hasOld || !hasNew {
		return
	}
	fields, err := jsondiff.Diff(old, new, jsondiff.Options{Ignore: ignore, Identities: scope.IdentityKeys()})
	if err == nil {
		ch.Fields = fields
		ch.Trivial = len(fields) == 0
		return
	}
	if looksJSON(ch.Path, old) || looksJSON(ch.Path, new) {
		ch.Malformed = err.Error()
	}
	ch.Text = jsondiff.Lines(old, new)
}

func describeBinary(path string, kind scope.BinaryKind, old, new []byte, hasOld, hasNew bool, ignore []string) *BinaryChange {
	bc := &BinaryChange{Kind: kind}
	if kind == "" || kind == scope.BinaryStatistics {
		return bc
	}
	var oh, nh *scope.BinaryHeader
	var problems []string
	read := func(side string, data []byte) *scope.BinaryHeader {
		h, err := scope.ReadBinaryHeader(path, data)
		if err != nil {
			problems = append(problems, side+": "+strings.TrimPrefix(err.Error(), path+": "))
		}
		return h
	}
	if hasOld {
		oh = read("old", old)
	}
	if hasNew {
		nh = read("new", new)
	}
	bc.Unreadable = strings.Join(problems, "; ")
	if kind == scope.BinaryUUID {
		if oh != nil {
			bc.OldUUID = oh.UUID
		}
		if nh != nil {
			bc.NewUUID = nh.UUID
		}
		return bc
	}
	if oh != nil {
		bc.OldHeader = jsondiff.Encode(oh.Fields)
	}
	if nh != nil {
		bc.NewHeader = jsondiff.Encode(nh.Fields)
	}
	if oh != nil && nh != nil {
		bc.Header = jsondiff.Compare(oh.Fields, nh.Fields, jsondiff.Options{Ignore: ignore, Identities: scope.IdentityKeys()})
	}
	return bc
}

// isText reports whether data is UTF-8 without NUL bytes.
func isText(data []byte) bool {
	return utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
}

// looksJSON reports whether a resource is meant to be JSON: its key has a
// .json extension (".json.bad" included) or its content starts like a JSON
// object or array.
func looksJSON(path string, data []byte) bool {
	if strings.HasSuffix(path, ".json") || strings.Contains(path, ".json.") {
		return true
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
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

// TypeStat counts the changes of one resource type.
type TypeStat struct {
	Type     string `json:"type"`
	Added    int    `json:"added"`
	Modified int    `json:"modified"`
	Touched  int    `json:"touched"`
	Deleted  int    `json:"deleted"`
}

// Stat counts changes per resource type, sorted by type.
func Stat(changes []Change) []TypeStat {
	m := map[string]*TypeStat{}
	var types []string
	for _, c := range changes {
		s, ok := m[c.Type]
		if !ok {
			s = &TypeStat{Type: c.Type}
			m[c.Type] = s
			types = append(types, c.Type)
		}
		switch c.Action {
		case DiffAdded:
			s.Added++
		case DiffModified:
			s.Modified++
		case DiffTouched:
			s.Touched++
		case DiffDeleted:
			s.Deleted++
		}
	}
	sort.Strings(types)
	out := make([]TypeStat, 0, len(types))
	for _, t := range types {
		out = append(out, *m[t])
	}
	return out
}
