package scope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// Layout is the way a metastore arranges its resource keys.
type Layout int8

const (
	// Layout4 is the flat layout of Kylin 2.x to 4.x and KE 3.x: one folder
	// per resource type at the root ("/cube/C.json", "/project/P.json",
	// "/table/DB.T--P.json", "/dict/...").
	Layout4 Layout = iota
	// Layout5 is the layout of Kylin 5: global resources under "/_global"
	// ("/_global/project/P.json", "/_global/user/U") and one folder per
	// project holding that project's resources ("/P/model_desc/UUID.json").
	Layout5
	// LayoutTyped is the layout of Kylin 5.0 GA and later (KYLIN-5945),
	// one folder per metadata type, upper case, each resource named by its
	// meta key: "/PROJECT/P.json", "/MODEL/UUID.json",
	// "/TABLE_INFO/P.DB.T.json", "/SYSTEM/UUID.json" (Kylin's
	// MetadataType, RawResource.generateFilePath).
	LayoutTyped
)

// String returns "layout4" or "layout5".
func (l Layout) String() string {
	switch l {
	case Layout4:
		return "layout4"
	case Layout5:
		return "layout5"
	case LayoutTyped:
		return "layout5-typed"
	}
	return fmt.Sprintf("Layout(%d)", int8(l))
}

// MarshalText encodes l as String does, so a Layout prints as a string in
// JSON.
func (l Layout) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Resource key prefixes the package knows.
const (
	global5Prefix   = "/_global/"
	project5Prefix  = "/_global/project/"
	uuidPath        = "/UUID"
	projectPrefix4  = "/project/"
	projectTyped    = "/PROJECT/"
	modelTyped      = "/MODEL/"
	cubePrefix4     = "/cube/"
	jsonSuffix      = ".json"
	tableProjectSep = "--"
)

// errStop ends a listing early; it never leaves the package.
var errStop = errors.New("stop listing")

// DetectLayout returns Layout5 if src has any resource under
// "/_global/project/", LayoutTyped if it has one under "/PROJECT/" (which
// Kylin 2.x-4.x, whose project folder is lower case, never has), and
// Layout4 otherwise (an empty metastore included). It lists at most two
// resources.
func DetectLayout(ctx context.Context, src metastore.Source) (Layout, error) {
	for _, c := range []struct {
		prefix string
		layout Layout
	}{{project5Prefix, Layout5}, {projectTyped, LayoutTyped}} {
		found := false
		err := src.List(ctx, c.prefix, func(string) error {
			found = true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return Layout4, fmt.Errorf("detect layout: %w", err)
		}
		if found {
			return c.layout, nil
		}
	}
	return Layout4, nil
}

// ErrUnsupportedLayout is wrapped by errors about a scope a layout does not
// support. Every layout supports every scope now; callers still map it to
// a refusal.
var ErrUnsupportedLayout = errors.New("scope not supported on this layout")

// layout4Types are the first path components of Kylin 2.x-4.x and KE 3.x
// resource keys. TypeOf uses them to tell a flat key with several components
// ("/dict/DB.T/COL/x.dict") from a Kylin 5 per-project key
// ("/P/model_desc/x.json").
var layout4Types = map[string]bool{
	"UUID": true, "acl": true, "bad_query": true, "cube": true, "cube_desc": true,
	"cube_statistics": true, "cube_stats_info": true, "dict": true, "draft": true,
	"execute": true, "execute_output": true, "ext_filter": true, "ext_table_snapshot": true,
	"history": true, "hybrid": true, "kafka": true, "model_desc": true, "model_stats": true,
	"project": true, "query": true, "raw_table_desc": true, "raw_table_instance": true,
	"scheduler": true, "streaming": true, "streaming_output": true, "streaming_v2": true,
	"table": true, "table_acl": true, "table_exd": true, "table_snapshot": true,
	"temp_statement": true, "user": true, "user_group": true,
}

// TypeOf returns the resource type of a key. For the flat layout it is the
// first component: "cube_desc" for "/cube_desc/x.json", "dict" for
// "/dict/DB.T/COL/x.dict", "UUID" for "/UUID". For Kylin 5 it is the
// component after "/_global" ("project" for "/_global/project/P.json") or
// after the project folder ("model_desc" for "/P/model_desc/x.json"). A key
// whose first component is a known flat type is read as flat, so a Kylin 5
// project named like a flat type (say "dict") is misread; no such name is
// used in practice. TypeOf returns "" for "" and "/".
func TypeOf(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case parts[0] == "":
		return ""
	case parts[0] == "_global" && len(parts) >= 2:
		return parts[1]
	case layout4Types[parts[0]]:
		return parts[0]
	case len(parts) >= 3:
		return parts[1]
	}
	return parts[0]
}

// Retarget moves a cube's resource key from project fromProject to project
// toProject, as a cube restore into another project does. On Layout4 it
// renames a project-qualified table resource: "/table/DB.T--from.json"
// becomes "/table/DB.T--to.json", and the same for "/table_exd/"; any other
// key, legacy table keys without "--project" included, is returned
// unchanged. On Layout5 it moves a key of the project folder:
// "/from/model_desc/x.json" becomes "/to/model_desc/x.json"; any other key
// ("/_global/...") is returned unchanged.
func Retarget(l Layout, key, fromProject, toProject string) string {
	if l == Layout5 {
		if rest, ok := strings.CutPrefix(key, "/"+fromProject+"/"); ok {
			return "/" + toProject + "/" + rest
		}
		return key
	}
	for _, prefix := range []string{"/table/", "/table_exd/"} {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		suffix := tableProjectSep + fromProject + jsonSuffix
		table, ok := strings.CutSuffix(rest, suffix)
		if !ok || table == "" {
			return key
		}
		return prefix + table + tableProjectSep + toProject + jsonSuffix
	}
	return key
}

