package metagen

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The generator works in two phases. buildPlan decides the shape of the
// whole deployment (projects, tables, models, cubes, segments, the files
// each segment references, jobs, users) with one seeded generator; the plan
// holds names, uuids, timestamps and sizes but no file content, a few
// hundred bytes per resource. The writer then renders each resource from the
// plan with a generator keyed by the resource's path.

// Time window of the synthetic deployment: everything happens in 2023-2024.
var (
	windowStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	windowEnd   = time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC).UnixMilli()
)

const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// Shape is how the resources of a generated metastore spread over Kylin's
// folders.
type Shape string

const (
	// ShapeDefault spreads them as a cube-heavy deployment does: jobs
	// (/execute and /execute_output) take about 45% of the resources,
	// dictionaries about 20%, the rest is cube and table metadata.
	ShapeDefault Shape = "default"
	// ShapeJobs is a busy deployment whose job history dominates: /execute
	// and /execute_output take about 30% of the resources each. Every job
	// keeps one resource per step in both folders: /execute/<job>-NN beside
	// /execute/<job>, as /execute_output/<job>-NN beside
	// /execute_output/<job>.
	ShapeJobs Shape = "jobs"
)

// Shapes lists the shapes Generate accepts.
var Shapes = []Shape{ShapeDefault, ShapeJobs}

// ParseShape returns the shape named s ("" is ShapeDefault); an unknown
// name gives an error wrapping ErrOptions.
func ParseShape(s string) (Shape, error) {
	if s == "" {
		return ShapeDefault, nil
	}
	for _, sh := range Shapes {
		if string(sh) == s {
			return sh, nil
		}
	}
	return "", &optionsError{fmt.Sprintf("shape %q: want one of %s", s, shapeNames())}
}

func shapeNames() string {
	var names []string
	for _, sh := range Shapes {
		names = append(names, string(sh))
	}
	return strings.Join(names, ", ")
}

// Target shares of the resource count. Jobs (/execute and /execute_output)
// take whatever the rest leaves: about 45% in the default shape, 60% in the
// jobs shape, where the other shares shrink by jobsShrink.
const (
	segmentShare  = 0.06 // one /cube_statistics file per segment
	metadataShare = 0.22 // cubes, descs, models, tables, ACLs, projects, users
	jobsShrink    = 0.4 / 0.55
	// Resources per cube in metadataShare: cube, cube_desc and cube ACL, 0.4
	// model (model_desc and ACL) and 0.5 table (table and table_exd).
	resourcesPerCube = 3 + 2*0.4 + 2*0.5
)

// MinResources is the smallest metastore Generate writes.
const MinResources = 200

// minResources is MinResources under its old name.
const minResources = MinResources

type valueKind int

const (
	kindName valueKind = iota
	kindID
	kindCode
	kindDate
	kindTime
	kindNumber
)

// kindOf derives the kind of values a column holds from its name. generate
// names columns so that this holds, and churn relies on it to produce
// dictionary and snapshot content without reading table descriptors.
func kindOf(col string) valueKind {
	switch {
	case strings.HasSuffix(col, "_ID") || strings.HasSuffix(col, "_KEY"):
		return kindID
	case col == "PART_DT" || strings.HasSuffix(col, "_DT") || strings.HasSuffix(col, "_DATE"):
		return kindDate
	case strings.HasSuffix(col, "_TS") || strings.HasSuffix(col, "_TIME"):
		return kindTime
	case strings.HasSuffix(col, "_CD") || strings.HasSuffix(col, "_CODE"):
		return kindCode
	}
	for _, m := range measureNouns {
		if col == m || strings.HasPrefix(col, m+"_") {
			return kindNumber
		}
	}
	return kindName
}

type column struct {
	name     string
	datatype string
}

func (c column) kind() valueKind { return kindOf(c.name) }

type project struct {
	name, uuid, owner, description string
	created, modified              int64
	tables                         []*table
	models                         []*model
	cubes                          []*cube
	badQueryUUID                   string
	badQueryTS                     int64
}

type table struct {
	project  *project
	db, name string
	uuid     string
	exdUUID  string
	created  int64
	exdTS    int64
	fact     bool
	columns  []column
	pk       string   // primary key of a lookup table
	fks      []*table // lookups a fact table references (FK column = lookup pk)
	dateCol  string   // partition column of a fact table
	rows     int64
}

