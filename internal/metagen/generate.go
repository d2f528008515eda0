package metagen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/kylin-tools/metastore/metastore"
)

// Options are the parameters of one Generate run.
type Options struct {
	// Resources is the number of resources to write (at least MinResources).
	Resources int
	// Projects is the number of projects; 0 picks one per ~4,000 resources.
	Projects int
	// Seed selects the deployment: the same seed, counts and shape give the
	// same bytes and timestamps.
	Seed uint64
	// Shape is the spread of resources over Kylin's folders (ShapeDefault
	// if empty).
	Shape Shape
	// Workers is the number of resources written in parallel; 0 picks from
	// the CPU count. It does not change the output.
	Workers int
}

// Stats describes a generated metastore.
type Stats struct {
	// Dir names the metastore written; Generate leaves it empty for the
	// caller to fill.
	Dir      string `json:"dir"`
	Seed     uint64 `json:"seed"`
	Shape    Shape  `json:"shape"`
	Projects int    `json:"projects"`
	// Resources and Bytes count every file written.
	Resources int   `json:"resources"`
	Bytes     int64 `json:"bytes"`
	// Types breaks the count down by resource type, most numerous first.
	Types []TypeStats `json:"types"`
	// Sizes is a histogram of resource sizes.
	Sizes []SizeBin `json:"sizes"`
}

// TypeStats counts the resources under one top-level folder ("dict",
// "execute_output", ...; "UUID" for /UUID).
type TypeStats struct {
	Type     string `json:"type"`
	Count    int    `json:"count"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
}

// SizeBin counts resources whose size is below Below bytes (and at least
// the previous bin's bound); the last bin has Below = 0, no bound.
type SizeBin struct {
	Label string `json:"label"`
	Below int64  `json:"below"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

var sizeBins = []SizeBin{
	{Label: "<1 KiB", Below: 1 << 10},
	{Label: "1-10 KiB", Below: 10 << 10},
	{Label: "10-100 KiB", Below: 100 << 10},
	{Label: "100 KiB-1 MiB", Below: 1 << 20},
	{Label: "1-4 MiB", Below: 4 << 20},
	{Label: ">=4 MiB"},
}

// statsCollector accumulates Stats; safe for concurrent use.
type statsCollector struct {
	mu    sync.Mutex
	types map[string]*TypeStats
	bins  []SizeBin
	n     int
	bytes int64
}

func newStatsCollector() *statsCollector {
	return &statsCollector{types: map[string]*TypeStats{}, bins: slices.Clone(sizeBins)}
}

func resourceType(path string) string {
	t, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return t
}

func (c *statsCollector) add(path string, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	typ := resourceType(path)
	t := c.types[typ]
	if t == nil {
		t = &TypeStats{Type: typ}
		c.types[typ] = t
	}
	t.Count++
	t.Bytes += size
	t.MaxBytes = max(t.MaxBytes, size)
	c.n++
	c.bytes += size
	for i := range c.bins {
		if c.bins[i].Below == 0 || size < c.bins[i].Below {
			c.bins[i].Count++
			c.bins[i].Bytes += size
			break
		}
	}
}

func (c *statsCollector) result() Stats {
	s := Stats{Resources: c.n, Bytes: c.bytes, Sizes: c.bins}
	for _, t := range c.types {
		s.Types = append(s.Types, *t)
	}
	slices.SortFunc(s.Types, func(a, b TypeStats) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Type, b.Type)
	})
	return s
}

