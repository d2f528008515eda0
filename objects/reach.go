package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// ObjectSet is a set of object ids.
type ObjectSet map[ID]struct{}

// Has reports whether id is in the set.
func (s ObjectSet) Has(id ID) bool {
	_, ok := s[id]
	return ok
}

// Add puts id in the set.
func (s ObjectSet) Add(id ID) { s[id] = struct{}{} }

// Missing lists the objects reachable from the commits tips (their
// ancestors, trees and blobs) that there does not have, as a sender must
// send them: commits, then trees, then blobs. there must be closed under
// reachability (if it has a commit or tree, it has everything that commit
// or tree reaches), as a repository or a remote holding only complete
// snapshots is: the walk does not descend into what there has. It fails
// with ErrNotFound if an object that must be sent is not in the repository.
func (r *Repository) Missing(ctx context.Context, tips []ID, there func(ID) bool) ([]ID, error) {
	var commits, trees, blobs []ID
	seen := ObjectSet{}
	stack := append([]ID(nil), tips...)
	var rootTrees []ID
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen.Has(id) || there(id) {
			continue
		}
		seen.Add(id)
		c, err := r.ReadCommit(id)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", id, err)
		}
		commits = append(commits, id)
		rootTrees = append(rootTrees, c.Tree)
		stack = append(stack, c.Parents...)
	}
	var walk func(id ID) error
	walk = func(id ID) error {
		if seen.Has(id) || there(id) {
			return nil
		}
		seen.Add(id)
		data, err := r.ReadKind(id, KindTree)
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		trees = append(trees, id)
		var sub []ID
		err = WalkTree(data, func(m Mode, _ []byte, e ID) bool {
			switch m {
			case ModeDir:
				sub = append(sub, e)
			case ModeFile:
				if !seen.Has(e) && !there(e) {
					seen.Add(e)
					blobs = append(blobs, e)
				}
			}
			// Other modes (submodules) name no object of this repository.
			return true
		})
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		for _, s := range sub {
			if err := walk(s); err != nil {
				return err
			}
		}
		return ctx.Err()
	}
	for _, t := range rootTrees {
		if err := walk(t); err != nil {
			return nil, err
		}
	}
	for _, b := range blobs {
		if !r.Has(b) {
			return nil, fmt.Errorf("blob %s: %w", b, ErrNotFound)
		}
	}
	out := make([]ID, 0, len(commits)+len(trees)+len(blobs))
	out = append(out, commits...)
	out = append(out, trees...)
	return append(out, blobs...), nil
}