func (t *table) identity() string { return t.db + "." + t.name }
func (t *table) path() string     { return "/table/" + t.identity() + "--" + t.project.name + ".json" }
func (t *table) exdPath() string {
	return "/table_exd/" + t.identity() + "--" + t.project.name + ".json"
}

// colRef is a column of a table as a model or cube uses it.
type colRef struct {
	t   *table
	col column
}

func (c colRef) aliased() string { return c.t.name + "." + c.col.name }

type model struct {
	project      *project
	base         string // unique stem of the model's and its cubes' names
	name, uuid   string
	owner        string
	created      int64
	fact         *table
	lookups      []*table
	dims         []colRef
	metrics      []string
	partitionCol string
}

func (m *model) path() string { return "/model_desc/" + m.name + ".json" }

type rowkeyCol struct {
	ref      colRef
	encoding string
}

type cube struct {
	project        *project
	model          *model
	name, uuid     string
	descUUID       string
	owner          string
	created        int64
	descModified   int64
	modified       int64
	status         string
	rowkey         []rowkeyCol
	derived        []*table // lookups whose columns are derived: they get snapshots
	dictCols       []colRef
	dictCard       []int // typical cardinality of each dict column
	segments       []*segment
	measureCount   int
	retentionRange int64
}

func (c *cube) path() string     { return "/cube/" + c.name + ".json" }
func (c *cube) descPath() string { return "/cube_desc/" + c.name + ".json" }

type segment struct {
	uuid, name   string
	start, end   int64 // date range
	built        int64
	merged       bool
	status       string
	jobID        string
	storage      string
	inputRecords int64
	sizeKB       int64
	dicts        []dictFile
	snaps        []snapFile
	statsTS      int64
}

func (s *segment) statsPath(c *cube) string {
	return "/cube_statistics/" + c.name + "/" + s.uuid + ".seq"
}

type dictFile struct {
	ref  colRef
	uuid string
	ts   int64
	card int
}

func dictPath(table, col, uuid string) string {
	return "/dict/" + table + "/" + col + "/" + uuid + ".dict"
}

func (d dictFile) path() string { return dictPath(d.ref.t.identity(), d.ref.col.name, d.uuid) }

// key is the segment's dictionary map key, "DB.TABLE/COLUMN".
func (d dictFile) key() string { return d.ref.t.identity() + "/" + d.ref.col.name }

type snapFile struct {
	t    *table
	uuid string
	ts   int64
	rows int
}

func snapshotPath(table, uuid string) string {
	return "/table_snapshot/" + table + "/" + uuid + ".snapshot"
}

func (s snapFile) path() string { return snapshotPath(s.t.identity(), s.uuid) }

type jobKind int

const (
	jobBuild jobKind = iota
	jobRefresh
	jobMerge
	jobLookup
)

// Kylin 3.x executable statuses.
const (
	statusReady     = "READY"
	statusRunning   = "RUNNING"
	statusError     = "ERROR"
	statusStopped   = "STOPPED"
	statusDiscarded = "DISCARDED"
	statusSucceed   = "SUCCEED"
)

// jobTarget is what a job needs to know of its cube to render.
type jobTarget struct {
	project, cube string
	fact          string   // DB.TABLE of the fact table
	factAlias     string   // its alias in the model
	partitionCol  string   // ALIAS.COLUMN
	columns       []column // flat table columns, named ALIAS_COLUMN
}

func targetOf(c *cube) jobTarget {
	m := c.model
	t := jobTarget{project: c.project.name, cube: c.name, fact: m.fact.identity(), factAlias: m.fact.name, partitionCol: m.partitionCol}
	for _, d := range m.dims[:min(len(m.dims), 13)] {
		t.columns = append(t.columns, column{d.t.name + "_" + d.col.name, d.col.datatype})
	}
	return t
}

type job struct {
	id          string
	kind        jobKind
	target      jobTarget
	segID       string
	segName     string
	mergingIDs  []string
	lookup      string // DB.TABLE of a lookup job
	submitter   string
	submitted   int64
	start       int64 // 0: not started
	end         int64 // 0: not finished
	updated     int64 // last status change: the main output's timestamp
	status      string
	steps       int
	stopAt      int // index of the failed, stopped or running step
	buildServer string
}

