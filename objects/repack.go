package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

// Repack writes every object that the commits tips reach (their ancestors,
// trees and blobs) into one new pack, then deletes every other pack and
// loose object of the repository: what no tip reaches is gone, and its
// space returned. It is git's gc, and like git's it stores similar objects
// as deltas of each other (RepackOptions.Window): objects are sorted by
// kind, folder and size, and each is compared with the Window objects
// before it; the smallest delta under half the object's size is kept,
// unless its chain would grow deeper than Depth. Deltas are REF_DELTA
// entries whose base is in the same pack, and precedes them.
//
// It is crash-safe: the new pack and its index are synced, renamed into
// place (index first) and their folder synced before the first old pack is
// deleted, so a crash at any point leaves every reachable object in some
// pack. Callers hold the repository Lock. A tip or an object it reaches
// that cannot be read fails Repack before anything is deleted (ErrNotFound
// or ErrCorrupt).
func (r *Repository) Repack(ctx context.Context, tips []ID, opt RepackOptions) (RepackStats, error) {
	opt = opt.withDefaults()
	step, prog := opt.Step, opt.Progress
	var st RepackStats
	r.reindex()
	packs, err := r.Packs()
	if err != nil {
		return st, err
	}
	st.PacksBefore = len(packs)
	dir := filepath.Join(r.path, "objects", "pack")
	for _, p := range packs {
		if fi, err := os.Stat(filepath.Join(dir, p+".pack")); err == nil {
			st.BytesBefore += fi.Size()
		}
		if fi, err := os.Stat(filepath.Join(dir, p+".idx")); err == nil {
			st.BytesBefore += fi.Size()
		}
	}
	loose, looseBytes := r.looseObjects()
	st.BytesBefore += looseBytes
	all := map[ID]struct{}{}
	if err := r.ForEachObject(func(id ID) error { all[id] = struct{}{}; return nil }); err != nil {
		return st, err
	}
	st.ObjectsBefore = len(all)

	prog.Start("finding reachable objects", -1)
	objs, err := r.reachable(ctx, tips, prog)
	prog.Done()
	if err != nil {
		return st, err
	}
	st.ObjectsAfter = len(objs)
	for _, o := range objs {
		delete(all, o.id)
	}
	st.Removed = len(all)
	if opt.DryRun {
		return st, nil
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}

	sortForDeltas(objs)
	prog.Start("writing pack", int64(len(objs)))
	name, size, deltas, err := r.writeRepack(ctx, objs, opt, prog, step)
	prog.Done()
	if err != nil {
		return st, err
	}
	st.Deltas = deltas
	step("pack")

	// Every reachable object is in the new pack, durably: the old packs and
	// the loose objects can go. Each pack goes first, then its index and
	// whatever git keeps beside it.
	if err := r.removeRepacked(packs, name, loose, prog, step, &st); err != nil {
		return st, err
	}
	r.reindex()
	st.PacksAfter = 1
	st.BytesAfter = size
	return st, nil
}

// withDefaults fills in the options left zero.
func (opt RepackOptions) withDefaults() RepackOptions {
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.Depth <= 0 || opt.Depth > maxDepth {
		opt.Depth = maxDepth
	}
	if opt.Level <= 0 || opt.Level > 9 {
		opt.Level = DefaultCompression
	}
	if opt.Step == nil {
		opt.Step = func(string) {}
	}
	if opt.Progress == nil {
		opt.Progress = nopProgress{}
	}
	return opt
}

// removeRepacked deletes the packs (all but name, the new one) and the
// loose objects a repack copied into the new pack, once it is durable. Each
// pack goes first, then its index and whatever git keeps beside it.
func (r *Repository) removeRepacked(packs []string, name string, loose []string, prog Progress, step func(string), st *RepackStats) error {
	dir := filepath.Join(r.path, "objects", "pack")
	prog.Start("removing old packs", int64(len(packs)))
	for _, p := range packs {
		if p == name {
			continue
		}
		if err := os.Remove(filepath.Join(dir, p+".pack")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove pack %s: %w", p, err)
		}
		step("removed " + p)
		for _, ext := range []string{".idx", ".rev", ".bitmap", ".keep", ".promisor", ".mtimes"} {
			os.Remove(filepath.Join(dir, p+ext))
		}
		st.RemovedPacks = append(st.RemovedPacks, p)
		prog.Add(1)
	}
	syncDir(dir)
	prog.Done()
	for _, p := range loose {
		os.Remove(p)
		os.Remove(filepath.Dir(p)) // only if empty
	}
	if len(loose) > 0 {
		syncDir(filepath.Join(r.path, "objects"))
		step("loose")
	}
	return nil
}

