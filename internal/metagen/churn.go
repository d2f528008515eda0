package metagen

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// ChurnOptions are the parameters of one churn round.
type ChurnOptions struct {
	// Fraction is the share of resources to touch, in (0, 1].
	Fraction float64
	// Seed selects the changes; together with the metastore's content it
	// determines the result.
	Seed uint64
}

// ChurnStats describes one churn round.
type ChurnStats struct {
	// Dir names the metastore changed; Churn leaves it empty for the caller
	// to fill.
	Dir      string  `json:"dir"`
	Seed     uint64  `json:"seed"`
	Fraction float64 `json:"fraction"`
	// Before and After count the resources around the round.
	Before int `json:"resources_before"`
	After  int `json:"resources_after"`
	// Target is Fraction of Before: the resources the round aims to touch.
	Target int `json:"target"`
	// Touched is Added + Modified + Deleted: distinct resources changed.
	Touched  int `json:"touched"`
	Added    int `json:"added"`
	Modified int `json:"modified"`
	Deleted  int `json:"deleted"`
	// Timestamp is where the round's clock starts (milliseconds), after
	// the newest mtime in Dir; every changed file is dated after it.
	Timestamp int64 `json:"timestamp"`
}

// Shares of the touched resources per kind of change: in the jobs shape,
// the scheduler adds jobs about as fast as the cleanup job deletes them.
const (
	churnModifyShare     = 0.6
	churnAddShare        = 0.3
	churnJobsModifyShare = 0.4
	churnJobsAddShare    = 0.3
)

// ErrNotMetastore is wrapped by churn's error when --dir holds no Kylin
// metastore that churn can work on.
var ErrNotMetastore = errors.New("not a kylin-metagen metastore")

type changeKind int

const (
	added changeKind = iota
	modified
	deleted
)

type change struct {
	kind changeKind
	data []byte
	ts   int64
}

type cubeState struct {
	path    string
	project string
	c       cubeJSON
}

type jobState struct {
	id      string
	status  string
	updated int64
	steps   []string // step output paths, in order
	tasks   []string // step /execute paths (jobs shape), in order
}

func (j *jobState) size() int { return 2 + len(j.steps) + len(j.tasks) }

// churner holds a metastore's state while a round of changes is planned.
// Nothing is written until apply.
type churner struct {
	r       *rand.Rand
	seed    uint64
	src     metastore.Source
	ctx     context.Context
	shape   Shape // ShapeJobs when jobs keep an /execute entry per step
	now     int64
	before  int
	mtimes  map[string]int64
	exists  map[string]bool
	changes map[string]*change
	refs    map[string]int // dictionary and snapshot paths -> referencing segments

	cubes      []*cubeState
	cubeByName map[string]*cubeState
	jobs       []*jobState // sorted by last update, oldest first
	descs      []string
	models     []string
	acls       []string
	projects   []string
	exds       []string
	users      []string
}

// Churn applies one round of changes to the metastore in store, touching
// about opts.Fraction of its resources. It reads what it plans with first,
// then writes the changes in path order, in one transaction when store is
// metastore.Transactional. A metastore that holds no cube or project gives
// an error wrapping ErrNotMetastore; a fraction out of (0, 1] one wrapping
// ErrOptions.
func Churn(ctx context.Context, store metastore.Store, opts ChurnOptions) (ChurnStats, error) {
	if err := CheckChurn(opts); err != nil {
		return ChurnStats{}, err
	}
	c, err := loadChurner(ctx, store, opts.Seed)
	if err != nil {
		return ChurnStats{}, err
	}
	st := ChurnStats{Seed: opts.Seed, Fraction: opts.Fraction, Before: c.before, Timestamp: c.now}
	st.Target = max(1, int(math.Round(opts.Fraction*float64(c.before))))
	if err := c.plan(st.Target); err != nil {
		return ChurnStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return ChurnStats{}, err
	}
	if err := inTransaction(ctx, store, c.apply); err != nil {
		return ChurnStats{}, err
	}
	n := c.counts()
	st.Added, st.Modified, st.Deleted = n[added], n[modified], n[deleted]
	st.Touched = st.Added + st.Modified + st.Deleted
	st.After = st.Before + st.Added - st.Deleted
	return st, nil
}

// CheckChurn returns the error Churn would return for opts before reading
// anything (wrapping ErrOptions), or nil.
func CheckChurn(opts ChurnOptions) error {
	if !(opts.Fraction > 0 && opts.Fraction <= 1) {
		return &optionsError{fmt.Sprintf("--fraction %v: must be in (0, 1], such as 0.01 for 1%%", opts.Fraction)}
	}
	return nil
}