type user struct {
	name, uuid  string
	created     int64
	modified    int64
	authorities []string
	disabled    bool
}

type group struct {
	name, uuid string
	ts         int64
}

// plan is a whole synthetic deployment, without file content.
type plan struct {
	seed     uint64
	shape    Shape
	install  int64
	uuid     string
	projects []*project
	users    []*user
	groups   []*group
	jobs     []*job
	total    int // resources the plan renders to
}

// ErrOptions is wrapped by the errors of Generate and Churn about their
// options (too few resources for the projects asked for, an unknown shape,
// a fraction out of range).
var ErrOptions = errors.New("invalid options")

// optionsError is an error about the options, with a message of its own,
// that wraps ErrOptions.
type optionsError struct{ msg string }

func (e *optionsError) Error() string { return e.msg }

func (e *optionsError) Is(target error) bool { return target == ErrOptions }

// stepCost is the number of resources a job step adds: its output, and in
// the jobs shape its own /execute entry.
func (p *plan) stepCost() int {
	if p.shape == ShapeJobs {
		return 2
	}
	return 1
}

// jobResources is the number of resources of a job of the plan.
func (p *plan) jobResources(j *job) int { return 2 + p.stepCost()*j.steps }

// buildPlan lays out a deployment of exactly n resources over nProjects
// projects (0 picks a number from n).
func buildPlan(n, nProjects int, seed uint64, shape Shape) (*plan, error) {
	shape, err := ParseShape(string(shape))
	if err != nil {
		return nil, err
	}
	if n < minResources {
		return nil, &optionsError{fmt.Sprintf("--resources %d is too small: the generator needs at least %d", n, minResources)}
	}
	if nProjects < 0 {
		return nil, &optionsError{fmt.Sprintf("--projects %d: must be positive (or 0 to pick from --resources)", nProjects)}
	}
	r := newRand(seed, "plan")
	if nProjects == 0 {
		nProjects = min(max(int(math.Round(float64(n)/4000)), 1), 200)
	}
	nUsers := min(max(n/400, 3), 2000)
	nGroups := 4 + min(2*nProjects, 60)
	fixed := 1 + nUsers + nGroups + 3*nProjects
	metaShare, segShare := metadataShare, segmentShare
	if shape == ShapeJobs {
		metaShare, segShare = jobsShrink*metadataShare, jobsShrink*segmentShare
	}
	nCubes := int(math.Round((metaShare*float64(n) - float64(fixed)) / resourcesPerCube))
	if nCubes < nProjects {
		perProject := (float64(fixed)/float64(nProjects) + resourcesPerCube) / metaShare
		return nil, &optionsError{fmt.Sprintf("--resources %d is too small for %d projects: use fewer projects or more resources (about %.0f per project)",
			n, nProjects, perProject)}
	}

	p := &plan{seed: seed, shape: shape}
	p.install = windowStart + between(r, 0, 3*day)
	p.uuid = newUUID(r)

	p.groups = planGroups(r, p.install, nProjects, nGroups)
	cubeNames := map[string]bool{}
	modelNames := map[string]bool{}
	weights := make([]float64, nProjects)
	for i := range weights {
		weights[i] = math.Exp(0.8 * r.NormFloat64())
	}
	perProject := allocate(nCubes-nProjects, weights)
	for i := range nProjects {
		pr := &project{
			name:         projectName(i),
			uuid:         newUUID(r),
			owner:        "ADMIN",
			created:      p.install + between(r, hour, int64(float64(windowEnd-windowStart)*0.4)),
			badQueryUUID: newUUID(r),
		}
		pr.description = "Cubes of the " + strings.ReplaceAll(pr.name, "_", " ") + " team"
		planTables(r, pr, perProject[i]+1)
		planModels(r, pr, max(1, int(math.Round(0.4*float64(perProject[i]+1)))), modelNames)
		planCubes(r, pr, perProject[i]+1, cubeNames)
		pr.badQueryTS = windowEnd - between(r, hour, 30*day)
		pr.modified = pr.created
		for _, c := range pr.cubes {
			pr.modified = max(pr.modified, c.created)
		}
		p.projects = append(p.projects, pr)
	}
	planSegments(r, p, int(math.Round(segShare*float64(n))))

	p.users = planUsers(r, p, nUsers, 0)
	rest := n - p.countWithoutJobs()
	if rest < 0 {
		return nil, &optionsError{fmt.Sprintf("--resources %d is too small for %d projects: the fixed metadata alone takes %d resources", n, nProjects, n-rest)}
	}
	rest = planJobs(r, p, rest)
	if rest > 0 {
		// A few resources left, fewer than a job needs: add users.
		p.users = append(p.users, planUsers(r, p, rest, len(p.users))...)
	}
	p.total = p.countWithoutJobs()
	for _, j := range p.jobs {
		p.total += p.jobResources(j)
	}
	if p.total != n {
		return nil, fmt.Errorf("internal error: planned %d resources instead of %d", p.total, n)
	}
	return p, nil
}

