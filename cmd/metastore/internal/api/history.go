package api

import (
	"context"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/snapshot"
)

// HistoryRequest asks for the history of one resource (Path) or of every
// resource of a project (Project).
type HistoryRequest struct {
	Path    string
	Project string
	Patch   bool     // the field-level diff against the previous version
	Ignore  []string // IgnoreList
}

// History is a history found.
type History struct {
	Path    string // with its leading slash
	Project string
	Ignore  []string
	Entries []snapshot.HistoryEntry
}

// History lists the snapshots in which the resource (or the project's
// resources) changed, newest first.
func (e *Env) History(ctx context.Context, req HistoryRequest) (*History, error) {
	if (req.Project == "") == (req.Path == "") {
		return nil, Usagef("usage: metastore history PATH, or metastore history --project P")
	}
	opt := snapshot.HistoryOptions{Details: req.Patch, Ignore: req.Ignore}
	h := &History{Project: req.Project, Ignore: opt.Ignore}
	if req.Project == "" {
		h.Path = req.Path
		if h.Path[0] != '/' {
			h.Path = "/" + h.Path
		}
		if err := metastore.CheckPath(h.Path); err != nil {
			return nil, Usagef("%v", err)
		}
	}
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	if req.Project != "" {
		h.Entries, err = repo.ProjectHistory(ctx, req.Project, opt)
	} else {
		h.Entries, err = repo.History(ctx, h.Path, opt)
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// JSON is the history's document.
func (h *History) JSON() HistoryJSON {
	j := HistoryJSON{Path: h.Path, Project: h.Project, Ignore: h.Ignore, Entries: []HistoryEntryJSON{}}
	for _, en := range h.Entries {
		mods := en.Modifiers
		if mods == nil {
			mods = []snapshot.Modifier{}
		}
		j.Entries = append(j.Entries, HistoryEntryJSON{Snapshot: Snapshot(en.Snapshot), Change: en.Change, Modifiers: mods})
	}
	return j
}