// DefaultWindow is how many objects before it Repack compares an object
// with (git's pack.window).
const DefaultWindow = 10

// RepackOptions configure Repack.
type RepackOptions struct {
	// Window is how many preceding objects each object is compared with
	// for a delta (DefaultWindow if zero); Depth bounds delta chains (at
	// most, and by default, 50).
	Window, Depth int
	// Level is the zlib level (DefaultCompression if zero).
	Level int
	// DryRun only counts what would be kept and removed.
	DryRun bool
	// Progress, if not nil, is told of the phases.
	Progress Progress
	// Step, if not nil, is called after each step that changes the
	// repository on disk ("packed": the new pack synced under a temporary
	// name; "index", "pack": renamed into place; "removed <pack>"; "loose").
	// Tests use it to crash Repack at each step.
	Step func(step string)
}

// Progress receives the progress of long operations (package snapshot's
// Progress satisfies it).
type Progress interface {
	Start(phase string, total int64)
	Add(n int64)
	Done()
}

type nopProgress struct{}

func (nopProgress) Start(string, int64) {}
func (nopProgress) Add(int64)           {}
func (nopProgress) Done()               {}

// RepackStats describes what Repack found and did.
type RepackStats struct {
	// ObjectsBefore counts the objects in the repository before, and
	// ObjectsAfter the reachable ones, which the new pack holds; Removed
	// is the difference.
	ObjectsBefore, ObjectsAfter, Removed int
	// Deltas counts the objects the new pack stores as deltas.
	Deltas int
	// PacksBefore and PacksAfter count packs; BytesBefore and BytesAfter
	// the bytes of packs, indexes and loose objects (BytesAfter is zero in
	// a dry run).
	PacksBefore, PacksAfter int
	BytesBefore, BytesAfter int64
	// RemovedPacks names the packs deleted.
	RemovedPacks []string
}

// looseObjects lists the files of loose objects and their total size.
func (r *Repository) looseObjects() ([]string, int64) {
	var out []string
	var total int64
	base := filepath.Join(r.path, "objects")
	dirs, _ := os.ReadDir(base)
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 || !isHex(d.Name()) {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(base, d.Name()))
		for _, f := range files {
			if len(f.Name()) != 38 || !isHex(f.Name()) {
				continue
			}
			if fi, err := f.Info(); err == nil {
				total += fi.Size()
			}
			out = append(out, filepath.Join(base, d.Name(), f.Name()))
		}
	}
	return out, total
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// repackObject is a reachable object, with what orders it for deltas.
type repackObject struct {
	id   ID
	kind Kind
	dir  string // folder of the first path it was found at
	name string // its name there (trees), or the suffix of its name (blobs)
	size int64
}

// reachable lists the objects the tips reach, each once, with the path it
// was first found at.
func (r *Repository) reachable(ctx context.Context, tips []ID, prog Progress) ([]repackObject, error) {
	seen := ObjectSet{}
	var out []repackObject
	stack := append([]ID(nil), tips...)
	var trees []treeAt
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen.Has(id) {
			continue
		}
		seen.Add(id)
		k, data, err := r.Read(id)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", id, err)
		}
		switch k {
		case KindTree:
			delete(seen, id)
			trees = append(trees, treeAt{id, ""})
			continue
		case KindBlob:
			out = append(out, repackObject{id: id, kind: KindBlob, size: int64(len(data))})
			continue
		case kindTag:
			// An annotated tag (git tag -a): keep it and what it names.
			target, err := tagTarget(data)
			if err != nil {
				return nil, fmt.Errorf("%w: tag %s: %v", ErrCorrupt, id, err)
			}
			out = append(out, repackObject{id: id, kind: kindTag, size: int64(len(data))})
			stack = append(stack, target)
			continue
		case KindCommit:
		default:
			return nil, fmt.Errorf("%w: object %s is a %s", ErrCorrupt, id, k)
		}
		c, err := DecodeCommit(data)
		if err != nil {
			return nil, fmt.Errorf("%w: commit %s: %v", ErrCorrupt, id, err)
		}
		out = append(out, repackObject{id: id, kind: KindCommit, size: int64(len(data))})
		trees = append(trees, treeAt{c.Tree, ""})
		stack = append(stack, c.Parents...)
		prog.Add(1)
	}
	return r.reachableTrees(ctx, trees, seen, out, prog)
}

