package metagen

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Churn operations. Each returns false when nothing in the metastore
// qualifies for it; it then changes nothing.

// opBuild builds a new segment of a cube: new dictionaries, snapshots and
// statistics, a build job with its outputs, and the cube itself.
func (c *churner) opBuild() (bool, error) {
	cs := c.pickCube(func(cs *cubeState) bool {
		n := len(cs.c.Segments)
		return cs.c.Status == "READY" && n > 0 && cs.c.Segments[n-1].Status == "READY"
	})
	if cs == nil {
		return false, nil
	}
	target, err := c.targetOf(cs)
	if err != nil {
		return false, err
	}
	last := cs.c.Segments[len(cs.c.Segments)-1]
	j := c.newJob(jobBuild, target, 12+c.r.IntN(6))
	seg := c.nextSegment(last, last.DateRangeEnd, last.DateRangeEnd+day)
	seg.LastBuildJobID = j.id
	j.segID, j.segName = seg.UUID, seg.Name
	ts := j.start + between(c.r, 2*minute, 10*minute)
	if err := c.addSegmentFiles(cs, &seg, last, ts, 1); err != nil {
		return false, err
	}
	if chance(c.r, 0.2) {
		j.status = statusRunning
		j.stopAt = min(6+c.r.IntN(6), j.steps-1)
		j.updated = ts + between(c.r, minute, 20*minute)
		seg.Status, seg.LastBuildTime = "NEW", 0
	} else {
		j.status = statusSucceed
		j.end = ts + between(c.r, 5*minute, 2*hour)
		j.updated = j.end
		seg.LastBuildTime = j.end
	}
	c.now = max(c.now, j.updated)
	if err := c.addJob(j); err != nil {
		return false, err
	}
	cs.c.Segments = append(cs.c.Segments, seg)
	return true, c.saveCube(cs)
}

// opMerge merges a cube's two oldest segments: a merged segment with new
// dictionaries and statistics, a merge job, and the deletion of what only
// the old segments referenced.
func (c *churner) opMerge() (bool, error) {
	cs := c.pickCube(func(cs *cubeState) bool {
		s := cs.c.Segments
		return len(s) >= 3 && s[0].Status == "READY" && s[1].Status == "READY"
	})
	if cs == nil {
		return false, nil
	}
	target, err := c.targetOf(cs)
	if err != nil {
		return false, err
	}
	s0, s1 := cs.c.Segments[0], cs.c.Segments[1]
	j := c.newJob(jobMerge, target, 7+c.r.IntN(4))
	seg := c.nextSegment(s1, s0.DateRangeStart, s1.DateRangeEnd)
	seg.IsMerged = true
	seg.InputRecords = s0.InputRecords + s1.InputRecords
	seg.InputRecordsSize = s0.InputRecordsSize + s1.InputRecordsSize
	seg.SizeKB = s0.SizeKB + s1.SizeKB
	seg.LastBuildJobID = j.id
	j.segID, j.segName = seg.UUID, seg.Name
	j.mergingIDs = []string{s0.UUID, s1.UUID}
	ts := j.start + between(c.r, minute, 5*minute)
	if err := c.addSegmentFiles(cs, &seg, s1, ts, 1.3); err != nil {
		return false, err
	}
	j.status = statusSucceed
	j.end = ts + between(c.r, 5*minute, time.Hour.Milliseconds())
	j.updated = j.end
	seg.LastBuildTime = j.end
	c.now = max(c.now, j.updated)
	if err := c.addJob(j); err != nil {
		return false, err
	}
	cs.c.Segments = append([]segmentJSON{seg}, cs.c.Segments[2:]...)
	c.releaseSegment(cs, s0)
	c.releaseSegment(cs, s1)
	return true, c.saveCube(cs)
}

// opDropSegment drops a cube's oldest segment, as retention does, and
// deletes the files nothing references any more.
func (c *churner) opDropSegment() (bool, error) {
	cs := c.pickCube(func(cs *cubeState) bool {
		return len(cs.c.Segments) >= 2 && cs.c.Segments[0].Status == "READY"
	})
	if cs == nil {
		return false, nil
	}
	s0 := cs.c.Segments[0]
	cs.c.Segments = slices.Delete(cs.c.Segments, 0, 1)
	c.releaseSegment(cs, s0)
	return true, c.saveCube(cs)
}

