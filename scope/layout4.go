package scope

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// cubeInfo is what the cube rules learned about one cube.
type cubeInfo struct {
	name       string
	path       string // "/cube/C.json"
	uuid       string
	descriptor string
	model      string
	modelUUID  string
	tables     []string
	segments   []cubeSegment
}

// cube4 resolves a cube scope on Layout4.
func (r *resolver) cube4(res *Result, name string, opt Options) error {
	cubePath := cubePrefix4 + name + jsonSuffix
	ok, err := r.exists(cubePath)
	if err != nil {
		return err
	}
	if !ok {
		return r.notFound(Cube, name, cubePrefix4)
	}
	if _, err := r.addIfExists(uuidPath); err != nil {
		return err
	}
	project, err := r.projectOf4(name, cubePath)
	if err != nil {
		return err
	}
	if project != "" {
		r.add(projectPrefix4 + project + jsonSuffix)
	}
	info, err := r.cubeCore(name, project, "")
	if err != nil || info == nil {
		return err
	}
	if opt.WithSegments {
		if err := r.segments(info); err != nil {
			return err
		}
	}
	res.Project = project
	res.Model = info.model
	res.Tables = append([]string(nil), info.tables...)
	sort.Strings(res.Tables)
	return nil
}

// projectOf4 returns the project that lists cube among its realizations
// (type CUBE), or "" if none does. Projects are tried in name order; when
// several list the cube the first wins and a warning names them all.
func (r *resolver) projectOf4(cube, cubePath string) (string, error) {
	names, err := listStems(r.ctx, r.src, projectPrefix4)
	if err != nil {
		return "", err
	}
	var found []string
	quoted := []byte(`"` + cube + `"`)
	for _, p := range names {
		path := projectPrefix4 + p + jsonSuffix
		data, ok, err := r.read(path)
		if err != nil {
			return "", err
		}
		if !ok || cannotMention(data, cube, quoted) {
			continue
		}
		var pd projectDesc
		if err := decode(data, &pd); err != nil {
			r.unparsed(path, data, err, "list cube "+cube, cube)
			continue
		}
		for _, e := range pd.Realizations {
			if e.isCube() && e.name() == cube {
				found = append(found, p)
				break
			}
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	if len(found) > 1 {
		r.warn(cubePath, "listed by several projects (%s); using %s", strings.Join(found, ", "), found[0])
	}
	return found[0], nil
}

// cubeCore adds the resources of the cube rule except /UUID and the project
// file: the cube, its descriptor, its model, and the model's tables and
// table_exd in the form of project (or the legacy form). from names who
// lists the cube, for the warning if it does not exist ("" when the caller
// checked). It returns nil if the cube does not exist.
func (r *resolver) cubeCore(name, project, from string) (*cubeInfo, error) {
	cubePath := cubePrefix4 + name + jsonSuffix
	if !isComponent(name) {
		r.warn(from, "names cube %q, which cannot be a resource key", name)
		return nil, nil
	}
	data, ok, err := r.read(cubePath)
	if err != nil {
		return nil, err
	}
	if !ok {
		if from != "" {
			r.warn(cubePath, "does not exist (listed by %s)", from)
		}
		return nil, nil
	}
	r.add(cubePath)
	info := &cubeInfo{name: name, path: cubePath}
	var ci cubeInstance
	if err := decode(data, &ci); err != nil {
		r.warn(cubePath, "cannot parse (%v); its descriptor, model, tables and segments are left out", err)
		return info, nil
	}
	info.uuid, info.descriptor, info.segments = ci.UUID, ci.Descriptor, ci.Segments
	if !isComponent(ci.Descriptor) {
		r.warn(cubePath, "has no usable descriptor (%q); its descriptor, model and tables are left out", ci.Descriptor)
		return info, nil
	}
	descPath := "/cube_desc/" + ci.Descriptor + jsonSuffix
	data, ok, err = r.read(descPath)
	if err != nil {
		return nil, err
	}
	if !ok {
		r.warn(descPath, "does not exist (referenced by %s)", cubePath)
		return info, nil
	}
	r.add(descPath)
	var cd cubeDescriptor
	if err := decode(data, &cd); err != nil {
		r.warn(descPath, "cannot parse (%v); its model and tables are left out", err)
		return info, nil
	}
	info.model = cd.ModelName
	if !isComponent(cd.ModelName) {
		r.warn(descPath, "has no usable model_name (%q); the model and its tables are left out", cd.ModelName)
		return info, nil
	}
	md, modelPath, err := r.model4(cd.ModelName, descPath)
	if err != nil || md == nil {
		return info, err
	}
	info.modelUUID = md.UUID
	info.tables = md.tables()
	for _, t := range info.tables {
		if err := r.addTable(t, project, modelPath); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// model4 adds "/model_desc/M.json" and returns it decoded, or nil (with a
// warning) if it is missing or cannot be parsed.
func (r *resolver) model4(name, from string) (*modelDesc, string, error) {
	path := "/model_desc/" + name + jsonSuffix
	if md, seen := r.models[path]; seen {
		return md, path, nil
	}
	r.models[path] = nil
	data, ok, err := r.read(path)
	if err != nil {
		return nil, path, err
	}
	if !ok {
		r.warn(path, "does not exist (referenced by %s)", from)
		return nil, path, nil
	}
	r.add(path)
	var md modelDesc
	if err := decode(data, &md); err != nil {
		r.warn(path, "cannot parse (%v); the tables and ACL it implies are left out", err)
		return nil, path, nil
	}
	r.models[path] = &md
	return &md, path, nil
}

// addTable adds the table resource of table for project, and its table_exd
// resource if there is one. Each is taken in the project form
// "/table/DB.T--P.json" when project is known and that resource exists, and
// in the legacy form "/table/DB.T.json" otherwise. A table without any
// resource is warned about; a missing table_exd is normal.
func (r *resolver) addTable(table, project, from string) error {
	if !isComponent(table) {
		r.warn(from, "names table %q, which cannot be a resource key", table)
		return nil
	}
	for _, typ := range []string{"/table/", "/table_exd/"} {
		legacy := typ + table + jsonSuffix
		found := false
		if project != "" {
			ok, err := r.addIfExists(typ + table + tableProjectSep + project + jsonSuffix)
			if err != nil {
				return err
			}
			found = ok
		}
		if !found {
			ok, err := r.addIfExists(legacy)
			if err != nil {
				return err
			}
			found = ok
		}
		if !found && typ == "/table/" {
			if project != "" {
				r.warn(legacy, "does not exist, nor %s (table %s is used by %s)",
					typ+table+tableProjectSep+project+jsonSuffix, table, from)
			} else {
				r.warn(legacy, "does not exist (table %s is used by %s)", table, from)
			}
		}
	}
	return nil
}

// segments adds the dictionaries, snapshots and statistics that the cube's
// segments reference; missing ones are warned about, except the statistics
// of a segment that was never built (status NEW).
func (r *resolver) segments(info *cubeInfo) error {
	for _, seg := range info.segments {
		from := info.path
		if seg.Name != "" {
			from = "segment " + seg.Name + " of " + info.path
		}
		for _, m := range []map[string]string{seg.Dictionaries, seg.Snapshots} {
			for _, key := range sortedKeys(m) {
				if m[key] == "" {
					continue
				}
				if err := r.addReferenced(m[key], info.path, from); err != nil {
					return err
				}
			}
		}
		if !isComponent(seg.UUID) || !isComponent(info.name) {
			continue
		}
		stats := "/cube_statistics/" + info.name + "/" + seg.UUID + ".seq"
		ok, err := r.addIfExists(stats)
		if err != nil {
			return err
		}
		if !ok && !strings.EqualFold(seg.Status, "NEW") {
			r.warn(stats, "does not exist (statistics of %s)", from)
		}
	}
	return nil
}

// project4 resolves a project scope on Layout4.
func (r *resolver) project4(name string) error {
	r.listDirs = true
	p := &project4{name: name, path: projectPrefix4 + name + jsonSuffix, segmentIDs: map[string]bool{}}
	data, ok, err := r.read(p.path)
	if err != nil {
		return err
	}
	if !ok {
		return r.notFound(Project, name, projectPrefix4)
	}
	r.add(p.path)
	if err := decode(data, &p.desc); err != nil {
		r.warn(p.path, "cannot parse (%v); its cubes, hybrids, models, tables and ACL are left out", err)
	}
	for _, k := range []string{uuidPath, "/bad_query/" + name + jsonSuffix} {
		if _, err := r.addIfExists(k); err != nil {
			return err
		}
	}
	for _, step := range []func(*project4) error{
		func(p *project4) error { return r.addACL4(p.desc.UUID) },
		r.realizations4, r.projectCubes4, r.projectModels4, r.projectTables4, r.projectGlobals4,
	} {
		if err := step(p); err != nil {
			return err
		}
	}
	return r.jobs4(name, &p.cubes, p.segmentIDs)
}

// project4 is a Layout4 project scope being resolved.
type project4 struct {
	name, path     string
	desc           projectDesc
	cubes          orderedSet
	models, tables orderedSet
	segmentIDs     map[string]bool
}

// realizations4 notes the project's cubes, and its hybrids with their
// cubes.
func (r *resolver) realizations4(p *project4) error {
	for _, e := range p.desc.Realizations {
		switch {
		case e.isCube():
			p.cubes.add(e.name())
		case strings.EqualFold(e.Type, "HYBRID"):
			if err := r.hybrid4(e.name(), p.path, &p.cubes); err != nil {
				return err
			}
		default:
			r.warn(p.path, "realization %q has unknown type %q; left out", e.name(), e.Type)
		}
	}
	return nil
}

// projectCubes4 adds each cube of the project with its segments, ACLs and
// raw tables, and notes their models and tables.
func (r *resolver) projectCubes4(p *project4) error {
	for _, c := range p.cubes.list {
		info, err := r.cubeCore(c, p.name, p.path)
		if err != nil {
			return err
		}
		if info == nil {
			continue
		}
		if err := r.segments(info); err != nil {
			return err
		}
		for _, seg := range info.segments {
			p.segmentIDs[seg.UUID] = true
		}
		for _, u := range []string{info.uuid, info.modelUUID} {
			if err := r.addACL4(u); err != nil {
				return err
			}
		}
		for _, k := range []string{
			"/raw_table_desc/" + info.descriptor + jsonSuffix,
			"/raw_table_desc/" + c + jsonSuffix,
			"/raw_table_instance/" + c + jsonSuffix,
		} {
			if _, err := r.addIfExists(k); err != nil {
				return err
			}
		}
		p.models.add(info.model)
		for _, t := range info.tables {
			p.tables.add(t)
		}
	}
	return nil
}

// projectModels4 adds the models the project lists, used by a cube or not,
// and the statistics of every model of the project.
func (r *resolver) projectModels4(p *project4) error {
	for _, m := range p.desc.Models {
		if !isComponent(m) {
			r.warn(p.path, "lists model %q, which cannot be a resource key", m)
			continue
		}
		p.models.add(m)
		md, _, err := r.model4(m, p.path)
		if err != nil {
			return err
		}
		if md != nil {
			if err := r.addACL4(md.UUID); err != nil {
				return err
			}
		}
	}
	for _, m := range p.models.list {
		if _, err := r.addIfExists("/model_stats/" + m + jsonSuffix); err != nil {
			return err
		}
	}
	return nil
}

// projectTables4 adds the tables the project lists, and the streaming
// configurations of every table of the project.
func (r *resolver) projectTables4(p *project4) error {
	for _, t := range p.desc.Tables {
		t = normTable(t)
		p.tables.add(t)
		if err := r.addTable(t, p.name, p.path); err != nil {
			return err
		}
	}
	for _, t := range p.tables.list {
		for _, typ := range []string{"/kafka/", "/streaming/", "/streaming_v2/"} {
			if _, err := r.addIfExists(typ + t + jsonSuffix); err != nil {
				return err
			}
		}
	}
	return nil
}

// projectGlobals4 adds the global and name-matched resources. Kylin 3.x
// and 4.x keep all user groups in the single resource /user_group; older
// and newer layouts have one resource per group under /user_group/.
func (r *resolver) projectGlobals4(p *project4) error {
	for _, prefix := range []string{"/user/", "/user_group/"} {
		if err := r.addPrefix(prefix); err != nil {
			return err
		}
	}
	if _, err := r.addIfExists("/user_group"); err != nil {
		return err
	}
	if err := r.scheduler4(p.name); err != nil {
		return err
	}
	named := map[string]bool{p.name: true}
	for _, c := range p.cubes.list {
		named[c] = true
	}
	for _, prefix := range []string{"/cube_stats_info/", "/history/"} {
		if err := r.addNamed(prefix, named); err != nil {
			return err
		}
	}
	return nil
}

// hybrid4 adds "/hybrid/H.json" and adds the cubes it lists to cubes.
func (r *resolver) hybrid4(name, from string, cubes *orderedSet) error {
	if !isComponent(name) {
		r.warn(from, "names hybrid %q, which cannot be a resource key", name)
		return nil
	}
	path := "/hybrid/" + name + jsonSuffix
	data, ok, err := r.read(path)
	if err != nil {
		return err
	}
	if !ok {
		r.warn(path, "does not exist (listed by %s)", from)
		return nil
	}
	r.add(path)
	var hd hybridDesc
	if err := decode(data, &hd); err != nil {
		r.warn(path, "cannot parse (%v); its cubes are left out", err)
		return nil
	}
	for _, e := range hd.Realizations {
		if e.isCube() {
			cubes.add(e.name())
		} else {
			r.warn(path, "realization %q has unsupported type %q; left out", e.name(), e.Type)
		}
	}
	return nil
}

// addACL4 adds "/acl/UUID" if it exists.
func (r *resolver) addACL4(uuid string) error {
	if !isComponent(uuid) {
		return nil
	}
	_, err := r.addIfExists("/acl/" + uuid)
	return err
}

// scheduler4 adds the KE "/scheduler/*" jobs whose "project" is project.
func (r *resolver) scheduler4(project string) error {
	return r.readEach("/scheduler/", func(k string, data []byte) {
		var sj schedulerJob
		if err := decode(data, &sj); err != nil {
			r.unparsed(k, data, err, "be a job of project "+project, project)
		} else if strings.EqualFold(sj.Project, project) {
			r.add(k)
		}
	})
}

// readEach calls fn with the key and content of each resource directly
// under prefix, one after the other: a Walker streams them, another source
// is listed and each resource read as it is listed (one deleted since is
// passed over). Nothing is kept from one resource to the next, so that
// reading the 300,000 jobs of a large metastore to find a project's holds
// one job at a time, not their keys (see TestReadEachHoldsNothing); data
// is valid only during the call.
func (r *resolver) readEach(prefix string, fn func(key string, data []byte)) error {
	direct := func(p string) bool {
		return !strings.Contains(p[len(prefix):], "/") && metastore.CheckPath(p) == nil
	}
	if w, ok := r.src.(metastore.Walker); ok {
		err := w.Walk(r.ctx, prefix, func(res metastore.Resource, err error) error {
			switch {
			case !direct(res.Path):
			case err != nil:
				return fmt.Errorf("read %s: %w", res.Path, err)
			default:
				fn(res.Path, res.Data)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk %s: %w", prefix, err)
		}
		return nil
	}
	err := r.src.List(r.ctx, prefix, func(p string) error {
		if !direct(p) {
			return nil
		}
		res, err := r.src.Read(r.ctx, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read %s: %w", p, err)
		default:
			fn(p, res.Data)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// addNamed adds the keys under prefix that have a path component, or a last
// component without its extension, in names.
func (r *resolver) addNamed(prefix string, names map[string]bool) error {
	err := r.src.List(r.ctx, prefix, func(p string) error {
		comps := strings.Split(p[len(prefix):], "/")
		last := comps[len(comps)-1]
		if i := strings.LastIndexByte(last, '.'); i > 0 {
			comps = append(comps, last[:i])
		}
		for _, c := range comps {
			if names[c] {
				r.add(p)
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// jobs4 adds the jobs of project and their outputs. A job ("/execute/ID",
// an ExecutablePO) is of the project if its "projectName" parameter names
// it or, for jobs without one, if its "cubeName" names one of the project's
// cubes or its "segmentId" one of their segments. Its outputs are
// "/execute_output/ID" and "/execute_output/ID-NN", one per step (the
// steps' ids, which the job lists in "tasks").
func (r *resolver) jobs4(project string, cubes *orderedSet, segmentIDs map[string]bool) error {
	jobs := map[string]bool{}
	dec, projectName := newJobDecoder(), []byte(project)
	err := r.readEach("/execute/", func(k string, data []byte) {
		job, err := dec.decode(data)
		if err != nil {
			r.unparsed(k, data, err, "be a job of project "+project, append([]string{project}, cubes.list...)...)
			return
		}
		var mine bool
		switch pn, cn, sid := job.param(paramProject), job.param(paramCube), job.param(paramSegment); {
		case len(pn) > 0:
			mine = bytes.EqualFold(pn, projectName)
		case len(cn) > 0:
			mine = cubes.seen[string(cn)]
		case len(sid) > 0:
			mine = segmentIDs[string(sid)]
		}
		if mine {
			r.add(k)
			jobs[k[len("/execute/"):]] = true
			for _, task := range job.tasks {
				jobs[string(task)] = true
			}
		}
	})
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	// Listed as a stream: only the project's outputs are kept.
	const outputs = "/execute_output/"
	err = r.src.List(r.ctx, outputs, func(k string) error {
		id := k[len(outputs):]
		switch {
		case strings.Contains(id, "/"):
		case jobs[id]:
			r.add(k)
		default:
			if i := strings.LastIndexByte(id, '-'); i > 0 && allDigits(id[i+1:]) && jobs[id[:i]] {
				r.add(k)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", outputs, err)
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