// countWithoutJobs counts the resources of everything but jobs.
func (p *plan) countWithoutJobs() int {
	n := 1 + len(p.users) + len(p.groups) // /UUID, users, groups
	for _, pr := range p.projects {
		n += 3 // project, bad_query, project ACL
		n += 2 * len(pr.tables)
		n += 2 * len(pr.models)
		for _, c := range pr.cubes {
			n += 3
			for _, s := range c.segments {
				n += 1 + len(s.dicts) + len(s.snaps)
			}
		}
	}
	return n
}

func planGroups(r *rand.Rand, install int64, nProjects, n int) []*group {
	names := []string{"ALL_USERS", "ROLE_ADMIN", "ROLE_ANALYST", "ROLE_MODELER"}
	roles := []string{"ANALYSTS", "OPERATORS"}
	for i := 0; len(names) < n; i++ {
		names = append(names, "GRP_"+strings.ToUpper(projectName(i%nProjects))+"_"+roles[(i/nProjects)%2])
	}
	gs := make([]*group, len(names))
	for i, name := range names {
		ts := install + between(r, minute, 2*minute)
		if i >= 4 {
			ts = install + between(r, day, 400*day)
		}
		gs[i] = &group{name: name, uuid: newUUID(r), ts: ts}
	}
	return gs
}

func planUsers(r *rand.Rand, p *plan, n, offset int) []*user {
	us := make([]*user, 0, n)
	for i := offset; i < offset+n; i++ {
		u := &user{uuid: newUUID(r)}
		switch i {
		case 0:
			u.name, u.authorities = "ADMIN", []string{"ROLE_ADMIN", "ROLE_ANALYST", "ROLE_MODELER"}
		case 1:
			u.name, u.authorities = "MODELER", []string{"ROLE_ANALYST", "ROLE_MODELER"}
		case 2:
			u.name, u.authorities = "ANALYST", []string{"ROLE_ANALYST"}
		default:
			u.name = userName(i)
			u.authorities = []string{"ROLE_ANALYST"}
			if chance(r, 0.3) {
				u.authorities = append(u.authorities, "ROLE_MODELER")
			}
			for range r.IntN(3) {
				g := pick(r, p.groups[4:]).name
				if !slices.Contains(u.authorities, g) {
					u.authorities = append(u.authorities, g)
				}
			}
			u.disabled = chance(r, 0.04)
		}
		u.created = p.install + between(r, minute, 600*day)
		if i < 3 {
			u.created = p.install + between(r, second, minute)
		}
		u.modified = between(r, u.created, windowEnd-hour)
		us = append(us, u)
	}
	return us
}

