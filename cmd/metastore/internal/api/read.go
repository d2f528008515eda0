package api

import (
	"context"
	"errors"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// LogRequest selects snapshots: all of them, or those of one scope, newest
// first.
type LogRequest struct {
	Scope    string // "" for every scope; else system, project/P or cube/C
	N        int    // at most this many (0: all)
	NoSafety bool   // leave out the safety snapshots
	// Instance selects the snapshots of one instance (a metastore UUID or
	// a unique prefix), this repository's or pulled from a remote, or of
	// every instance (snapshot.AllInstances); "" lists this repository's
	// own (snapshot.LogFilter.Instance).
	Instance string
}

// Log lists snapshots, newest first.
func (e *Env) Log(ctx context.Context, req LogRequest) ([]snapshot.Info, error) {
	f := snapshot.LogFilter{ExcludeSafety: req.NoSafety, Instance: req.Instance}
	if req.Scope != "" {
		s, err := scope.Parse(req.Scope)
		if err != nil {
			return nil, Usagef("--scope: %v", err)
		}
		f.Scope, f.HasScope = s, true
	}
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	list, err := repo.Log(ctx, f)
	if err != nil {
		return nil, err
	}
	if req.N > 0 && len(list) > req.N {
		list = list[:req.N]
	}
	return list, nil
}

// Instances lists the instances the repository knows: its own first, then
// those pulled from remotes (snapshot.Repository.Instances).
func (e *Env) Instances(ctx context.Context) ([]snapshot.InstanceInfo, error) {
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return repo.Instances(ctx)
}

// Show describes the snapshot ref names (show REF), its source's password
// masked.
func (e *Env) Show(ctx context.Context, ref string) (*snapshot.Summary, error) {
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	snap, err := repo.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	sum, err := repo.Summarize(ctx, snap)
	if err != nil {
		return nil, err
	}
	sum.Info.Source = locate.Mask(sum.Info.Source)
	return sum, nil
}

// ShowResource returns one resource of the snapshot ref names (show
// REF:PATH) and the snapshot.
func (e *Env) ShowResource(ctx context.Context, ref, path string) (snapshot.Info, metastore.Resource, error) {
	if err := metastore.CheckPath(path); err != nil {
		return snapshot.Info{}, metastore.Resource{}, Usagef("%v", err)
	}
	repo, err := e.openRepo()
	if err != nil {
		return snapshot.Info{}, metastore.Resource{}, err
	}
	defer repo.Close()
	snap, err := repo.Open(ctx, ref)
	if err != nil {
		return snapshot.Info{}, metastore.Resource{}, err
	}
	res, err := snap.Resource(ctx, path)
	return snap.Info, res, err
}

// Ls lists the resources of the snapshot ref names below prefix (ls REF
// [PREFIX]), and the snapshot.
func (e *Env) Ls(ctx context.Context, ref, prefix string) (snapshot.Info, []metastore.Entry, error) {
	if prefix != "" {
		if err := metastore.CheckPrefix("/" + strings.TrimPrefix(prefix, "/")); err != nil {
			return snapshot.Info{}, nil, Usagef("%v", err)
		}
	}
	repo, err := e.openRepo()
	if err != nil {
		return snapshot.Info{}, nil, err
	}
	defer repo.Close()
	snap, err := repo.Open(ctx, ref)
	if err != nil {
		return snapshot.Info{}, nil, err
	}
	entries, err := snap.Entries(ctx, prefix)
	return snap.Info, entries, err
}

// ReadDir lists one folder of the snapshot ref names, a page at a time
// (snapshot.Snapshot.ReadDir), and the snapshot.
func (e *Env) ReadDir(ctx context.Context, ref, dir string, offset, limit int) (snapshot.Info, []snapshot.DirEntry, int, error) {
	repo, err := e.openRepo()
	if err != nil {
		return snapshot.Info{}, nil, 0, err
	}
	defer repo.Close()
	snap, err := repo.Open(ctx, ref)
	if err != nil {
		return snapshot.Info{}, nil, 0, err
	}
	entries, total, err := snap.ReadDir(ctx, dir, offset, limit)
	if err != nil && errors.Is(err, metastore.ErrInvalidPath) {
		err = UsageError{err.Error()}
	}
	return snap.Info, entries, total, err
}