// loadChurner lists src and reads the resources churn plans with: cubes,
// projects and job outputs.
func loadChurner(ctx context.Context, src metastore.Source, seed uint64) (*churner, error) {
	c := &churner{
		seed:       seed,
		src:        src,
		ctx:        ctx,
		shape:      ShapeDefault,
		mtimes:     map[string]int64{},
		exists:     map[string]bool{},
		changes:    map[string]*change{},
		refs:       map[string]int{},
		cubeByName: map[string]*cubeState{},
	}
	var paths []string
	var maxTS int64
	err := metastore.ListEntries(ctx, src, "/", func(e metastore.Entry) error {
		paths = append(paths, e.Path)
		c.mtimes[e.Path] = e.Timestamp
		c.exists[e.Path] = true
		maxTS = max(maxTS, e.Timestamp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", metastore.Describe(src), err)
	}
	slices.Sort(paths)
	c.before = len(paths)
	c.r = newRand(seed, fmt.Sprintf("churn:%d:%d", len(paths), maxTS))
	c.now = maxTS + between(c.r, 10*minute, 12*hour)

	steps := map[string][]string{}
	tasks := map[string][]string{}
	var jobIDs []string
	// The resources the operations pick from, by type (cubes and descs
	// below: only their .json).
	lists := map[string]*[]string{"model_desc": &c.models, "acl": &c.acls, "project": &c.projects, "table_exd": &c.exds, "user": &c.users}
	for _, p := range paths {
		typ := resourceType(p)
		name := strings.TrimPrefix(p, "/"+typ+"/")
		if l := lists[typ]; l != nil {
			*l = append(*l, p)
			continue
		}
		switch typ {
		case "cube":
			if strings.HasSuffix(p, ".json") {
				cs := &cubeState{path: p}
				if err := c.readJSON(p, &cs.c); err != nil {
					return nil, err
				}
				c.cubes = append(c.cubes, cs)
				c.cubeByName[cs.c.Name] = cs
				for _, s := range cs.c.Segments {
					for _, d := range s.Dictionaries {
						c.refs[d]++
					}
					for _, sn := range s.Snapshots {
						c.refs[sn]++
					}
				}
			}
		case "cube_desc":
			if strings.HasSuffix(p, ".json") {
				c.descs = append(c.descs, p)
			}
		case "execute":
			if id, ok := cutStepSuffix(name); ok {
				tasks[id] = append(tasks[id], p)
				c.shape = ShapeJobs
			} else {
				jobIDs = append(jobIDs, name)
			}
		case "execute_output":
			if id, ok := cutStepSuffix(name); ok {
				steps[id] = append(steps[id], p)
			}
		}
	}
	if len(c.cubes) == 0 || len(c.projects) == 0 {
		return nil, fmt.Errorf("%s: %w: it holds no /cube/*.json or /project/*.json", metastore.Describe(src), ErrNotMetastore)
	}
	for _, p := range c.projects {
		var pj projectJSON
		if err := c.readJSON(p, &pj); err != nil {
			return nil, err
		}
		for _, r := range pj.Realizations {
			if cs := c.cubeByName[r.Realization]; cs != nil {
				cs.project = pj.Name
			}
		}
	}
	for _, id := range jobIDs {
		out := outputPath(id)
		if !c.exists[out] {
			continue
		}
		var o outputJSON
		if err := c.readJSON(out, &o); err != nil {
			return nil, err
		}
		c.jobs = append(c.jobs, &jobState{id: id, status: o.Status, updated: c.mtimes[out], steps: steps[id], tasks: tasks[id]})
	}
	slices.SortStableFunc(c.jobs, func(a, b *jobState) int {
		return cmp.Or(cmp.Compare(a.updated, b.updated), strings.Compare(a.id, b.id))
	})
	return c, nil
}

// cutStepSuffix returns the job id of a step output name "<uuid>-NN".
func cutStepSuffix(name string) (id string, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i != 36 || len(name) < 38 {
		return "", false
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return "", false
	}
	return name[:i], true
}

// read returns a resource's content as churn left it so far.
func (c *churner) read(path string) ([]byte, error) {
	if ch := c.changes[path]; ch != nil {
		if ch.kind == deleted {
			return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
		}
		return ch.data, nil
	}
	r, err := c.src.Read(c.ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return r.Data, nil
}

func (c *churner) readJSON(path string, v any) error {
	data, err := c.read(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w: %v", path, ErrNotMetastore, err)
	}
	return nil
}

// put records a new content for path.
func (c *churner) put(path string, data []byte, ts int64) {
	if ch := c.changes[path]; ch != nil {
		ch.data, ch.ts = data, ts
		if ch.kind == deleted {
			ch.kind = modified
		}
		c.exists[path] = true
		return
	}
	kind := modified
	if !c.exists[path] {
		kind = added
	}
	c.changes[path] = &change{kind: kind, data: data, ts: ts}
	c.exists[path] = true
}

// putRendered records what render makes of path, given path's own random
// source (rendered), at ts.
func (c *churner) putRendered(path string, ts int64, render func(*rand.Rand) ([]byte, error)) error {
	data, err := rendered(c.seed, path, render)
	if err != nil {
		return err
	}
	c.put(path, data, ts)
	return nil
}

func (c *churner) putJSON(path string, v any, ts int64) error {
	data, err := marshalKylin(v)
	if err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	c.put(path, data, ts)
	return nil
}

// remove records the deletion of path.
func (c *churner) remove(path string) {
	if ch := c.changes[path]; ch != nil && ch.kind == added {
		delete(c.changes, path)
	} else if c.exists[path] {
		c.changes[path] = &change{kind: deleted}
	}
	delete(c.exists, path)
}

// counts returns the number of changes of each kind so far.
func (c *churner) counts() (n [3]int) {
	for _, ch := range c.changes {
		n[ch.kind]++
	}
	return n
}

// tick advances the round's clock by a few seconds to a minute and returns it.
func (c *churner) tick() int64 {
	c.now += between(c.r, second, minute)
	return c.now
}

// plan picks operations until about target resources are touched, steering
// towards 60% modified, 30% added and 10% deleted. A kind of change that
// stops making progress (a small metastore has only so many resources to
// modify) leaves its share to the others.
func (c *churner) plan(target int) error {
	addShare, modifyShare := churnAddShare, churnModifyShare
	if c.shape == ShapeJobs {
		addShare, modifyShare = churnJobsAddShare, churnJobsModifyShare
	}
	var want [3]int
	want[added] = int(math.Round(addShare * float64(target)))
	want[modified] = int(math.Round(modifyShare * float64(target)))
	want[deleted] = target - want[added] - want[modified]
	const maxStalls = 50 // operations in a row that touched nothing new
	var stalls [3]int
	for {
		got := c.counts()
		touched := got[added] + got[modified] + got[deleted]
		if touched >= target {
			return nil
		}
		var deficit [3]float64
		var sum float64
		for k := range deficit {
			if stalls[k] < maxStalls {
				deficit[k] = float64(max(want[k]-got[k], 0))
				sum += deficit[k]
			}
		}
		if sum == 0 { // every share met or stalled: top up with what works
			for k := range deficit {
				if stalls[k] < maxStalls {
					deficit[k] = 1
					sum++
				}
			}
			if sum == 0 {
				return nil
			}
		}
		k := changeKind(0)
		for x := c.r.Float64() * sum; k < deleted && x >= deficit[k]; k++ {
			x -= deficit[k]
		}
		need := max(want[k]-got[k], 1)
		var err error
		switch k {
		case added:
			err = c.addSomething(need)
		case modified:
			err = c.modifySomething()
		default:
			err = c.deleteSomething(need)
		}
		if err != nil {
			return err
		}
		if after := c.counts(); after[added]+after[modified]+after[deleted] > touched {
			stalls[k] = 0
		} else {
			stalls[k]++
		}
	}
}

func (c *churner) addSomething(deficit int) error {
	if deficit >= 15 && chance(c.r, 0.6) {
		if ok, err := c.opBuild(); ok || err != nil {
			return err
		}
	}
	_, err := c.opAddJob(deficit)
	return err
}

func (c *churner) modifySomething() error {
	ops := []struct {
		weight float64
		op     func() (bool, error)
	}{
		{0.30, c.opProgressJob},
		{0.20, c.opEditDesc},
		{0.15, c.opRefreshTableExt},
		{0.10, c.opTouchUser},
		{0.10, c.opEditModel},
		{0.10, c.opEditACL},
		{0.05, c.opEditProject},
	}
	x := c.r.Float64()
	for i, o := range ops {
		if x -= o.weight; x < 0 || i == len(ops)-1 {
			if ok, err := o.op(); ok || err != nil {
				return err
			}
			break
		}
	}
	_, err := c.opEditDesc() // the chosen operation had nothing to work on
	return err
}

func (c *churner) deleteSomething(deficit int) error {
	if deficit >= 12 && chance(c.r, 0.35) {
		op := c.opMerge
		if chance(c.r, 0.5) {
			op = c.opDropSegment
		}
		if ok, err := op(); ok || err != nil {
			return err
		}
	}
	_, err := c.opPurgeJob(deficit)
	return err
}

// apply writes the planned changes to sink, in path order.
func (c *churner) apply(sink metastore.Sink) error {
	paths := make([]string, 0, len(c.changes))
	for p := range c.changes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		ch := c.changes[p]
		if ch.kind == deleted {
			if err := sink.Delete(c.ctx, p); err != nil {
				return fmt.Errorf("delete %s: %w", p, err)
			}
			continue
		}
		if err := sink.Write(c.ctx, metastore.Resource{Path: p, Data: ch.data, Timestamp: ch.ts}); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