// opPurgeJob deletes the oldest finished job, with its outputs, that is
// not much larger than deficit resources.
func (c *churner) opPurgeJob(deficit int) (bool, error) {
	best := -1
	for i, j := range c.jobs {
		if j.status != statusSucceed && j.status != statusDiscarded || c.changes[executePath(j.id)] != nil {
			continue
		}
		if j.size() <= deficit+2 {
			best = i
			break
		}
	}
	if best < 0 {
		return false, nil
	}
	j := c.jobs[best]
	c.jobs = slices.Delete(c.jobs, best, best+1)
	c.remove(executePath(j.id))
	c.remove(outputPath(j.id))
	for _, p := range j.steps {
		c.remove(p)
	}
	for _, p := range j.tasks {
		c.remove(p)
	}
	return true, nil
}

// opProgressJob moves a queued, running, stopped or failed job on: queued
// jobs start, running ones finish (mostly successfully), stopped and
// failed ones resume or are discarded.
func (c *churner) opProgressJob() (bool, error) {
	var cands []*jobState
	for _, j := range c.jobs {
		switch j.status {
		case statusReady, statusRunning, statusStopped, statusError:
			cands = append(cands, j)
		}
	}
	if len(cands) == 0 {
		return false, nil
	}
	js := pick(c.r, cands)
	var exec jobJSON
	if err := c.readJSON(executePath(js.id), &exec); err != nil {
		return false, err
	}
	var main outputJSON
	if err := c.readJSON(outputPath(js.id), &main); err != nil {
		return false, err
	}
	if main.Info == nil {
		main.Info = map[string]string{}
	}
	steps := make([]outputJSON, len(js.steps))
	k := -1 // the first step that has not succeeded
	for i, p := range js.steps {
		if err := c.readJSON(p, &steps[i]); err != nil {
			return false, err
		}
		if steps[i].Info == nil {
			steps[i].Info = map[string]string{}
		}
		if k < 0 && steps[i].Status != statusSucceed {
			k = i
		}
	}
	if len(steps) == 0 {
		return false, nil
	}
	if k < 0 {
		k = len(steps) - 1
	}
	changed := map[int]bool{}
	ts := c.tick()
	setStep := func(i int, status string, start, end int64) {
		o := &steps[i]
		o.Status = status
		if start > 0 {
			o.Info["startTime"] = strconv.FormatInt(start, 10)
		}
		if end > 0 {
			o.Info["endTime"] = strconv.FormatInt(end, 10)
			typ := ""
			if i < len(exec.Tasks) {
				typ = exec.Tasks[i].Type
			}
			log := fmt.Sprintf("Start to execute command:\n -cubename %s -segmentid %s\nCommand execute return code 0\n", exec.Params["cubeName"], exec.Params["segmentId"])
			if typ == typeMapReduce && status == statusSucceed {
				log = mapReduceLog(c.r, fmt.Sprintf("%d_%04d", start/1000, c.r.IntN(10000)), true)
			}
			o.Content = &log
		}
		o.LastModified = max(start, end, ts)
		changed[i] = true
	}
	switch js.status {
	case statusReady:
		main.Status = statusRunning
		main.Info["startTime"] = strconv.FormatInt(ts, 10)
		setStep(0, statusRunning, ts, 0)
	case statusRunning:
		t := ts
		if chance(c.r, 0.85) {
			for i := k; i < len(steps); i++ {
				end := t + between(c.r, 10*second, 20*minute)
				setStep(i, statusSucceed, t, end)
				t = end
			}
			main.Status = statusSucceed
		} else {
			t += between(c.r, second, 10*minute)
			setStep(k, statusError, 0, t)
			main.Status = statusError
		}
		main.Info["endTime"] = strconv.FormatInt(t, 10)
		ts = t
	default: // stopped or failed
		if chance(c.r, 0.5) {
			main.Status = statusRunning
			setStep(k, statusRunning, ts, 0)
		} else {
			main.Status = statusDiscarded
			main.Info["interruptTime"] = strconv.FormatInt(ts, 10)
			setStep(k, statusDiscarded, 0, 0)
		}
	}
	c.now = max(c.now, ts)
	main.LastModified = ts
	if err := c.putJSON(outputPath(js.id), main, ts); err != nil {
		return false, err
	}
	for i := range steps {
		if changed[i] {
			if err := c.putJSON(js.steps[i], steps[i], steps[i].LastModified); err != nil {
				return false, err
			}
		}
	}
	js.status, js.updated = main.Status, ts
	if main.Status == statusSucceed {
		// A finished build makes its new segment ready.
		if cs := c.cubeByName[exec.Params["cubeName"]]; cs != nil {
			for i := range cs.c.Segments {
				s := &cs.c.Segments[i]
				if s.UUID == exec.Params["segmentId"] && s.Status == "NEW" {
					s.Status, s.LastBuildTime = "READY", ts
					return true, c.saveCube(cs)
				}
			}
		}
	}
	return true, nil
}