// planTables creates the fact and lookup tables of a project with nCubes
// cubes: about half a table per cube.
func planTables(r *rand.Rand, pr *project, nCubes int) {
	nFacts := max(1, int(math.Round(0.12*float64(nCubes))))
	nLookups := max(2, int(math.Round(0.38*float64(nCubes))))
	used := map[string]bool{}
	newTable := func(noun string, fact bool) *table {
		t := &table{
			project: pr,
			db:      pick(r, databases),
			uuid:    newUUID(r),
			exdUUID: newUUID(r),
			fact:    fact,
			created: pr.created + between(r, minute, 20*day),
		}
		prefix := "DIM_"
		if fact {
			prefix = "FACT_"
		}
		t.name = uniqueName(used, prefix+noun)
		t.exdTS = between(r, t.created+hour, windowEnd-hour)
		return t
	}
	var lookups []*table
	for range nLookups {
		t := newTable(pick(r, dimNouns), false)
		base := strings.TrimPrefix(t.name, "DIM_")
		t.pk = base + "_ID"
		t.columns = append(t.columns, column{t.pk, pick(r, []string{"bigint", "integer", "varchar(32)"})})
		attrs := map[string]bool{t.pk: true}
		for range 3 + r.IntN(20) {
			var name string
			switch x := r.IntN(10); {
			case x < 5:
				name = base + "_" + pick(r, attrNouns)
			case x < 8:
				name = base + "_" + pick(r, attrNouns) + "_CD"
			case x < 9:
				name = base + "_" + pick(r, []string{"START", "END", "OPEN", "UPDATE"}) + "_DT"
			default:
				name = pick(r, attrNouns) + "_" + pick(r, attrNouns)
			}
			name = uniqueName(attrs, name)
			t.columns = append(t.columns, column{name, datatypeFor(r, name)})
		}
		t.rows = int64(logNormal(r, 3.9, 1.5, 5, 2_000_000))
		lookups = append(lookups, t)
		pr.tables = append(pr.tables, t)
	}
	for range nFacts {
		t := newTable(pick(r, factNouns), true)
		t.dateCol = "PART_DT"
		cols := map[string]bool{t.dateCol: true}
		t.columns = append(t.columns, column{t.dateCol, "date"})
		nfk := min(len(lookups), 2+r.IntN(9))
		for _, i := range r.Perm(len(lookups))[:nfk] {
			l := lookups[i]
			t.fks = append(t.fks, l)
			cols[l.pk] = true
			t.columns = append(t.columns, column{l.pk, l.columns[0].datatype})
		}
		for range 3 + r.IntN(18) {
			name := uniqueName(cols, pick(r, measureNouns))
			t.columns = append(t.columns, column{name, pick(r, []string{"decimal(19,4)", "double", "bigint", "integer"})})
		}
		for range 2 + r.IntN(14) {
			name := pick(r, attrNouns)
			if chance(r, 0.5) {
				name += "_CD"
			}
			name = uniqueName(cols, name)
			t.columns = append(t.columns, column{name, datatypeFor(r, name)})
		}
		t.columns = append(t.columns, column{"ETL_" + pick(r, []string{"LOAD", "UPDATE"}) + "_TS", "timestamp"})
		t.rows = int64(logNormal(r, 16, 2, 10_000, 5_000_000_000))
		pr.tables = append(pr.tables, t)
	}
}

func datatypeFor(r *rand.Rand, name string) string {
	switch kindOf(name) {
	case kindID:
		return pick(r, []string{"bigint", "integer"})
	case kindDate:
		return "date"
	case kindTime:
		return "timestamp"
	case kindCode:
		return fmt.Sprintf("varchar(%d)", pick(r, []int{2, 4, 8, 10, 16}))
	case kindNumber:
		return "decimal(19,4)"
	}
	return fmt.Sprintf("varchar(%d)", pick(r, []int{32, 64, 100, 128, 256}))
}

func planModels(r *rand.Rand, pr *project, n int, used map[string]bool) {
	var facts []*table
	for _, t := range pr.tables {
		if t.fact {
			facts = append(facts, t)
		}
	}
	for i := range n {
		fact := facts[i%len(facts)]
		base := strings.ToLower(strings.TrimPrefix(fact.name, "FACT_"))
		m := &model{
			project:      pr,
			base:         uniqueName(used, base),
			uuid:         newUUID(r),
			owner:        pick(r, []string{"ADMIN", "MODELER"}),
			fact:         fact,
			partitionCol: fact.name + "." + fact.dateCol,
		}
		m.name = m.base + "_model"
		nl := 1 + r.IntN(min(6, len(fact.fks)))
		for _, k := range r.Perm(len(fact.fks))[:nl] {
			m.lookups = append(m.lookups, fact.fks[k])
		}
		m.created = fact.created
		for _, l := range m.lookups {
			m.created = max(m.created, l.created)
		}
		m.created += between(r, hour, 30*day)
		for _, c := range fact.columns {
			if c.kind() == kindNumber {
				m.metrics = append(m.metrics, fact.name+"."+c.name)
			} else if c.kind() != kindTime {
				m.dims = append(m.dims, colRef{fact, c})
			}
		}
		for _, l := range m.lookups {
			for _, c := range l.columns {
				if c.name != l.pk {
					m.dims = append(m.dims, colRef{l, c})
				}
			}
		}
		pr.models = append(pr.models, m)
	}
}

