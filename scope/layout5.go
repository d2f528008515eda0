package scope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// cube5 resolves a cube scope on Layout5: name is a model alias, or
// "project.alias".
func (r *resolver) cube5(res *Result, name string) error {
	m, err := r.findModel5(name)
	if err != nil {
		return err
	}
	res.Project, res.Model = m.project, m.desc.Alias
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
	if err := r.addPrefix(dir + "dataflow_details/" + m.id + "/"); err != nil {
		return err
	}
	res.Tables = m.desc.tables()
	sort.Strings(res.Tables)
	for _, t := range res.Tables {
		if !isComponent(t) {
			r.warn(m.path, "names table %q, which cannot be a resource key", t)
			continue
		}
		if err := r.addReferenced(dir+"table/"+t+jsonSuffix, m.path, m.path); err != nil {
			return err
		}
		if _, err := r.addIfExists(dir + "table_exd/" + t + jsonSuffix); err != nil {
			return err
		}
	}
	return nil
}

// findModel5 finds the one model a cube name (an alias, or
// "project.alias") names.
func (r *resolver) findModel5(name string) (*model5, error) {
	all, err := models5(r.ctx, r.src)
	if err != nil {
		return nil, err
	}
	found := r.modelsNamed5(all, "", name)
	if project, alias, ok := strings.Cut(name, "."); ok && len(found) == 0 {
		found = r.modelsNamed5(all, project, alias)
	}
	switch len(found) {
	case 0:
		var unparsed []string
		for _, w := range r.sortedWarnings() {
			unparsed = append(unparsed, w.Path)
		}
		nf := &NotFoundError{Kind: Cube, Name: name, Unparsed: unparsed}
		if r.suggest {
			nf.Closest = closest(name, cubeNames5(all))
		}
		return nil, nf
	case 1:
		return found[0], nil
	}
	var names []string
	for _, m := range found {
		names = append(names, m.qualified()+" ("+m.path+")")
	}
	return nil, fmt.Errorf("%w: %q is the alias of %d models: %s; name one of them as PROJECT.alias", ErrAmbiguousCube, name, len(found), strings.Join(names, ", "))
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
	var pd projectDesc
	if err := decode(data, &pd); err != nil {
		r.warn(projPath, "cannot parse (%v); the project's ACL is left out", err)
		return nil
	}
	if isComponent(pd.UUID) {
		if _, err := r.addIfExists("/_global/acl/" + pd.UUID); err != nil {
			return err
		}
	}
	return nil
}
