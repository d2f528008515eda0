package scope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// model5 is one Kylin 5 model descriptor, "/P/model_desc/ID.json".
type model5 struct {
	project string
	id      string // the key's stem, normally the model's uuid
	path    string
	desc    modelDesc
	err     error  // parse error, if any
	raw     []byte // the content, kept only when err != nil
}

// qualified returns "project.alias".
func (m *model5) qualified() string { return m.project + "." + m.desc.Alias }

// models5 reads the model descriptors of every project of a Layout5
// metastore, in project then key order.
func models5(ctx context.Context, src metastore.Source) ([]model5, error) {
	projects, err := listStems(ctx, src, project5Prefix)
	if err != nil {
		return nil, err
	}
	var out []model5
	for _, p := range projects {
		if !isComponent(p) {
			continue
		}
		prefix := "/" + p + "/model_desc/"
		ids, err := listStems(ctx, src, prefix)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			m := model5{project: p, id: id, path: prefix + id + jsonSuffix}
			res, err := src.Read(ctx, m.path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", m.path, err)
			}
			if m.err = decode(res.Data, &m.desc); m.err != nil {
				m.raw = res.Data
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// modelsOf reads the model descriptors of a Kylin 5 metastore of either
// layout; none on Layout4.
func modelsOf(ctx context.Context, src metastore.Source) ([]model5, error) {
	layout, err := DetectLayout(ctx, src)
	switch {
	case err != nil || layout == Layout4:
		return nil, err
	case layout == LayoutTyped:
		return modelsTyped(ctx, src)
	}
	return models5(ctx, src)
}

// modelsTyped reads the model descriptors of a LayoutTyped metastore,
// "/MODEL/UUID.json", whose project is their "project" field.
func modelsTyped(ctx context.Context, src metastore.Source) ([]model5, error) {
	ids, err := listStems(ctx, src, modelTyped)
	if err != nil {
		return nil, err
	}
	var out []model5
	for _, id := range ids {
		m := model5{id: id, path: modelTyped + id + jsonSuffix}
		res, err := src.Read(ctx, m.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", m.path, err)
		}
		var p struct {
			Project string `json:"project"`
		}
		if m.err = decode(res.Data, &m.desc); m.err == nil {
			m.err = decode(res.Data, &p)
		}
		m.project = p.Project
		if m.err != nil {
			m.raw = res.Data
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].project < out[j].project })
	return out, nil
}

// cubeNames5 returns the names Cubes reports for Kylin 5 models: the alias,
// or "project.alias" when projects share the alias.
func cubeNames5(models []model5) []string {
	projects := map[string]map[string]bool{}
	for _, m := range models {
		if m.err != nil || m.desc.Alias == "" {
			continue
		}
		if projects[m.desc.Alias] == nil {
			projects[m.desc.Alias] = map[string]bool{}
		}
		projects[m.desc.Alias][m.project] = true
	}
	var names orderedSet
	for _, m := range models {
		if m.err != nil || m.desc.Alias == "" {
			continue
		}
		if len(projects[m.desc.Alias]) == 1 {
			names.add(m.desc.Alias)
		} else {
			names.add(m.qualified())
		}
	}
	return names.sorted()
}

// cube5 resolves a cube scope on Layout5: name is a model alias,
// "project.alias", a model's uuid or "project.uuid".
func (r *resolver) cube5(res *Result, name string, opt Options) error {
	m, err := r.findModel5(name)
	if err != nil {
		return err
	}
	res.Project, res.Model, res.ModelID = m.project, m.desc.Alias, m.id
	r.add(m.path)
	if _, err := r.addIfExists(uuidPath); err != nil {
		return err
	}
	if err := r.addReferenced(project5Prefix+m.project+jsonSuffix, m.path, m.path); err != nil {
		return err
	}
	if m.desc.UUID != "" && m.desc.UUID != m.id {
		r.warn(m.path, "uuid %q differs from the key; following the key %q", m.desc.UUID, m.id)
	}
	dir := "/" + m.project + "/"
	for _, typ := range []string{"index_plan/", "dataflow/"} {
		if err := r.addReferenced(dir+typ+m.id+jsonSuffix, m.path, m.path); err != nil {
			return err
		}
	}
	if opt.WithSegments {
		if err := r.segments5(m, dir); err != nil {
			return err
		}
	}
	return r.modelTables5(res, m,
		func(t string) string { return dir + "table/" + t + jsonSuffix },
		func(t string) string { return dir + "table_exd/" + t + jsonSuffix })
}

// modelTables5 sets res.Tables to the tables model m names, sorted, and adds
// each one's resource, tableKey(t) (which must exist), and its extended
// description, exdKey(t), if there is one. A table name that cannot be a
// resource key is warned about and left out of the paths.
func (r *resolver) modelTables5(res *Result, m *model5, tableKey, exdKey func(table string) string) error {
	res.Tables = m.desc.tables()
	sort.Strings(res.Tables)
	for _, t := range res.Tables {
		if !isComponent(t) {
			r.warn(m.path, "names table %q, which cannot be a resource key", t)
			continue
		}
		if err := r.addReferenced(tableKey(t), m.path, m.path); err != nil {
			return err
		}
		if _, err := r.addIfExists(exdKey(t)); err != nil {
			return err
		}
	}
	return nil
}

// dataflow5 is the part of "/P/dataflow/ID.json" a model scope reads.
type dataflow5 struct {
	Segments []struct {
		ID string `json:"id"`
	} `json:"segments"`
}

// segments5 adds the details of the model's segments that exist,
// "/P/dataflow_details/ID/SEGMENT.json" for each "id" of the dataflow's
// "segments" (Kylin's NDataSegDetailsManager reads a segment's details by
// its id, and has none until a layout of it is built).
func (r *resolver) segments5(m *model5, dir string) error {
	dfKey := dir + "dataflow/" + m.id + jsonSuffix
	var df dataflow5
	if ok, err := r.readDataflow(dfKey, &df); !ok {
		return err
	}
	prefix := dir + "dataflow_details/" + m.id + "/"
	have := map[string]bool{}
	err := r.src.List(r.ctx, prefix, func(p string) error {
		have[p] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, seg := range df.Segments {
		if p := prefix + seg.ID + jsonSuffix; isComponent(seg.ID) && have[p] {
			r.known[p] = true
			r.add(p)
		}
	}
	return nil
}

// readDataflow decodes a model's dataflow, at dfKey on either Kylin 5
// layout, into df, for the model's segments. It reports false if there is
// none, or if it cannot be parsed (warned: the segments are left out).
func (r *resolver) readDataflow(dfKey string, df any) (bool, error) {
	data, ok, err := r.read(dfKey)
	if err != nil || !ok {
		return false, err
	}
	if err := decode(data, df); err != nil {
		r.warn(dfKey, "cannot parse (%v); the model's segments are left out", err)
		return false, nil
	}
	return true, nil
}

// findModel5 finds the one model a cube name names: an alias, then
// "project.alias", then a uuid (the key stem), then "project.uuid".
func (r *resolver) findModel5(name string) (*model5, error) {
	all, err := models5(r.ctx, r.src)
	if err != nil {
		return nil, err
	}
	return r.pickModel5(all, name)
}

// pickModel5 finds among all the one model name names (see findModel5).
func (r *resolver) pickModel5(all []model5, name string) (*model5, error) {
	found := r.modelsNamed5(all, "", name)
	if project, alias, ok := strings.Cut(name, "."); ok && len(found) == 0 {
		found = r.modelsNamed5(all, project, alias)
	}
	byID := false
	if len(found) == 0 {
		found, byID = modelsWithID5(all, name), true
	}
	switch len(found) {
	case 0:
		var unparsed []string
		for _, w := range r.sortedWarnings() {
			unparsed = append(unparsed, w.Path)
		}
		nf := &NotFoundError{Kind: Cube, Name: name, Unparsed: unparsed, Model: true}
		if r.suggest {
			nf.Closest = closestModels5(name, all)
		}
		return nil, nf
	case 1:
		return found[0], nil
	}
	var names []string
	for _, m := range found {
		names = append(names, m.qualified()+" ("+m.path+")")
	}
	what := "is the alias of"
	if byID {
		what = "is the uuid of" // the same model in several projects
	}
	return nil, fmt.Errorf("%w: %q %s %d models: %s; name one of them as PROJECT.alias", ErrAmbiguousCube, name, what, len(found), strings.Join(names, ", "))
}

// ModelRefs returns a name for each model of a Kylin 5 metastore (Layout5
// or LayoutTyped) whose descriptor can be parsed, "PROJECT.UUID", which
// resolves to that model alone even where aliases are shared (Cubes names
// such models once); nil on other layouts.
func ModelRefs(ctx context.Context, src metastore.Source) ([]string, error) {
	models, err := modelsOf(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range models {
		if m.err == nil && CheckName(m.project+"."+m.id) == nil {
			out = append(out, m.project+"."+m.id)
		}
	}
	return out, nil
}

// ModelIDs returns the uuids (key stems) of the models of project whose
// alias is alias in a Kylin 5 metastore (Layout5 or LayoutTyped), in key
// order: Kylin 5 expects one, a restore into the project may add another.
func ModelIDs(ctx context.Context, src metastore.Source, project, alias string) ([]string, error) {
	models, err := modelsOf(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range models {
		if m.err == nil && m.project == project && m.desc.Alias == alias {
			out = append(out, m.id)
		}
	}
	return out, nil
}

// closestModels5 returns the names Cubes gives the models of all that come
// closest to name, compared with the name, the alias and "project.alias":
// a misspelt alias suggests "project.alias" where projects share it.
func closestModels5(name string, all []model5) []string {
	names := cubeNames5(all)
	best := map[string]int{}
	lname := strings.ToLower(name)
	for _, m := range all {
		if m.err != nil || m.desc.Alias == "" {
			continue
		}
		shown := m.desc.Alias
		if !slices.Contains(names, shown) {
			shown = m.qualified()
		}
		for _, k := range []string{m.desc.Alias, m.qualified()} {
			d := editDistance(lname, strings.ToLower(k))
			if old, ok := best[shown]; d <= maxSuggestDistance && (!ok || d < old) {
				best[shown] = d
			}
		}
	}
	out := slices.Collect(maps.Keys(best))
	slices.SortFunc(out, func(a, b string) int {
		if best[a] != best[b] {
			return best[a] - best[b]
		}
		return strings.Compare(a, b)
	})
	return out[:min(len(out), maxSuggestions)]
}

// modelsWithID5 returns the models of all whose key stem (their uuid) is
// name, or, for "project.uuid", those of that project: the same model may
// be in several projects.
func modelsWithID5(all []model5, name string) []*model5 {
	var found []*model5
	for _, qualified := range []bool{false, true} {
		project, id := "", name
		if qualified {
			var ok bool
			if project, id, ok = strings.Cut(name, "."); !ok {
				break
			}
		}
		for i := range all {
			m := &all[i]
			if m.err == nil && m.id == id && (project == "" || m.project == project) {
				found = append(found, m)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	return found
}

// modelsNamed5 returns the models of all (of project, if not "") whose
// alias is alias, and warns of those that cannot be parsed but mention it.
func (r *resolver) modelsNamed5(all []model5, project, alias string) []*model5 {
	var found []*model5
	for i := range all {
		m := &all[i]
		if project != "" && m.project != project {
			continue
		}
		if m.err != nil {
			r.unparsed(m.path, m.raw, m.err, "be model "+alias, alias)
			continue
		}
		if m.desc.Alias == alias {
			found = append(found, m)
		}
	}
	return found
}

// project5 resolves a project scope on Layout5.
func (r *resolver) project5(name string) error {
	r.listDirs = true
	projPath := project5Prefix + name + jsonSuffix
	data, ok, err := r.read(projPath)
	if err != nil {
		return err
	}
	if !ok {
		return r.notFound(Project, name, project5Prefix)
	}
	r.add(projPath)
	if _, err := r.addIfExists(uuidPath); err != nil {
		return err
	}
	for _, prefix := range []string{"/" + name + "/", "/_global/user/", "/_global/user_group/"} {
		if err := r.addPrefix(prefix); err != nil {
			return err
		}
	}
	if err := r.globals5(name); err != nil {
		return err
	}
	return r.projectACL5(projPath, data, func(uuid string) string { return "/_global/acl/" + uuid })
}

// projectACL5 adds a Kylin 5 project's ACL, aclKey(uuid) for the uuid in the
// project's resource (projPath, holding data), if there is one. A project
// that cannot be parsed is warned about and its ACL left out.
func (r *resolver) projectACL5(projPath string, data []byte, aclKey func(uuid string) string) error {
	var pd projectDesc
	if err := decode(data, &pd); err != nil {
		r.warn(projPath, "cannot parse (%v); the project's ACL is left out", err)
		return nil
	}
	if isComponent(pd.UUID) {
		if _, err := r.addIfExists(aclKey(pd.UUID)); err != nil {
			return err
		}
	}
	return nil
}

// Kylin 5's global resources that belong to project scopes besides the
// users and groups: the legacy single file of every user group, and the
// logical views.
const (
	userGroupFile5    = "/_global/user_group"
	logicalViewPrefix = "/_global/logical_view/"
)

// globals5 adds to project scope name the legacy user group file (every
// project's, as "/user_group" is on Kylin 2.x-4.x) and the logical views
// whose "created_project" is name. A logical view that cannot be parsed is
// a warning if it mentions name.
func (r *resolver) globals5(name string) error {
	// Probe the one key rather than list all of "/_global/".
	listDirs := r.listDirs
	r.listDirs = false
	_, err := r.addIfExists(userGroupFile5)
	r.listDirs = listDirs
	if err != nil {
		return err
	}
	return r.readEach(logicalViewPrefix, func(key string, data []byte) {
		var lv struct {
			CreatedProject string `json:"created_project"`
		}
		if err := decode(data, &lv); err != nil {
			r.unparsed(key, data, err, "be a logical view of project "+name, name)
			return
		}
		if lv.CreatedProject == name {
			r.add(key)
		}
	})
}