// planCubes creates n cubes over the project's models, every model first.
func planCubes(r *rand.Rand, pr *project, n int, used map[string]bool) {
	variants := []string{"cube", "daily_cube", "agg_cube", "detail_cube", "v2_cube", "summary_cube", "rt_cube", "kpi_cube"}
	for i := range n {
		m := pr.models[i%len(pr.models)]
		c := &cube{
			project:  pr,
			model:    m,
			name:     uniqueName(used, m.base+"_"+variants[(i/len(pr.models))%len(variants)]),
			uuid:     newUUID(r),
			descUUID: newUUID(r),
			owner:    m.owner,
			status:   "DISABLED",
		}
		c.created = min(m.created+between(r, hour, 120*day), windowEnd-2*day)
		c.descModified = c.created + between(r, 0, 3*day)
		c.measureCount = logNormal(r, 2.3, 0.7, 2, 60)
		c.retentionRange = pick(r, []int64{0, 0, 0, 90 * day, 365 * day})

		// Lookups whose columns are derived need a snapshot in every segment.
		nDerived := 0
		switch x := r.Float64(); {
		case x < 0.25:
		case x < 0.70:
			nDerived = 1
		case x < 0.90:
			nDerived = 2
		default:
			nDerived = 3
		}
		nDerived = min(nDerived, len(m.lookups))
		derived := map[*table]bool{}
		for _, k := range r.Perm(len(m.lookups))[:nDerived] {
			c.derived = append(c.derived, m.lookups[k])
			derived[m.lookups[k]] = true
		}
		// Row key: the partition column, the FKs of derived lookups and a
		// sample of the other dimensions.
		c.rowkey = append(c.rowkey, rowkeyCol{colRef{m.fact, m.fact.columns[0]}, "date"})
		for _, l := range c.derived {
			enc := "dict"
			if chance(r, 0.4) {
				enc = "integer:4"
			}
			c.rowkey = append(c.rowkey, rowkeyCol{colRef{m.fact, column{l.pk, l.columns[0].datatype}}, enc})
		}
		var candidates []colRef
		for _, d := range m.dims {
			if !derived[d.t] && d.col.kind() != kindDate && !(d.t == m.fact && isFK(m.fact, d.col.name)) {
				candidates = append(candidates, d)
			}
		}
		want := min(len(candidates), logNormal(r, 1.1, 0.6, 1, 40))
		for _, k := range r.Perm(len(candidates))[:want] {
			d := candidates[k]
			c.rowkey = append(c.rowkey, rowkeyCol{d, encodingFor(r, d.col)})
		}
		for _, rk := range c.rowkey {
			if rk.encoding == "dict" {
				c.dictCols = append(c.dictCols, rk.ref)
				c.dictCard = append(c.dictCard, cardinalityFor(r, rk.ref.col))
			}
		}
		pr.cubes = append(pr.cubes, c)
	}
}

func isFK(fact *table, col string) bool {
	for _, l := range fact.fks {
		if l.pk == col {
			return true
		}
	}
	return false
}

func encodingFor(r *rand.Rand, c column) string {
	switch c.kind() {
	case kindID:
		if chance(r, 0.5) {
			return "integer:8"
		}
	case kindCode:
		if chance(r, 0.3) {
			return fmt.Sprintf("fixed_length:%d", pick(r, []int{2, 4, 8}))
		}
	case kindDate:
		return "date"
	case kindTime:
		return "time"
	default:
		if chance(r, 0.1) {
			return "fixed_length:32"
		}
	}
	return "dict"
}

