package scope

import (
	"fmt"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// The scopes of Kylin 5's per-type layout (LayoutTyped, KYLIN-5945): keys
// "/TYPE/META_KEY.json". The rules are in the package documentation.

// projectTypesTyped are the types whose resources name their project in a
// top-level JSON field "project" (the types whose table has a project
// column, filled from that field by Kylin's metadata/mapper classes).
var projectTypesTyped = []string{
	"ACL", "CC_MODEL_RELATION", "COMPUTE_COLUMN", "DATAFLOW", "DATA_PARSER", "FUSION_MODEL",
	"INDEX_PLAN", "INTERNAL_TABLE", "JAR_INFO", "JOB_STATS", "KAFKA_CONFIG", "LAYOUT",
	"LAYOUT_DETAILS", "MODEL", "QUERY_RECORD", "SEGMENT", "SQL_BLACKLIST", "STREAMING_JOB",
	"TABLE_EXD", "TABLE_INFO", "TABLE_MODEL_RELATION",
}

// typedKey returns "/TYPE/mk.json".
func typedKey(typ, mk string) string { return "/" + typ + "/" + mk + jsonSuffix }

// eachWithField calls fn for each resource directly under folder whose
// top-level JSON string field is value: through the source's
// metastore.FieldLister when it can answer, else by reading each resource
// (a resource that cannot be parsed is a warning if it mentions value;
// what says what it may be).
func (r *resolver) eachWithField(folder, field, value, what string, fn func(key string)) error {
	if fl, ok := r.src.(metastore.FieldLister); ok {
		done, err := fl.ListField(r.ctx, folder, field, value, func(p string) error {
			r.known[p] = true
			fn(p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s by %s: %w", folder, field, err)
		}
		if done {
			return nil
		}
	}
	return r.readEach(folder, func(key string, data []byte) {
		var doc map[string]any
		if err := decode(data, &doc); err != nil {
			r.unparsed(key, data, err, what, value)
			return
		}
		if s, ok := doc[field].(string); ok && s == value {
			fn(key)
		}
	})
}

// projectTyped resolves a project scope on LayoutTyped.
func (r *resolver) projectTyped(name string) error {
	projPath := typedKey("PROJECT", name)
	data, ok, err := r.read(projPath)
	if err != nil {
		return err
	}
	if !ok || !isComponent(name) {
		return r.notFound(Project, name, projectTyped)
	}
	r.add(projPath)
	for _, typ := range projectTypesTyped {
		if err := r.eachWithField("/"+typ+"/", "project", name, "be of project "+name, r.add); err != nil {
			return err
		}
	}
	if err := r.eachWithField("/LOGICAL_VIEW/", "created_project", name, "be a logical view of project "+name, r.add); err != nil {
		return err
	}
	for _, prefix := range []string{"/USER_INFO/", "/USER_GROUP/"} {
		if err := r.addPrefix(prefix); err != nil {
			return err
		}
	}
	return r.projectACL5(projPath, data, func(uuid string) string { return typedKey("OBJECT_ACL", uuid) })
}

// dataflowTyped is the part of "/DATAFLOW/ID.json" a model scope reads.
type dataflowTyped struct {
	SegmentUUIDs []string `json:"segment_uuids"`
}

// ccRelation is "/CC_MODEL_RELATION/UUID.json".
type ccRelation struct {
	CC string `json:"cc_uuid"`
}

// cubeTyped resolves a cube (model) scope on LayoutTyped.
func (r *resolver) cubeTyped(res *Result, name string, opt Options) error {
	all, err := modelsTyped(r.ctx, r.src)
	if err != nil {
		return err
	}
	m, err := r.pickModel5(all, name)
	if err != nil {
		return err
	}
	res.Project, res.Model, res.ModelID = m.project, m.desc.Alias, m.id
	r.add(m.path)
	if err := r.addReferenced(typedKey("PROJECT", m.project), m.path, m.path); err != nil {
		return err
	}
	for _, typ := range []string{"INDEX_PLAN", "DATAFLOW"} {
		if err := r.addReferenced(typedKey(typ, m.id), m.path, m.path); err != nil {
			return err
		}
	}
	if err := r.modelTables5(res, m,
		func(t string) string { return typedKey("TABLE_INFO", m.project+"."+t) },
		func(t string) string { return typedKey("TABLE_EXD", m.project+"."+t) }); err != nil {
		return err
	}
	if err := r.relationsTyped(m); err != nil {
		return err
	}
	if opt.WithSegments {
		return r.segmentsTyped(m)
	}
	return nil
}

// relationsTyped adds the model's relations to its tables and computed
// columns, and the computed columns.
func (r *resolver) relationsTyped(m *model5) error {
	what := "be a relation of model " + m.id
	if err := r.eachWithField("/TABLE_MODEL_RELATION/", "model_uuid", m.id, what, r.add); err != nil {
		return err
	}
	var rels []string
	if err := r.eachWithField("/CC_MODEL_RELATION/", "model_uuid", m.id, what, func(k string) { rels = append(rels, k) }); err != nil {
		return err
	}
	for _, k := range rels {
		r.add(k)
		data, ok, err := r.read(k)
		if err != nil || !ok {
			return err
		}
		var rel ccRelation
		if err := decode(data, &rel); err != nil || !isComponent(rel.CC) {
			r.warn(k, "names no computed column (cc_uuid) that can be a resource key")
			continue
		}
		if err := r.addReferenced(typedKey("COMPUTE_COLUMN", rel.CC), k, k); err != nil {
			return err
		}
	}
	return nil
}

// segmentsTyped adds the model's segments ("/SEGMENT/S.json" for each S of
// the dataflow's "segment_uuids"), their layouts ("/LAYOUT/S.json", when
// built) and the layout details of the model ("/LAYOUT_DETAILS/ID-L.json").
func (r *resolver) segmentsTyped(m *model5) error {
	dfKey := typedKey("DATAFLOW", m.id)
	var df dataflowTyped
	if ok, err := r.readDataflow(dfKey, &df); !ok {
		return err
	}
	for _, seg := range df.SegmentUUIDs {
		if !isComponent(seg) {
			r.warn(dfKey, "names segment %q, which cannot be a resource key", seg)
			continue
		}
		if err := r.addReferenced(typedKey("SEGMENT", seg), dfKey, "segment_uuids of "+dfKey); err != nil {
			return err
		}
		if _, err := r.addIfExists(typedKey("LAYOUT", seg)); err != nil {
			return err
		}
	}
	prefix := "/LAYOUT_DETAILS/" + m.id + "-"
	return r.src.List(r.ctx, prefix, func(p string) error {
		if rest := strings.TrimSuffix(p[len(prefix):], jsonSuffix); rest != "" && !strings.ContainsAny(rest, "/-") {
			r.known[p] = true
			r.add(p)
		}
		return nil
	})
}
