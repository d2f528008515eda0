package snapshot

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"time"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// Info describes a snapshot, as log and show print it.
type Info struct {
	// ID names the snapshot (its commit).
	ID ID
	// Parent is the previous snapshot of the same scope and kind, if any.
	Parent ID
	// Time is when the snapshot was taken; for an imported Kylin backup
	// folder, when it was recorded (see FolderTime).
	Time time.Time
	// Recorded is when the snapshot was written into the repository. Log
	// and "latest" order snapshots by it (see Log).
	Recorded time.Time
	// FolderTime is, for an imported Kylin backup folder named
	// meta_YYYY_MM_DD_HH_MM_SS, the time in its name as written
	// ("2006-01-02T15:04:05"): the wall clock of the Kylin host, whose time
	// zone is unknown. It is shown, never compared with recorded times.
	FolderTime string
	// Scope is what the snapshot holds.
	Scope scope.Scope
	// Kind says why it was taken.
	Kind Kind
	// Author is who took it, as user@host.
	Author string
	// Message is the title the user gave, or a default.
	Message string
	// Resources and Bytes count the resources and their total size.
	Resources int
	Bytes     int64
	// Source is where the metadata came from, password masked.
	Source string
	// UUID is the metastore's /UUID at the time.
	UUID string
	// WithSegments is true for cube snapshots that include the segments'
	// dictionaries, snapshots and statistics.
	WithSegments bool
	// RestoreOf is, for a safety snapshot, the snapshot whose restore it
	// protects against.
	RestoreOf string
	// ImportPath is, for an imported Kylin backup folder, its path.
	ImportPath string
	// RestoreAdded is, for the safety snapshot of a cube restore, the
	// resources that restore added (restoring the safety snapshot with
	// AfterTruncate removes them).
	RestoreAdded []string
	// Tags are the names that point at this snapshot.
	Tags []string
	// Instance is, in listings of several instances (LogFilter.Instance),
	// the instance the snapshot belongs to; Remote is, for a snapshot
	// pulled from a remote, that remote's name.
	Instance string
	Remote   string

	tree objects.ID
}

// info reads the description of snapshot id. tags maps commit ids to tag
// names; nil reads them from the repository.
func (r *Repository) info(id objects.ID, tags map[objects.ID][]string) (Info, error) {
	c, err := r.objs.ReadCommit(id)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return Info{}, fmt.Errorf("%w: snapshot %s: commit missing", ErrCorrupt, id)
		}
		return Info{}, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, id, err)
	}
	title, tr := splitMessage(c.Message)
	t, err := decodeTrailers(tr)
	if err != nil {
		return Info{}, fmt.Errorf("commit %s: %w", ID(id).Short(), err)
	}
	info := Info{
		ID: ID(id), Time: c.Author.When, Recorded: c.Committer.When,
		Scope: t.Scope, Kind: t.Kind, Author: c.Author.Email, Message: title,
		Resources: t.Resources, Bytes: t.Bytes, Source: t.Source, UUID: t.UUID,
		WithSegments: t.Segments, RestoreOf: t.RestoreOf, ImportPath: t.ImportPath, RestoreAdded: t.Added,
		tree: c.Tree,
	}
	if !t.TakenAt.IsZero() {
		info.Time = t.TakenAt.In(c.Author.When.Location())
	}
	switch {
	case !t.RecordedAt.IsZero():
		info.Recorded = t.RecordedAt.In(c.Committer.When.Location())
	case t.Kind != KindImport && !t.TakenAt.IsZero():
		// Written before Metastore-Recorded-At: a backup or safety
		// snapshot was recorded the instant it was taken.
		info.Recorded = info.Time
	}
	if t.Kind == KindImport {
		// An import's time is when it was recorded; older imports carry
		// the folder name read in the importing host's zone as their
		// Taken-At, which is no instant (FolderTime keeps the name's).
		info.Time = info.Recorded
		info.FolderTime, _ = backupFolderTime(path.Base(filepath.ToSlash(t.ImportPath)))
	}
	if len(c.Parents) > 0 {
		info.Parent = ID(c.Parents[0])
	}
	if tags == nil {
		tags, err = r.tagMap()
		if err != nil {
			return Info{}, err
		}
	}
	info.Tags = tags[id]
	return info, nil
}