// cardinalityFor draws the typical number of distinct values of a column:
// most dictionaries are small, a few hold hundreds of thousands of values.
func cardinalityFor(r *rand.Rand, c column) int {
	switch c.kind() {
	case kindCode:
		return logNormal(r, 3.5, 1.5, 2, 50_000)
	case kindID:
		return logNormal(r, 6.8, 1.6, 10, 400_000)
	}
	return logNormal(r, 5.6, 1.6, 2, 200_000)
}

// planSegments spreads nSegs segments over the cubes (a quarter of the cubes
// stay unbuilt) and plans the dictionaries and snapshots of each.
func planSegments(r *rand.Rand, p *plan, nSegs int) {
	var cubes []*cube
	for _, pr := range p.projects {
		cubes = append(cubes, pr.cubes...)
	}
	weights := make([]float64, len(cubes))
	for i := range weights {
		if !chance(r, 0.25) {
			weights[i] = math.Exp(1.1 * r.NormFloat64())
		}
	}
	counts := allocate(nSegs, weights)
	for i, c := range cubes {
		k := counts[i]
		c.modified = c.created
		if k == 0 {
			continue
		}
		c.status = "READY"
		if chance(r, 0.05) {
			c.status = "DISABLED"
		}
		dayStart := (c.created - between(r, 30*day, 400*day)) / day * day
		lifetime := windowEnd - c.created
		for s := range k {
			seg := &segment{uuid: newUUID(r), status: "READY"}
			length := day
			if s < k-7 {
				length = 30 * day
				seg.merged = true
			}
			seg.start, seg.end = dayStart, dayStart+length
			dayStart = seg.end
			seg.name = segmentName(seg.start, seg.end)
			seg.built = c.created + lifetime*int64(s+1)/int64(k+1) + between(r, 0, lifetime/int64(4*(k+1))+minute)
			seg.storage = "KYLIN_" + randomUpper(r, 10)
			seg.inputRecords = int64(logNormal(r, 14, 2, 1000, 3_000_000_000))
			seg.sizeKB = max(1, seg.inputRecords/int64(50+r.IntN(2000)))
			seg.statsTS = seg.built - between(r, minute, 10*minute)
			for d, ref := range c.dictCols {
				card := int(float64(c.dictCard[d]) * (0.8 + 0.4*r.Float64()))
				if seg.merged {
					card = card * 3 / 2
				}
				seg.dicts = append(seg.dicts, dictFile{ref: ref, uuid: newUUID(r), ts: seg.built - between(r, 5*minute, 40*minute), card: max(card, 1)})
			}
			for _, l := range c.derived {
				rows := int(float64(l.rows) * (0.9 + 0.2*r.Float64()))
				seg.snaps = append(seg.snaps, snapFile{t: l, uuid: newUUID(r), ts: seg.built - between(r, 5*minute, 40*minute), rows: max(rows, 1)})
			}
			c.segments = append(c.segments, seg)
			c.modified = max(c.modified, seg.built)
		}
		c.descModified = min(c.descModified, c.modified)
	}
}

// segmentName formats a segment's date range as Kylin names segments.
func segmentName(start, end int64) string {
	f := "20060102150405"
	return time.UnixMilli(start).UTC().Format(f) + "_" + time.UnixMilli(end).UTC().Format(f)
}