// ProjectFile returns the key of project p's file in a layout:
// "/project/P.json" (Layout4), "/_global/project/P.json" (Layout5) or
// "/PROJECT/P.json" (LayoutTyped).
func ProjectFile(l Layout, project string) string {
	switch l {
	case Layout5:
		return project5Prefix + project + jsonSuffix
	case LayoutTyped:
		return projectTyped + project + jsonSuffix
	}
	return projectPrefix4 + project + jsonSuffix
}

// ModelKey returns the key of a Kylin 5 model descriptor (Layout5):
// "/P/model_desc/ID.json", ID being the model's uuid.
func ModelKey(project, id string) string {
	return "/" + project + "/model_desc/" + id + jsonSuffix
}

// ModelFile returns the key of a Kylin 5 model descriptor in layout l:
// ModelKey on Layout5, "/MODEL/ID.json" on LayoutTyped.
func ModelFile(l Layout, project, id string) string {
	if l == LayoutTyped {
		return modelTyped + id + jsonSuffix
	}
	return ModelKey(project, id)
}

// IsProjectFile reports whether key lies in the folder of project files of
// any layout ("/project/", "/_global/project/" or "/PROJECT/"). A restore
// writes them last, so that Kylin never sees a project naming a cube that
// is not there yet, and a cube restore merges into them rather than
// replace them.
func IsProjectFile(key string) bool {
	return strings.HasPrefix(key, projectPrefix4) || strings.HasPrefix(key, project5Prefix) || strings.HasPrefix(key, projectTyped)
}

// SharedByNature reports resources that other cubes or projects may use
// without the scope rules knowing (a model, a table or its table_exd that
// a project lists, a project; on the per-type layout also a computed
// column, which several models may share): a cube restore never deletes
// them.
func SharedByNature(key string) bool {
	switch TypeOf(key) {
	case "model_desc", "table", "table_exd", "project", "MODEL", "TABLE_INFO", "TABLE_EXD", "PROJECT", "COMPUTE_COLUMN":
		return true
	}
	return false
}

// Projects returns the names of the projects of src, sorted: the stems of
// the "/project/*.json" keys (Layout4) or of the "/_global/project/*.json"
// keys (Layout5). It lists one folder and reads nothing.
func Projects(ctx context.Context, src metastore.Source) ([]string, error) {
	layout, err := DetectLayout(ctx, src)
	if err != nil {
		return nil, err
	}
	prefix := projectPrefix4
	switch layout {
	case Layout5:
		prefix = project5Prefix
	case LayoutTyped:
		prefix = projectTyped
	}
	return listStems(ctx, src, prefix)
}

// Cubes returns the names of the cubes of src, sorted. On Layout4 they are
// the stems of the "/cube/*.json" keys (read nothing). Kylin 5 has no cubes:
// there a cube scope names a model, so Cubes returns the alias of every
// model ("/P/model_desc/*.json", field "alias"), qualified as
// "project.alias" when several projects use the alias, so that every name
// returned resolves to exactly one model. Model descriptors that cannot be
// read as JSON are skipped.
func Cubes(ctx context.Context, src metastore.Source) ([]string, error) {
	layout, err := DetectLayout(ctx, src)
	if err != nil {
		return nil, err
	}
	if layout == Layout4 {
		return listStems(ctx, src, cubePrefix4)
	}
	if layout == LayoutTyped {
		models, err := modelsTyped(ctx, src)
		if err != nil {
			return nil, err
		}
		return cubeNames5(models), nil
	}
	models, err := models5(ctx, src)
	if err != nil {
		return nil, err
	}
	return cubeNames5(models), nil
}

// HasCube reports whether src holds cube name: "/cube/NAME.json" on
// Layout4, one model that name names on Kylin 5 (an alias, "P.alias", a
// uuid or "P.uuid", as Resolve reads them).
func HasCube(ctx context.Context, src metastore.Source, name string) (bool, error) {
	ok, err := exists(ctx, src, cubePrefix4+name+jsonSuffix)
	if err != nil || ok {
		return ok, err
	}
	cubes, err := Cubes(ctx, src)
	if err != nil || slices.Contains(cubes, name) {
		return err == nil, err
	}
	models, err := modelsOf(ctx, src)
	if err != nil || len(models) == 0 {
		return false, err
	}
	r := newResolver(ctx, src)
	_, err = r.pickModel5(models, name)
	return err == nil, nil
}

// exists reports whether src holds key, asking a metastore.Exister, or
// reading it.
func exists(ctx context.Context, src metastore.Source, key string) (bool, error) {
	if metastore.CheckPath(key) != nil {
		return false, nil
	}
	if ex, ok := src.(metastore.Exister); ok {
		return ex.Exists(ctx, key)
	}
	_, err := src.Read(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// listStems returns the sorted names N of the keys prefix+N+".json" (direct
// children only).
func listStems(ctx context.Context, src metastore.Source, prefix string) ([]string, error) {
	var names []string
	err := src.List(ctx, prefix, func(p string) error {
		if name, ok := childStem(p, prefix); ok {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Strings(names)
	return names, nil
}

// childStem returns N if p is prefix+N+".json" with N a single non-empty
// path component.
func childStem(p, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok || strings.Contains(rest, "/") {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, jsonSuffix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// isComponent reports whether s can be used as one component of a resource
// key built by this package ("/cube/" + s + ".json").
func isComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}