// Closure returns the objects reachable from the commits tips' trees and
// the commits themselves with their ancestors (but not the ancestors'
// trees): what a remote that has these commits certainly has, bounded so
// that computing it costs one snapshot's trees per tip, not the history's.
// Commits or trees missing from this repository are skipped.
func (r *Repository) Closure(ctx context.Context, tips []ID) (ObjectSet, error) {
	set := ObjectSet{}
	var stack []ID
	for _, t := range tips {
		if r.Has(t) {
			stack = append(stack, t)
		}
	}
	var roots []ID
	first := ObjectSet{}
	for _, t := range stack {
		first.Add(t)
	}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if set.Has(id) {
			continue
		}
		c, err := r.ReadCommit(id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return nil, err
		}
		set.Add(id)
		if first.Has(id) {
			roots = append(roots, c.Tree)
		}
		stack = append(stack, c.Parents...)
	}
	var walk func(id ID) error
	walk = func(id ID) error {
		if set.Has(id) {
			return nil
		}
		data, err := r.ReadKind(id, KindTree)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		set.Add(id)
		var sub []ID
		err = WalkTree(data, func(m Mode, _ []byte, e ID) bool {
			switch m {
			case ModeDir:
				sub = append(sub, e)
			case ModeFile:
				set.Add(e)
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, s := range sub {
			if err := walk(s); err != nil {
				return err
			}
		}
		return nil
	}
	for _, t := range roots {
		if err := walk(t); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// CheckConnected checks that everything the commits tips reach is in the
// repository, walking only into objects that fresh holds (what was just
// received): objects the repository had before were complete. It fails with
// ErrNotFound naming the first missing object.
func (r *Repository) CheckConnected(ctx context.Context, tips []ID, fresh func(ID) bool) error {
	seen := ObjectSet{}
	need := func(id ID) (walk bool, err error) {
		if seen.Has(id) {
			return false, nil
		}
		seen.Add(id)
		if fresh(id) {
			return true, nil
		}
		if !r.Has(id) {
			return false, fmt.Errorf("object %s: %w", id, ErrNotFound)
		}
		return false, nil
	}
	stack := append([]ID(nil), tips...)
	var trees []ID
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		walk, err := need(id)
		if err != nil {
			return err
		}
		if !walk {
			continue
		}
		c, err := r.ReadCommit(id)
		if err != nil {
			return fmt.Errorf("commit %s: %w", id, err)
		}
		trees = append(trees, c.Tree)
		stack = append(stack, c.Parents...)
	}
	for len(trees) > 0 {
		id := trees[len(trees)-1]
		trees = trees[:len(trees)-1]
		walk, err := need(id)
		if err != nil {
			return err
		}
		if !walk {
			continue
		}
		data, err := r.ReadKind(id, KindTree)
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		var werr error
		err = WalkTree(data, func(m Mode, _ []byte, e ID) bool {
			switch m {
			case ModeDir:
				trees = append(trees, e)
			case ModeFile:
				if _, werr = need(e); werr != nil {
					return false
				}
			}
			return true
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
	}
	return nil
}

// IsAncestor reports whether commit a is b or one of b's ancestors. Commits
// this repository lacks end the search there.
func (r *Repository) IsAncestor(ctx context.Context, a, b ID) (bool, error) {
	seen := ObjectSet{}
	stack := []ID{b}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == a {
			return true, nil
		}
		if seen.Has(id) {
			continue
		}
		seen.Add(id)
		c, err := r.ReadCommit(id)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return false, err
		}
		stack = append(stack, c.Parents...)
	}
	return false, nil
}

// MissingFrom lists the objects reachable from the commits tips that a
// remote holding the commits bases (and everything they reach) lacks, in
// the order a sender sends them: commits, trees, blobs. Unlike Missing it
// never walks what the remote has: each new commit's trees are compared,
// path by path, with its parents' (or, for a commit without parents, with
// the bases'), and only what differs is read, so the cost follows the size
// of the change rather than of the snapshots. An object that moved to
// another path may be listed although the remote has it (sending it again
// is harmless). Bases this repository lacks are ignored.
func (r *Repository) MissingFrom(ctx context.Context, tips, bases []ID) ([]ID, error) {
	have := ObjectSet{}
	var baseTrees []ID
	stack := append([]ID(nil), bases...)
	first := ObjectSet{}
	for _, b := range bases {
		first.Add(b)
	}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if have.Has(id) {
			continue
		}
		c, err := r.ReadCommit(id)
		if err != nil {
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
				continue // not here (another instance's), or not a commit
			}
			return nil, err
		}
		have.Add(id)
		if first.Has(id) {
			baseTrees = append(baseTrees, c.Tree)
		}
		stack = append(stack, c.Parents...)
	}
	type newCommit struct {
		tree    ID
		parents []ID
	}
	var commits []ID
	info := map[ID]newCommit{}
	stack = append(stack[:0], tips...)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if have.Has(id) {
			continue
		}
		if _, ok := info[id]; ok {
			continue
		}
		c, err := r.ReadCommit(id)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", id, err)
		}
		info[id] = newCommit{c.Tree, c.Parents}
		commits = append(commits, id)
		stack = append(stack, c.Parents...)
	}
	w := &pairWalker{r: r, ctx: ctx, sent: ObjectSet{}}
	for _, id := range commits {
		nc := info[id]
		var refs []ID
		for _, p := range nc.parents {
			if pc, ok := info[p]; ok {
				refs = append(refs, pc.tree)
			} else if c, err := r.ReadCommit(p); err == nil {
				refs = append(refs, c.Tree)
			}
		}
		if len(refs) == 0 {
			refs = baseTrees
		}
		if err := w.walk(nc.tree, refs); err != nil {
			return nil, err
		}
	}
	for _, b := range w.blobs {
		if !r.Has(b) {
			return nil, fmt.Errorf("blob %s: %w", b, ErrNotFound)
		}
	}
	out := make([]ID, 0, len(commits)+len(w.trees)+len(w.blobs))
	out = append(out, commits...)
	out = append(out, w.trees...)
	return append(out, w.blobs...), nil
}