// Generate writes a synthetic metastore as opts describe into sink, which
// should hold nothing yet (Generate writes and never deletes). A
// metastore.Transactional sink (a database) gets every write in one
// transaction. Resources are written in parallel: sink must be safe for
// concurrent use. An error about opts wraps ErrOptions.
func Generate(ctx context.Context, sink metastore.Sink, opts Options) (Stats, error) {
	p, err := buildPlan(opts.Resources, opts.Projects, opts.Seed, opts.Shape)
	if err != nil {
		return Stats{}, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	w := &emitter{plan: p, stats: newStatsCollector()}
	err = inTransaction(ctx, sink, func(s metastore.Sink) error {
		w.sink = s
		return w.run(ctx, workers)
	})
	if err != nil {
		return Stats{}, err
	}
	s := w.stats.result()
	s.Seed, s.Shape, s.Projects = opts.Seed, p.shape, len(p.projects)
	return s, nil
}

// Check returns the error Generate would return for opts before writing
// anything (wrapping ErrOptions), or nil.
func Check(opts Options) error {
	_, err := buildPlan(opts.Resources, opts.Projects, opts.Seed, opts.Shape)
	return err
}

// inTransaction calls fn with a transaction of sink when sink is
// metastore.Transactional, committed if fn succeeds, or with sink itself.
func inTransaction(ctx context.Context, sink metastore.Sink, fn func(metastore.Sink) error) (err error) {
	t, ok := sink.(metastore.Transactional)
	if !ok {
		return fn(sink)
	}
	tx, err := t.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// emitter renders the plan's resources and writes them with a pool of
// workers. Content is drawn from generators keyed by resource path, so the
// result does not depend on scheduling.
type emitter struct {
	plan  *plan
	sink  metastore.Sink
	stats *statsCollector
	ctx   context.Context // the caller's, for writes
}

// unit is one piece of work: it writes one or a few resources, using the
// worker's scratch state.
type unit func(sc *scratch) error

func (e *emitter) run(ctx context.Context, workers int) error {
	// Writes get the caller's context: a transaction sends batches of them
	// after run returns, at its commit.
	e.ctx = ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	units := make(chan unit, 4*workers)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc scratch
			for u := range units {
				if err := u(&sc); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	e.units(func(u unit) bool {
		select {
		case units <- u:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(units)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// putJSON writes v as Kylin-formatted JSON.
func (e *emitter) putJSON(path string, ts int64, v any) error {
	data, err := marshalKylin(v)
	if err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return e.put(path, ts, data)
}

// putRendered writes what render makes of path, given path's own random
// source (rendered).
func (e *emitter) putRendered(path string, ts int64, render func(*rand.Rand) ([]byte, error)) error {
	data, err := rendered(e.plan.seed, path, render)
	if err != nil {
		return err
	}
	return e.put(path, ts, data)
}

func (e *emitter) put(path string, ts int64, data []byte) error {
	if err := e.sink.Write(e.ctx, metastore.Resource{Path: path, Data: data, Timestamp: ts}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	e.stats.add(path, int64(len(data)))
	return nil
}

// units calls send with every unit of the plan until send returns false.
func (e *emitter) units(send func(unit) bool) {
	p := e.plan
	seed := p.seed
	var stop bool
	emit := func(u unit) {
		if !stop && !send(u) {
			stop = true
		}
	}
	emit(func(*scratch) error { return e.put("/UUID", p.install, renderUUIDFile(p.uuid)) })
	for _, g := range p.groups {
		emit(func(*scratch) error {
			return e.putJSON("/user_group/"+g.name, g.ts, userGroupJSON{rootEntity: root(g.uuid, g.ts), GroupName: g.name})
		})
	}
	for _, u := range p.users {
		emit(func(*scratch) error {
			path := "/user/" + u.name
			return e.putJSON(path, u.modified, renderUser(newRand(seed, path), u))
		})
	}
	for _, pr := range p.projects {
		projectObj := &domainObjectJSON{ID: pr.uuid, Type: aclTypeProject}
		emit(func(*scratch) error {
			if err := e.putJSON("/project/"+pr.name+".json", pr.modified, renderProject(pr)); err != nil {
				return err
			}
			path := "/bad_query/" + pr.name + ".json"
			if err := e.putJSON(path, pr.badQueryTS, renderBadQuery(newRand(seed, path), pr, p.users)); err != nil {
				return err
			}
			path = "/acl/" + pr.uuid
			return e.putJSON(path, pr.created, renderACL(newRand(seed, path), pr.uuid, aclTypeProject, nil, pr.owner, pr.created, p.users, p.groups))
		})
		for _, t := range pr.tables {
			emit(func(*scratch) error {
				if err := e.putJSON(t.path(), t.created, renderTable(t)); err != nil {
					return err
				}
				return e.putJSON(t.exdPath(), t.exdTS, renderTableExt(newRand(seed, t.exdPath()), t))
			})
		}
		for _, m := range pr.models {
			emit(func(*scratch) error {
				if err := e.putJSON(m.path(), m.created, renderModel(m)); err != nil {
					return err
				}
				path := "/acl/" + m.uuid
				return e.putJSON(path, m.created, renderACL(newRand(seed, path), m.uuid, aclTypeModel, projectObj, m.owner, m.created, p.users, p.groups))
			})
		}
		for _, c := range pr.cubes {
			emit(func(*scratch) error {
				if err := e.putJSON(c.descPath(), c.descModified, renderCubeDesc(newRand(seed, c.descPath()), c)); err != nil {
					return err
				}
				if err := e.putJSON(c.path(), c.modified, renderCube(newRand(seed, c.path()), c)); err != nil {
					return err
				}
				path := "/acl/" + c.uuid
				return e.putJSON(path, c.created, renderACL(newRand(seed, path), c.uuid, aclTypeCube, projectObj, c.owner, c.created, p.users, p.groups))
			})
			for _, s := range c.segments {
				emit(func(sc *scratch) error {
					return e.putRendered(s.statsPath(c), s.statsTS, func(r *rand.Rand) ([]byte, error) {
						return renderStats(r, statsSpec{dims: len(c.rowkey), inputRows: s.inputRecords, samplePct: 100, mapperNums: 1 + r.IntN(200)}, sc)
					})
				})
				for _, d := range s.dicts {
					emit(func(*scratch) error {
						return e.putRendered(d.path(), d.ts, func(r *rand.Rand) ([]byte, error) { return renderDict(r, dictSpecOf(d)) })
					})
				}
				for _, sn := range s.snaps {
					emit(func(*scratch) error {
						return e.putRendered(sn.path(), sn.ts, func(r *rand.Rand) ([]byte, error) { return renderSnapshot(r, snapSpecOf(sn)) })
					})
				}
			}
		}
	}
	for _, j := range p.jobs {
		emit(func(*scratch) error { return e.writeJob(j) })
	}
}

// writeJob writes a job's /execute, its /execute_output and one output per
// step (and, in the jobs shape, one /execute entry per step).
func (e *emitter) writeJob(j *job) error {
	return jobFiles(e.plan.seed, j, e.plan.shape == ShapeJobs, e.putJSON)
}

// jobFiles renders a job's /execute, its /execute_output and one output
// per step, with taskFiles also one /execute/<job>-NN per step (the step's
// ExecutablePO, as the job lists it in "tasks"), and hands each to put with
// its timestamp.
func jobFiles(seed uint64, j *job, taskFiles bool, put func(path string, ts int64, v any) error) error {
	exec := renderExecute(j)
	if err := put(executePath(j.id), j.submitted, exec); err != nil {
		return err
	}
	if taskFiles {
		for i, t := range exec.Tasks {
			t.LastModified = j.submitted
			if err := put(stepExecutePath(j.id, i), j.submitted, t); err != nil {
				return err
			}
		}
	}
	if err := put(outputPath(j.id), j.updated, renderJobOutput(j)); err != nil {
		return err
	}
	spans := timeline(seed, j)
	for i, def := range jobSteps(j.kind, j.steps) {
		path := stepOutputPath(j.id, i)
		o := renderStepOutput(newRand(seed, path), j, i, def, spans[i])
		if err := put(path, o.LastModified, o); err != nil {
			return err
		}
	}
	return nil
}

func dictSpecOf(d dictFile) dictSpec {
	idx := 0
	for i, c := range d.ref.t.columns {
		if c.name == d.ref.col.name {
			idx = i
		}
	}
	return dictSpec{
		uuid: d.uuid, ts: d.ts,
		table: d.ref.t.identity(), col: d.ref.col.name, colIndex: idx,
		datatype: d.ref.col.datatype, cardinality: d.card,
	}
}

// maxSnapshotBytes bounds the size of one snapshot file.
const maxSnapshotBytes = 4 << 20

func snapSpecOf(s snapFile) snapSpec {
	cols := make([]string, len(s.t.columns))
	for i, c := range s.t.columns {
		cols[i] = c.name
	}
	return snapSpec{uuid: s.uuid, ts: s.ts, table: s.t.identity(), columns: cols, rows: min(s.rows, maxSnapshotBytes/(14*len(cols)))}
}
