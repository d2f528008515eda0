package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
)

// Snapshot is a recorded snapshot opened for reading. It is a
// metastore.Source (and EntryLister), so everything that reads a metastore
// (scope resolution, restore, diff) reads a snapshot the same way. Lookups go
// by path through the trees, never through the whole snapshot.
type Snapshot struct {
	Info Info

	repo *Repository
	tree *tree.Root
}

// Open opens the snapshot ref names (see Resolve; the scope used for
// "latest" is the whole system).
func (r *Repository) Open(ctx context.Context, ref string) (*Snapshot, error) {
	in, err := r.Resolve(ctx, ref, scope.SystemScope())
	if err != nil {
		return nil, err
	}
	return r.open(in), nil
}

// OpenInfo opens the snapshot in describes.
func (r *Repository) OpenInfo(in Info) *Snapshot { return r.open(in) }

func (r *Repository) open(in Info) *Snapshot {
	return &Snapshot{Info: in, repo: r, tree: r.trees.Open(in.tree, "snapshot "+in.ID.Short())}
}

// Describe names the snapshot for messages.
func (s *Snapshot) Describe() string { return "snapshot " + s.Info.ID.Short() }

// lookup finds the blob and timestamp of resource p.
func (s *Snapshot) lookup(p string) (objects.ID, int64, error) {
	if err := checkKey(p); err != nil {
		return objects.ID{}, 0, err
	}
	return s.tree.Lookup(p)
}

// Exists reports whether the snapshot holds resource p, searching only
// p's folder (see metastore.Exister).
func (s *Snapshot) Exists(ctx context.Context, p string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(p); err != nil {
		return false, err
	}
	return s.tree.Exists(p)
}

// Read returns the resource at p with the snapshot's bytes and timestamp.
// A resource the snapshot lacks gives an error wrapping fs.ErrNotExist.
func (s *Snapshot) Read(ctx context.Context, p string) (metastore.Resource, error) {
	if err := ctx.Err(); err != nil {
		return metastore.Resource{}, err
	}
	id, ts, err := s.lookup(p)
	if err != nil {
		return metastore.Resource{}, err
	}
	data, err := s.content(p, id)
	if err != nil {
		return metastore.Resource{}, err
	}
	return metastore.Resource{Path: p, Data: data, Timestamp: ts}, nil
}

// content reads blob id, the content of resource p.
func (s *Snapshot) content(p string, id objects.ID) ([]byte, error) {
	data, err := s.repo.objs.ReadKind(id, objects.KindBlob)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return nil, fmt.Errorf("%w: snapshot %s: content of %s (object %s) is missing", ErrCorrupt, s.Info.ID.Short(), p, id)
		}
		return nil, fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, s.Info.ID.Short(), p, err)
	}
	return data, nil
}

// Walk calls fn for each resource whose path starts with prefix, in byte
// order of path, with its content and timestamp (metastore.Walker); a
// resource whose content cannot be read is passed with the error Read
// gives. It reads the resources' folders once each, and big ones entry by
// entry without keeping them: a project scope reads every job of a large
// snapshot through it, one at a time.
func (s *Snapshot) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return err
	}
	return s.tree.Walk(ctx, prefix, true, func(e tree.Entry) error {
		data, err := s.content(e.Key, e.ID)
		return fn(metastore.Resource{Path: e.Key, Data: data, Timestamp: e.Timestamp}, err)
	})
}

// List calls fn for each resource whose path starts with prefix, in byte
// order of path.
func (s *Snapshot) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.walk(ctx, prefix, false, func(e metastore.Entry) error { return fn(e.Path) })
}

// ListEntries is List with sizes and timestamps. Change is the content's
// object id, so equal Change means equal bytes.
func (s *Snapshot) ListEntries(ctx context.Context, prefix string, fn func(metastore.Entry) error) error {
	return s.walk(ctx, prefix, true, fn)
}

func (s *Snapshot) walk(ctx context.Context, prefix string, sizes bool, fn func(metastore.Entry) error) error {
	if err := metastore.CheckPrefix(prefix); err != nil {
		return err
	}
	return s.tree.Walk(ctx, prefix, sizes, func(e tree.Entry) error {
		ent := metastore.Entry{Path: e.Key}
		if sizes {
			// Entries: the timestamp record, the size and the object id
			// (List needs none of them).
			n, err := s.repo.objs.Size(e.ID)
			if err != nil {
				return fmt.Errorf("%w: snapshot %s: %s: %v", ErrCorrupt, s.Info.ID.Short(), e.Key, err)
			}
			ent.Size, ent.Timestamp, ent.Change = n, e.Timestamp, e.ID.String()
		}
		return fn(ent)
	})
}