// treeAt is a tree and the path it was found at.
type treeAt struct {
	id   ID
	path string
}

// reachableTrees adds to out the trees and blobs that trees reach, each once
// (seen), with the path each was first found at.
func (r *Repository) reachableTrees(ctx context.Context, trees []treeAt, seen ObjectSet, out []repackObject, prog Progress) ([]repackObject, error) {
	// The trees are walked from the newest commit's down (trees is a
	// stack), so that each object is found first in the newest snapshot
	// that has it: sortForDeltas keeps that order among equals, and the
	// newest versions become the bases, read without a delta.
	slices.Reverse(trees)
	for len(trees) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := trees[len(trees)-1]
		trees = trees[:len(trees)-1]
		if seen.Has(t.id) {
			continue
		}
		seen.Add(t.id)
		data, err := r.ReadKind(t.id, KindTree)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", t.id, err)
		}
		d, n := path.Split(t.path)
		out = append(out, repackObject{id: t.id, kind: KindTree, dir: d, name: n, size: int64(len(data))})
		prog.Add(1)
		var werr error
		err = WalkTree(data, func(m Mode, name []byte, e ID) bool {
			switch m {
			case ModeDir:
				trees = append(trees, treeAt{e, t.path + string(name) + "/"})
			case ModeFile, 0o120000: // regular files and symbolic links are blobs; gitlinks name no object here
				if seen.Has(e) {
					return true
				}
				seen.Add(e)
				n, err := r.Size(e)
				if err != nil {
					werr = fmt.Errorf("blob %s at %s%s: %w", e, t.path, name, err)
					return false
				}
				suffix := ""
				if i := bytes.LastIndexByte(name, '.'); i > 0 {
					suffix = string(name[i:])
				}
				out = append(out, repackObject{id: e, kind: KindBlob, dir: t.path, name: suffix, size: n})
				prog.Add(1)
			}
			return true
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", t.id, err)
		}
	}
	return out, nil
}

// sortForDeltas orders objects as the pack stores them: commits, trees,
// blobs; within a kind by folder and name (for a tree, its versions; for a
// blob, its suffix) and by decreasing size, so that versions of one tree and
// similar resources of one folder sit in one window, the larger (usually the
// newer) first as the base; objects alike in all that keep the order they
// were found in, the newest snapshot's first.
func sortForDeltas(objs []repackObject) {
	rank := func(k Kind) int {
		switch k {
		case KindCommit:
			return 0
		case KindTree:
			return 1
		}
		return 2
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := &objs[i], &objs[j]
		if ra, rb := rank(a.kind), rank(b.kind); ra != rb {
			return ra < rb
		}
		if a.dir != b.dir {
			return a.dir < b.dir
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.size > b.size
	})
}

// kindTag is the kind of an annotated tag object, which git may write
// (this tool writes lightweight tags only).
const kindTag Kind = 4

// tagTarget returns the object an annotated tag names.
func tagTarget(data []byte) (ID, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	hex, ok := bytes.CutPrefix(line, []byte("object "))
	if !ok {
		return ID{}, fmt.Errorf("no object line")
	}
	return ParseID(string(hex))
}

// windowEntry is an object in the delta window.
type windowEntry struct {
	id    ID
	kind  Kind
	dir   string
	data  []byte
	depth int
}

// bestDelta finds, among the window's objects, the base that gives the
// smallest delta of data (an object o of kind k) under half its size whose
// chain stays within depth: its index in the window (-1 for none), the
// delta, and the new chain's depth.
func bestDelta(window []windowEntry, o repackObject, k Kind, data []byte, depth int) (int, []byte, int) {
	best, bestDepth := -1, 0
	var bestD []byte
	if (k != KindTree && k != KindBlob) || len(data) < 64 {
		return best, nil, 0
	}
	limit := len(data)/2 - 20
	for j := len(window) - 1; j >= 0; j-- {
		b := &window[j]
		if b.kind != k || b.depth+1 > depth || len(b.data) == 0 {
			continue
		}
		if k == KindBlob && b.dir != o.dir {
			// Resources of different folders are different kinds
			// (a job, a dictionary): not worth a delta search.
			continue
		}
		if diff := len(b.data) - len(data); diff >= limit || -diff >= limit {
			continue
		}
		d := diffDelta(k, b.data, data)
		if len(d) < limit && (best < 0 || len(d) < len(bestD)) {
			best, bestD, bestDepth = j, d, b.depth+1
			limit = len(d)
		}
	}
	return best, bestD, bestDepth
}

