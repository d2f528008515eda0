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
	var err error
	if f.Scope, f.HasScope, err = parseScope(req.Scope); err != nil {
		return nil, err
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
	var sum *snapshot.Summary
	err := e.withSnapshot(ctx, ref, func(repo *snapshot.Repository, snap *snapshot.Snapshot) (err error) {
		sum, err = repo.Summarize(ctx, snap)
		return err
	})
	if err != nil {
		return nil, err
	}
	sum.Info.Source = locate.Mask(sum.Info.Source)
	return sum, nil
}

// ShowResource returns one resource of the snapshot ref names (show
// REF:PATH) and the snapshot.
func (e *Env) ShowResource(ctx context.Context, ref, path string) (info snapshot.Info, res metastore.Resource, err error) {
	if err := metastore.CheckPath(path); err != nil {
		return info, res, Usagef("%v", err)
	}
	err = e.withSnapshot(ctx, ref, func(_ *snapshot.Repository, snap *snapshot.Snapshot) (err error) {
		info = snap.Info
		res, err = snap.Resource(ctx, path)
		return err
	})
	return info, res, err
}

// Ls lists the resources of the snapshot ref names below prefix (ls REF
// [PREFIX]), and the snapshot.
func (e *Env) Ls(ctx context.Context, ref, prefix string) (info snapshot.Info, entries []metastore.Entry, err error) {
	info, err = e.LsEach(ctx, ref, prefix, func(en metastore.Entry) error {
		entries = append(entries, en)
		return nil
	})
	return info, entries, err
}

// LsEach is Ls, one entry at a time (snapshot.Snapshot.EachEntry): fn gets
// each in path order, while the snapshot is open.
func (e *Env) LsEach(ctx context.Context, ref, prefix string, fn func(metastore.Entry) error) (info snapshot.Info, err error) {
	if prefix != "" {
		if err := metastore.CheckPrefix("/" + strings.TrimPrefix(prefix, "/")); err != nil {
			return info, Usagef("%v", err)
		}
	}
	err = e.withSnapshot(ctx, ref, func(_ *snapshot.Repository, snap *snapshot.Snapshot) error {
		info = snap.Info
		return snap.EachEntry(ctx, prefix, fn)
	})
	return info, err
}

// ReadDir lists one folder of the snapshot ref names, a page at a time
// (snapshot.Snapshot.ReadDir), and the snapshot.
func (e *Env) ReadDir(ctx context.Context, ref, dir string, offset, limit int) (info snapshot.Info, entries []snapshot.DirEntry, total int, err error) {
	err = e.withSnapshot(ctx, ref, func(_ *snapshot.Repository, snap *snapshot.Snapshot) (err error) {
		info = snap.Info
		entries, total, err = snap.ReadDir(ctx, dir, offset, limit)
		return err
	})
	if err != nil && errors.Is(err, metastore.ErrInvalidPath) {
		err = UsageError{err.Error()}
	}
	return info, entries, total, err
}

// withSnapshot opens the configured repository and the snapshot ref names,
// and runs fn with them; the repository is closed when fn returns.
func (e *Env) withSnapshot(ctx context.Context, ref string, fn func(*snapshot.Repository, *snapshot.Snapshot) error) error {
	repo, err := e.openRepo()
	if err != nil {
		return err
	}
	defer repo.Close()
	snap, err := repo.Open(ctx, ref)
	if err != nil {
		return err
	}
	return fn(repo, snap)
}

// parseScope parses an optional --scope: ok is false for "".
func parseScope(s string) (sc scope.Scope, ok bool, err error) {
	if s == "" {
		return sc, false, nil
	}
	if sc, err = scope.Parse(s); err != nil {
		return sc, false, Usagef("--scope: %v", err)
	}
	return sc, true, nil
}