// opEditDesc changes a setting of a cube desc.
func (c *churner) opEditDesc() (bool, error) {
	return editJSON(c, c.descs, func(d *cubeDescJSON, ts int64) {
		switch c.r.IntN(4) {
		case 0:
			d.RetentionRange = pick(c.r, []int64{0, 30 * day, 90 * day, 180 * day, 365 * day})
		case 1:
			d.AutoMergeTimeRanges = pick(c.r, [][]int64{{7 * day, 28 * day}, {7 * day, 28 * day, 84 * day}, {}})
		case 2:
			d.NotifyList = append(d.NotifyList, fmt.Sprintf("ops-%d@example.com", c.r.IntN(100)))
		default:
			if d.OverrideKylinProperties == nil {
				d.OverrideKylinProperties = map[string]string{}
			}
			d.OverrideKylinProperties["kylin.cube.algorithm"] = pick(c.r, []string{"auto", "layer", "inmem"})
		}
		d.Description = "Edited " + time.UnixMilli(ts).UTC().Format("2006-01-02 15:04")
		sig := make([]byte, 16)
		for i := range sig {
			sig[i] = byte(c.r.UintN(256))
		}
		d.Signature = base64.StdEncoding.EncodeToString(sig)
		d.LastModified = ts
	})
}

// opEditModel changes a model's filter condition.
func (c *churner) opEditModel() (bool, error) {
	return editJSON(c, c.models, func(m *modelJSON, ts int64) {
		m.FilterCondition = ""
		if chance(c.r, 0.7) && m.PartitionDesc.PartitionDateColumn != "" {
			m.FilterCondition = fmt.Sprintf("%s >= '%s'", m.PartitionDesc.PartitionDateColumn,
				time.UnixMilli(ts-between(c.r, 30*day, 730*day)).UTC().Format("2006-01-02"))
		}
		m.LastModified = ts
	})
}

// opEditACL grants a user a permission on a project, cube or model, or
// revokes one.
func (c *churner) opEditACL() (bool, error) {
	if len(c.users) == 0 {
		return false, nil
	}
	return editJSON(c, c.acls, func(a *aclJSON, ts int64) {
		if a.AllAceInfo == nil {
			a.AllAceInfo = map[string]aceJSON{}
		}
		user := strings.TrimPrefix(pick(c.r, c.users), "/user/")
		if _, ok := a.AllAceInfo[user]; ok && user != a.OwnerInfo.Sid {
			delete(a.AllAceInfo, user)
		} else {
			a.AllAceInfo[user] = aceJSON{SidInfo: sidJSON{Sid: user, Principal: true}, PermissionMask: pick(c.r, []int{permRead, permOperation, permManagement})}
		}
		a.LastModified = ts
	})
}