// writeRepackIndex writes, synced, the index of a pack of entries whose
// checksum is sum into a temporary file of dir, and returns its name and
// size. It sorts entries by id.
func writeRepackIndex(dir string, entries []packEntry, sum plumbing.Hash) (string, int, error) {
	xf, err := os.CreateTemp(dir, tmpIdxPrefix)
	if err != nil {
		return "", 0, err
	}
	n, err := writeIndex(xf, entries, ID(sum))
	if err == nil {
		err = xf.Sync()
	}
	if cerr := xf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(xf.Name())
		return "", 0, fmt.Errorf("write pack index: %w", err)
	}
	return xf.Name(), int(n), nil
}

// finishRepack finishes the pack out writes to f, syncs and closes f, and
// returns the pack's checksum.
func finishRepack(out *packStream, f *os.File) (plumbing.Hash, error) {
	id, err := out.finish()
	sum := plumbing.Hash(id)
	if err != nil {
		return sum, err
	}
	if err := f.Sync(); err != nil {
		return sum, err
	}
	return sum, f.Close()
}

// writeRepack writes objs, in order, into a new pack and renames it and its
// index into place. It returns the pack's name and size (with its index)
// and how many entries are deltas.
func (r *Repository) writeRepack(ctx context.Context, objs []repackObject, opt RepackOptions, prog Progress, step func(string)) (string, int64, int, error) {
	dir, f, err := r.createTempPack("start pack")
	if err != nil {
		return "", 0, 0, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	out, err := newPackStream(f, len(objs))
	if err != nil {
		return "", 0, 0, fmt.Errorf("write pack: %w", err)
	}
	entries := make([]packEntry, 0, len(objs))
	window := make([]windowEntry, 0, opt.Window)
	deltas := 0
	for i, o := range objs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return "", 0, 0, err
			}
		}
		k, data, err := r.Read(o.id)
		if err != nil {
			return "", 0, 0, err
		}
		if k != o.kind {
			return "", 0, 0, fmt.Errorf("%w: object %s is a %s, not a %s", ErrCorrupt, o.id, k, o.kind)
		}
		var entry []byte
		depth := 0
		if best, d, dd := bestDelta(window, o, k, data, opt.Depth); best >= 0 {
			entry = encodeDeltaEntry(window[best].id, d, opt.Level)
			depth = dd
			deltas++
		}
		if entry == nil {
			level := opt.Level
			if k == KindTree {
				level = 1 // object ids do not compress
			}
			entry = encodeEntry(k, data, level)
		}
		entries = append(entries, packEntry{id: o.id, offset: out.N, crc: crc32.ChecksumIEEE(entry)})
		if _, err := out.Write(entry); err != nil {
			return "", 0, 0, fmt.Errorf("write pack: %w", err)
		}
		if k == KindTree || k == KindBlob {
			if len(window) == opt.Window {
				copy(window, window[1:])
				window = window[:len(window)-1]
			}
			window = append(window, windowEntry{id: o.id, kind: k, dir: o.dir, data: data, depth: depth})
		}
		prog.Add(1)
	}
	sum, err := finishRepack(out, f)
	if err != nil {
		return "", 0, 0, fmt.Errorf("write pack: %w", err)
	}
	step("packed")
	size := out.N + 20

	xname, n, err := writeRepackIndex(dir, entries, sum)
	if err != nil {
		return "", 0, 0, err
	}
	size += int64(n)
	name := "pack-" + sum.String()
	base := filepath.Join(dir, name)
	// The index first: readers only look at .pack files. An identical pack
	// already there (nothing to prune, nothing to delta) is simply
	// replaced by the same bytes.
	if err := os.Rename(xname, base+".idx"); err != nil {
		os.Remove(xname)
		return "", 0, 0, err
	}
	syncDir(dir)
	step("index")
	if err := os.Rename(f.Name(), base+".pack"); err != nil {
		return "", 0, 0, err
	}
	ok = true
	syncDir(dir)
	return name, size, deltas, nil
}