func randomUpper(r *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Step counts per job kind; every count from 1 to 20 belongs to a kind so
// that the last job can fill the requested resource count exactly.
func kindForSteps(steps int) jobKind {
	switch {
	case steps <= 4:
		return jobLookup
	case steps <= 10:
		return jobMerge
	}
	return jobBuild
}

// planJobs adds jobs worth rest resources (a job is its /execute, its
// /execute_output and one output per step, and in the jobs shape one
// /execute entry per step) and returns what it could not fill (0, 1 or 2).
func planJobs(r *rand.Rand, p *plan, rest int) int {
	var cubes []*cube
	var segs []*segment
	segCube := map[*segment]*cube{}
	for _, pr := range p.projects {
		for _, c := range pr.cubes {
			cubes = append(cubes, c)
			for _, s := range c.segments {
				segs = append(segs, s)
				segCube[s] = c
			}
		}
	}
	slices.SortStableFunc(segs, func(a, b *segment) int { return cmp.Compare(b.built, a.built) })
	next := 0
	var submitters []string
	for _, u := range p.users {
		submitters = append(submitters, u.name)
	}
	k := p.stepCost()
	for rest >= 2+k {
		j := &job{id: newUUID(r), submitter: pick(r, submitters), buildServer: pick(r, servers[:2])}
		var steps int
		switch x := r.Float64(); {
		case x < 0.6:
			j.kind, steps = jobBuild, 12+r.IntN(6)
			if chance(r, 0.15) {
				j.kind = jobRefresh
			}
		case x < 0.88:
			j.kind, steps = jobMerge, 7+r.IntN(4)
		default:
			j.kind, steps = jobLookup, 2+r.IntN(3)
		}
		if rest-2 <= 20*k {
			steps = (rest - 2) / k
			j.kind = kindForSteps(steps)
		}
		j.steps = steps
		linked := next < len(segs) && j.kind != jobLookup && chance(r, 0.7) && rest-2 > 20*k
		if linked {
			seg := segs[next]
			next++
			j.target = targetOf(segCube[seg])
			j.kind = jobBuild
			if seg.merged {
				j.kind = jobMerge
				j.steps = 7 + r.IntN(4)
				j.mergingIDs = []string{newUUID(r), newUUID(r)}
			} else {
				j.steps = 12 + r.IntN(6)
			}
			j.segID, j.segName = seg.uuid, seg.name
			j.status = statusSucceed
			j.end = seg.built
			j.start = j.end - int64(logNormal(r, 7.5, 0.8, 120, 6*3600))*second
			j.submitted = j.start - between(r, second, 10*minute)
			j.updated = j.end
			seg.jobID = j.id
		} else {
			planLooseJob(r, j, pick(r, cubes))
		}
		rest -= p.jobResources(j)
		p.jobs = append(p.jobs, j)
	}
	// Segments whose build job was purged long ago still name it.
	for _, s := range segs {
		if s.jobID == "" {
			s.jobID = newUUID(r)
		}
	}
	return rest
}

// planLooseJob fills in a job that no current segment records as its build:
// a failed or discarded attempt, a build whose segment was merged since, a
// lookup refresh, or a job still queued or running.
func planLooseJob(r *rand.Rand, j *job, c *cube) {
	j.target = targetOf(c)
	j.segID = newUUID(r)
	from := c.created - 60*day
	if len(c.segments) > 0 {
		s := pick(r, c.segments)
		if chance(r, 0.5) {
			j.segID = s.uuid
		}
		from = s.start
	}
	from = from / day * day
	j.segName = segmentName(from, from+day)
	if j.kind == jobMerge {
		j.mergingIDs = []string{newUUID(r), newUUID(r)}
		j.segName = segmentName(from, from+30*day)
	}
	if j.kind == jobLookup {
		lookups := c.derived
		if len(lookups) == 0 {
			lookups = c.model.lookups
		}
		j.lookup = pick(r, lookups).identity()
	}
	if chance(r, 0.1) {
		// Queued or running now, at the end of the window.
		j.updated = windowEnd - between(r, minute, 2*hour)
		switch x := r.Float64(); {
		case x < 0.5:
			j.status = statusRunning
			j.start = j.updated - between(r, 5*minute, 3*hour)
			j.stopAt = r.IntN(j.steps)
		case x < 0.8:
			j.status = statusReady
		default:
			j.status = statusStopped
			j.start = j.updated - between(r, 5*minute, 3*hour)
			j.end = j.updated
			j.stopAt = r.IntN(j.steps)
		}
		j.submitted = min(j.updated, j.start) - between(r, second, 20*minute)
		if j.start == 0 {
			j.submitted = j.updated
		}
		return
	}
	switch x := r.Float64(); {
	case x < 0.45:
		j.status = statusSucceed
	case x < 0.75:
		j.status = statusDiscarded
	default:
		j.status = statusError
	}
	j.submitted = between(r, c.created, windowEnd-day)
	j.start = j.submitted + between(r, second, 10*minute)
	j.end = j.start + int64(logNormal(r, 7.5, 0.8, 60, 6*3600))*second
	if j.status != statusSucceed {
		j.stopAt = r.IntN(j.steps)
	}
	j.updated = j.end
	if j.status == statusDiscarded {
		j.updated = min(j.end+between(r, minute, 3*day), windowEnd-minute)
	}
}