// opEditProject changes a project's description or properties.
func (c *churner) opEditProject() (bool, error) {
	return editJSON(c, c.projects, func(p *projectJSON, ts int64) {
		if p.OverrideKylinProperties == nil {
			p.OverrideKylinProperties = map[string]string{}
		}
		if chance(c.r, 0.5) {
			p.OverrideKylinProperties["kylin.query.timeout-seconds"] = strconv.Itoa(pick(c.r, []int{60, 120, 300, 600}))
		} else {
			p.OverrideKylinProperties["kylin.query.max-return-rows"] = strconv.Itoa(pick(c.r, []int{5000000, 10000000, 50000000}))
		}
		p.LastModified = ts
	})
}

// opRefreshTableExt records a new sampling of a table.
func (c *churner) opRefreshTableExt() (bool, error) {
	return editJSON(c, c.exds, func(t *tableExtJSON, ts int64) {
		t.TotalRows += t.TotalRows/int64(20+c.r.IntN(200)) + int64(c.r.IntN(1000))
		jobID := newUUID(c.r)
		t.LastBuildJobID = &jobID
		if t.DataSourceProperties == nil {
			t.DataSourceProperties = map[string]string{}
		}
		t.DataSourceProperties["total_file_size"] = strconv.FormatInt(t.TotalRows*int64(40+c.r.IntN(200)), 10)
		t.DataSourceProperties["last_access_time"] = strconv.FormatInt(ts/1000, 10)
		t.LastModified, t.LastModifiedTime = ts, ts
	})
}

// opTouchUser records a failed login, a lock or unlock, or a role change.
func (c *churner) opTouchUser() (bool, error) {
	return editJSON(c, c.users, func(u *userJSON, ts int64) {
		switch {
		case u.Locked:
			u.Locked, u.LockedTime, u.WrongTime = false, 0, 0
		case chance(c.r, 0.5):
			u.WrongTime++
			if u.WrongTime >= 3 {
				u.Locked, u.LockedTime, u.WrongTime = true, ts, 0
			}
		default:
			i := slices.IndexFunc(u.Authorities, func(a authorityJSON) bool { return a.Authority == "ROLE_MODELER" })
			if i >= 0 {
				u.Authorities = slices.Delete(u.Authorities, i, i+1)
			} else {
				u.Authorities = append(u.Authorities, authorityJSON{Authority: "ROLE_MODELER"})
			}
		}
		u.LastModified = ts
	})
}

// saveCube writes cube cs back, modified at the churn's next timestamp.
func (c *churner) saveCube(cs *cubeState) error {
	cs.c.LastModified = c.tick()
	return c.putJSON(cs.path, cs.c, cs.c.LastModified)
}

// editJSON reads a resource picked from paths, lets edit change it at the
// churn's next timestamp, and writes it back with that timestamp; false if
// paths is empty.
func editJSON[T any](c *churner, paths []string, edit func(v *T, ts int64)) (bool, error) {
	if len(paths) == 0 {
		return false, nil
	}
	path := pick(c.r, paths)
	var v T
	if err := c.readJSON(path, &v); err != nil {
		return false, err
	}
	ts := c.tick()
	edit(&v, ts)
	return true, c.putJSON(path, v, ts)
}

// opAddJob submits a job that is still queued or running at the end of the
// round: a lookup table refresh when deficit is small, else a segment
// refresh.
func (c *churner) opAddJob(deficit int) (bool, error) {
	cs := c.pickCube(func(cs *cubeState) bool { return cs.c.Status == "READY" && len(cs.c.Segments) > 0 })
	if cs == nil {
		return false, nil
	}
	target, err := c.targetOf(cs)
	if err != nil {
		return false, err
	}
	seg := pick(c.r, cs.c.Segments)
	var j *job
	if deficit < 12 {
		j = c.newJob(jobLookup, target, 2+c.r.IntN(3))
		tables := slices.Sorted(maps.Keys(seg.Snapshots))
		if len(tables) == 0 {
			tables = []string{target.fact}
		}
		j.lookup = pick(c.r, tables)
	} else {
		j = c.newJob(jobRefresh, target, 12+c.r.IntN(6))
	}
	j.segID, j.segName = seg.UUID, seg.Name
	if chance(c.r, 0.5) {
		j.status = statusReady
		j.start = 0
		j.updated = j.submitted
	} else {
		j.status = statusRunning
		j.stopAt = c.r.IntN(j.steps)
		j.updated = j.start + between(c.r, minute, 30*minute)
	}
	c.now = max(c.now, j.updated)
	return true, c.addJob(j)
}

