package snapshot

import (
	"context"
	"fmt"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"golang.org/x/sync/errgroup"
)

// apply carries out a plan: the deletes that free the path of a write
// (see inTheWay), then the writes (project files last, so Kylin never sees
// a project naming a cube that is not there yet), then the other deletes,
// each started in plan order (on several workers, unless the target is
// transactional: it gets everything in one transaction, in plan order). The plan is read once per step, not copied (at a million
// resources the copies of its writes were 128 MB and more).
func (r *Repository) apply(ctx context.Context, snap *Snapshot, target metastore.Store, plan []PlanItem, prog Progress) (err error) {
	n := 0
	for _, it := range plan {
		if it.Action == Added || it.Action == Changed || it.Action == Deleted {
			n++
		}
	}
	a := &applier{r: r, snap: snap, sink: target, prog: prog}
	var tx metastore.Tx
	if t, ok := target.(metastore.Transactional); ok {
		if tx, err = t.Begin(ctx); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tx.Rollback()
			}
		}()
		a.sink = tx
	}
	if z, ok := a.sink.(zlibSink); ok {
		a.zlib = z.TakesZlib()
	}
	prog.Start("restoring", int64(n))
	defer prog.Done()
	if err := a.remove(ctx, plan, true); err != nil {
		return err
	}
	for _, projects := range []bool{false, true} {
		if tx != nil {
			// One connection, one transaction: write in order, with the
			// restore's context (a transaction may use it until it commits).
			err = a.writeInOrder(ctx, plan, projects)
		} else {
			err = a.write(ctx, plan, projects, r.opt.Workers)
		}
		if err != nil {
			return err
		}
	}
	if err := a.remove(ctx, plan, false); err != nil {
		return err
	}
	if tx != nil {
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	if s, ok := target.(metastore.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	return nil
}

// applier writes a plan into a sink: the target, or its transaction.
type applier struct {
	r    *Repository
	snap *Snapshot
	zlib bool // the sink takes zlib streams (zlibSink)
	sink metastore.Sink
	prog Progress
}

// remove carries out the deletes of plan that free the path of a write
// (first), or the others.
func (a *applier) remove(ctx context.Context, plan []PlanItem, first bool) error {
	for _, it := range plan {
		if it.Action != Deleted || it.first != first {
			continue
		}
		if err := a.sink.Delete(ctx, it.Path); err != nil {
			return fmt.Errorf("delete %s: %w", it.Path, err)
		}
		a.prog.Add(1)
	}
	return nil
}

// content returns what to write for a plan item: the snapshot's bytes,
// checked against their id (what a restore writes is exactly what was
// backed up, or nothing), or a merged project file.
func (a *applier) content(it PlanItem) (metastore.Resource, error) {
	if it.data != nil {
		return metastore.Resource{Path: it.Path, Data: *it.data, Timestamp: it.NewTimestamp}, nil
	}
	var data, z []byte
	var err error
	if a.zlib {
		data, z, err = a.r.objs.ReadBlobZlib(it.from)
	} else {
		data, err = a.r.objs.ReadKind(it.from, objects.KindBlob)
	}
	if err != nil {
		return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: content of %s: %v", ErrCorrupt, a.snap.Info.ID.Short(), it.Path, err)
	}
	if got := objects.HashObject(objects.KindBlob, data); got != it.from {
		return metastore.Resource{}, fmt.Errorf("%w: snapshot %s: content of %s does not match its id %s", ErrCorrupt, a.snap.Info.ID.Short(), it.Path, it.from)
	}
	// Read for this write alone: the sink may keep it.
	return metastore.Resource{Path: it.Path, Data: data, Timestamp: it.NewTimestamp, Zlib: z, Owned: true}, nil
}

// zlibSink is a sink that keeps content as zlib streams (a Kylin 5
// database) and can take a resource's as it is (metastore.Resource.Zlib):
// the restore then hands on the stream the snapshot's pack holds.
type zlibSink interface {
	TakesZlib() bool
}

// writeOne writes one plan item.
func (a *applier) writeOne(ctx context.Context, it PlanItem) error {
	res, err := a.content(it)
	if err != nil {
		return err
	}
	if err := a.sink.Write(ctx, res); err != nil {
		return fmt.Errorf("write %s: %w", it.Path, err)
	}
	a.prog.Add(1)
	return nil
}

// writes reports whether it is a write of the project files (projects) or
// of the other resources.
func writes(it PlanItem, projects bool) bool {
	return (it.Action == Added || it.Action == Changed) && scope.IsProjectFile(it.Path) == projects
}

// writeInOrder writes, in plan order, the project files of plan (projects)
// or its other resources.
func (a *applier) writeInOrder(ctx context.Context, plan []PlanItem, projects bool) error {
	for _, it := range plan {
		if !writes(it, projects) {
			continue
		}
		if err := a.writeOne(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// write is writeInOrder with up to workers goroutines; the first error
// stops the others.
func (a *applier) write(ctx context.Context, plan []PlanItem, projects bool, workers int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, it := range plan {
		if gctx.Err() != nil {
			break
		}
		if !writes(it, projects) {
			continue
		}
		g.Go(func() error { return a.writeOne(gctx, it) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