// pairWalker lists the trees and blobs of a tree that differ from reference
// trees at the same paths.
type pairWalker struct {
	r     *Repository
	ctx   context.Context
	sent  ObjectSet
	trees []ID
	blobs []ID
}

// treeEntryRef is an entry of a tree held in memory (its name points into
// the tree's encoding).
type treeEntryRef struct {
	name []byte
	mode Mode
	id   ID
}

// entryLess orders entries as git sorts a tree: by name, a folder's name
// compared as if it ended with '/'.
func entryLess(a []byte, aDir bool, b []byte, bDir bool) int {
	n := min(len(a), len(b))
	if c := bytes.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	next := func(s []byte, dir bool) int {
		if len(s) > n {
			return int(s[n])
		}
		if dir {
			return '/'
		}
		return 0
	}
	return next(a, aDir) - next(b, bDir)
}

func (w *pairWalker) walk(tree ID, refs []ID) error {
	if w.sent.Has(tree) {
		return nil
	}
	for _, ref := range refs {
		if ref == tree {
			return nil
		}
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.sent.Add(tree)
	w.trees = append(w.trees, tree)
	data, err := w.r.ReadKind(tree, KindTree)
	if err != nil {
		return fmt.Errorf("tree %s: %w", tree, err)
	}
	// The reference trees' entries, in git order like the tree's, joined
	// with its entries by merging.
	var old [][]treeEntryRef
	for _, ref := range refs {
		rd, err := w.r.ReadKind(ref, KindTree)
		if err != nil {
			continue
		}
		es := make([]treeEntryRef, 0, len(rd)/40+1)
		WalkTree(rd, func(mode Mode, name []byte, id ID) bool {
			es = append(es, treeEntryRef{name, mode, id})
			return true
		})
		old = append(old, es)
	}
	pos := make([]int, len(old))
	type sub struct {
		id   ID
		refs []ID
	}
	var subs []sub
	err = WalkTree(data, func(mode Mode, name []byte, id ID) bool {
		dir := mode == ModeDir
		var match []treeEntryRef
		for i, es := range old {
			for pos[i] < len(es) && entryLess(es[pos[i]].name, es[pos[i]].mode == ModeDir, name, dir) < 0 {
				pos[i]++
			}
			if pos[i] < len(es) && es[pos[i]].mode == mode && bytes.Equal(es[pos[i]].name, name) {
				match = append(match, es[pos[i]])
			}
		}
		switch mode {
		case ModeDir:
			s := sub{id: id}
			for _, e := range match {
				s.refs = append(s.refs, e.id)
			}
			subs = append(subs, s)
		case ModeFile:
			if w.sent.Has(id) {
				return true
			}
			for _, e := range match {
				if e.id == id {
					return true
				}
			}
			w.sent.Add(id)
			w.blobs = append(w.blobs, id)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("tree %s: %w", tree, err)
	}
	for _, s := range subs {
		if err := w.walk(s.id, s.refs); err != nil {
			return err
		}
	}
	return nil
}