// pickCube returns a random cube of a project that satisfies ok, or nil.
func (c *churner) pickCube(ok func(*cubeState) bool) *cubeState {
	var cands []*cubeState
	for _, cs := range c.cubes {
		if cs.project != "" && ok(cs) {
			cands = append(cands, cs)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return pick(c.r, cands)
}

// targetOf reads what a job of the cube needs from its desc and model.
func (c *churner) targetOf(cs *cubeState) (jobTarget, error) {
	t := jobTarget{project: cs.project, cube: cs.c.Name}
	var d cubeDescJSON
	var m modelJSON
	err := c.readJSON("/cube_desc/"+cs.c.Descriptor+".json", &d)
	if err == nil {
		err = c.readJSON("/model_desc/"+d.ModelName+".json", &m)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil // a broken cube: render the job without model details
	}
	if err != nil {
		return t, err
	}
	t.fact = m.FactTable
	t.factAlias = m.FactTable[strings.IndexByte(m.FactTable, '.')+1:]
	t.partitionCol = m.PartitionDesc.PartitionDateColumn
	for _, dim := range m.Dimensions {
		for _, col := range dim.Columns {
			if len(t.columns) < 13 {
				t.columns = append(t.columns, column{dim.Table + "_" + col, "varchar(256)"})
			}
		}
	}
	return t, nil
}

// newJob starts a job submitted now.
func (c *churner) newJob(kind jobKind, target jobTarget, steps int) *job {
	j := &job{
		id:          newUUID(c.r),
		kind:        kind,
		target:      target,
		steps:       steps,
		submitter:   "ADMIN",
		buildServer: pick(c.r, servers[:2]),
	}
	if len(c.users) > 0 {
		j.submitter = strings.TrimPrefix(pick(c.r, c.users), "/user/")
	}
	j.submitted = c.tick()
	j.start = j.submitted + between(c.r, second, 30*second)
	return j
}

// addJob records a job's files and tracks the job for later operations.
func (c *churner) addJob(j *job) error {
	js := &jobState{id: j.id, status: j.status, updated: j.updated}
	taskFiles := c.shape == ShapeJobs
	for i := range j.steps {
		js.steps = append(js.steps, stepOutputPath(j.id, i))
		if taskFiles {
			js.tasks = append(js.tasks, stepExecutePath(j.id, i))
		}
	}
	c.jobs = append(c.jobs, js)
	return jobFiles(c.seed, j, taskFiles, func(path string, ts int64, v any) error { return c.putJSON(path, v, ts) })
}

// nextSegment returns a new segment shaped like like, over [start, end).
func (c *churner) nextSegment(like segmentJSON, start, end int64) segmentJSON {
	s := like
	s.UUID = newUUID(c.r)
	s.Name = segmentName(start, end)
	s.StorageLocationIdentifier = "KYLIN_" + randomUpper(c.r, 10)
	s.DateRangeStart, s.DateRangeEnd = start, end
	s.Status = "READY"
	s.IsMerged = false
	s.InputRecords = like.InputRecords * int64(80+c.r.IntN(40)) / 100
	s.InputRecordsSize = like.InputRecordsSize * int64(80+c.r.IntN(40)) / 100
	s.SizeKB = max(1, like.SizeKB*int64(80+c.r.IntN(40))/100)
	s.CreateTimeUTC = c.now
	s.CuboidShardNums = maps.Clone(like.CuboidShardNums)
	s.AdditionalInfo = maps.Clone(like.AdditionalInfo)
	s.Dictionaries = map[string]string{}
	s.Snapshots = map[string]string{}
	s.RowkeyStats = nil
	for _, st := range like.RowkeyStats {
		s.RowkeyStats = append(s.RowkeyStats, slices.Clone(st))
	}
	return s
}

// addSegmentFiles gives seg new dictionaries for the columns like has
// dictionaries for (cardinalities scaled by growth), new snapshots of
// like's lookup tables, and new statistics, all timestamped from ts on.
func (c *churner) addSegmentFiles(cs *cubeState, seg *segmentJSON, like segmentJSON, ts int64, growth float64) error {
	cards := map[string]int{}
	for _, st := range seg.RowkeyStats {
		if len(st) >= 2 {
			name, _ := st[0].(string)
			if f, ok := st[1].(float64); ok {
				card := max(1, int(f*growth*(0.9+0.2*c.r.Float64())))
				st[1] = card
				cards[name] = card
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(like.Dictionaries)) {
		table, col, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		card := cards[col]
		if card == 0 {
			card = logNormal(c.r, 5.6, 1.6, 2, 200_000)
		}
		uuid := newUUID(c.r)
		path := dictPath(table, col, uuid)
		ts += between(c.r, second, 20*second)
		err := c.putRendered(path, ts, func(r *rand.Rand) ([]byte, error) {
			return renderDict(r, dictSpec{uuid: uuid, ts: ts, table: table, col: col, datatype: "varchar(256)", cardinality: card})
		})
		if err != nil {
			return err
		}
		seg.Dictionaries[key] = path
		c.refs[path]++
	}
	if growth == 1 {
		for _, table := range slices.Sorted(maps.Keys(like.Snapshots)) {
			cols, err := c.tableColumns(cs.project, table)
			if err != nil {
				return err
			}
			uuid := newUUID(c.r)
			path := snapshotPath(table, uuid)
			ts += between(c.r, second, 20*second)
			spec := snapSpec{uuid: uuid, ts: ts, table: table, columns: cols, rows: logNormal(c.r, 3.9, 1.5, 5, maxSnapshotBytes/(14*len(cols)))}
			if err := c.putRendered(path, ts, func(r *rand.Rand) ([]byte, error) { return renderSnapshot(r, spec) }); err != nil {
				return err
			}
			seg.Snapshots[table] = path
			c.refs[path]++
		}
	} else {
		// A merged segment keeps the newest snapshots.
		for table, path := range like.Snapshots {
			seg.Snapshots[table] = path
			c.refs[path]++
		}
	}
	path := "/cube_statistics/" + cs.c.Name + "/" + seg.UUID + ".seq"
	data, err := rendered(c.seed, path, func(r *rand.Rand) ([]byte, error) {
		return renderStats(r, statsSpec{dims: len(seg.RowkeyStats), inputRows: seg.InputRecords, samplePct: 100, mapperNums: 1 + r.IntN(200)}, nil)
	})
	if err != nil {
		return err
	}
	c.put(path, data, ts+between(c.r, second, minute))
	return nil
}

// releaseSegment drops a removed segment's references and deletes its
// statistics and every dictionary and snapshot no segment references now.
func (c *churner) releaseSegment(cs *cubeState, s segmentJSON) {
	for _, p := range slices.Sorted(maps.Values(s.Dictionaries)) {
		c.release(p)
	}
	for _, p := range slices.Sorted(maps.Values(s.Snapshots)) {
		c.release(p)
	}
	c.remove("/cube_statistics/" + cs.c.Name + "/" + s.UUID + ".seq")
}

func (c *churner) release(path string) {
	if c.refs[path]--; c.refs[path] <= 0 {
		delete(c.refs, path)
		c.remove(path)
	}
}

// tableColumns returns the column names of a project's table.
func (c *churner) tableColumns(project, table string) ([]string, error) {
	var t tableJSON
	err := c.readJSON("/table/"+table+"--"+project+".json", &t)
	if errors.Is(err, fs.ErrNotExist) {
		err = c.readJSON("/table/"+table+".json", &t)
	}
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(t.Columns) == 0 {
		return []string{table[strings.IndexByte(table, '.')+1:] + "_ID"}, nil
	}
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i] = col.Name
	}
	return cols, nil
}
