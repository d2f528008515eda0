package scope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/kylin-tools/metastore/metastore"
)

// CubeEntry is one cube of a metastore (a model on Kylin 5), as a listing
// shows it.
type CubeEntry struct {
	// Name is the name a cube scope takes (what Cubes returns).
	Name string
	// Project is the project that holds it: on Layout4 the project whose
	// "realizations" list the cube (the first by name when several do, as
	// Resolve decides), "" when none does; on Layout5 the model's project.
	Project string
	// Key is the resource that defines it: "/cube/C.json" (Layout4) or the
	// model "/P/model_desc/ID.json" (Layout5).
	Key string
	// StatusKey is the resource whose "status" field is the cube's status:
	// "/cube/C.json" (Layout4) or the model's "/P/dataflow/ID.json"
	// (Layout5).
	StatusKey string
}

// CubeList returns the cubes of src with their projects, sorted by name. It
// reads the project files (Layout4) or the model descriptors (Layout5), never
// the cubes themselves: CubeStatus reads one cube's status.
func CubeList(ctx context.Context, src metastore.Source) ([]CubeEntry, error) {
	layout, err := DetectLayout(ctx, src)
	if err != nil {
		return nil, err
	}
	if layout == Layout5 {
		return cubeList5(ctx, src)
	}
	names, err := listStems(ctx, src, cubePrefix4)
	if err != nil {
		return nil, err
	}
	projects, err := listStems(ctx, src, projectPrefix4)
	if err != nil {
		return nil, err
	}
	owner := map[string]string{}
	for _, p := range projects { // in name order: the first project wins
		res, err := src.Read(ctx, projectPrefix4+p+jsonSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", projectPrefix4+p+jsonSuffix, err)
		}
		var pd projectDesc
		if decode(res.Data, &pd) != nil {
			continue // an unreadable project lists nothing we can tell
		}
		for _, e := range pd.Realizations {
			if _, taken := owner[e.name()]; e.isCube() && !taken {
				owner[e.name()] = p
			}
		}
	}
	out := make([]CubeEntry, 0, len(names))
	for _, n := range names {
		out = append(out, CubeEntry{Name: n, Project: owner[n], Key: cubePrefix4 + n + jsonSuffix, StatusKey: cubePrefix4 + n + jsonSuffix})
	}
	return out, nil
}

func cubeList5(ctx context.Context, src metastore.Source) ([]CubeEntry, error) {
	models, err := models5(ctx, src)
	if err != nil {
		return nil, err
	}
	projects := map[string]map[string]bool{}
	for _, m := range models {
		if m.err == nil && m.desc.Alias != "" {
			if projects[m.desc.Alias] == nil {
				projects[m.desc.Alias] = map[string]bool{}
			}
			projects[m.desc.Alias][m.project] = true
		}
	}
	var out []CubeEntry
	seen := map[string]bool{}
	for _, m := range models {
		if m.err != nil || m.desc.Alias == "" {
			continue
		}
		name := m.desc.Alias
		if len(projects[name]) > 1 {
			name = m.qualified()
		}
		if seen[name] {
			continue // two models of one project share the alias: Cubes names it once
		}
		seen[name] = true
		out = append(out, CubeEntry{Name: name, Project: m.project, Key: m.path, StatusKey: "/" + m.project + "/dataflow/" + m.id + jsonSuffix})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CubeStatus returns the status Kylin shows for a cube: the "status" of its
// StatusKey resource (READY, DISABLED, ... on Kylin 2.x-4.x; ONLINE,
// OFFLINE, BROKEN for a Kylin 5 model's dataflow). It is "" when the
// resource is missing, cannot be parsed or has no status.
func CubeStatus(ctx context.Context, src metastore.Source, c CubeEntry) (string, error) {
	res, err := src.Read(ctx, c.StatusKey)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", c.StatusKey, err)
	}
	var v struct {
		Status string `json:"status"`
	}
	if decode(res.Data, &v) != nil {
		return "", nil
	}
	return v.Status, nil
}
