package objects

import (
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
