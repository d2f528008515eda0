package snapshot

import (
	"context"
	"fmt"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

// BackupOptions say what a backup records.
type BackupOptions struct {
	// Scope is what to record: the whole metastore, one project or one cube.
	Scope scope.Scope
	// WithSegments adds, for a cube scope, the dictionaries, table snapshots
	// and statistics its segments reference.
	WithSegments bool
	// Message is the snapshot's title; a default names the scope.
	Message string
	// Tags are names to give the new snapshot.
	Tags []string
	// SkipIfUnchanged records nothing when the scope's content (bytes and
	// timestamps) equals the latest snapshot of the same scope.
	SkipIfUnchanged bool
	// Source describes the metastore for the record (a folder path, a JDBC
	// URL with the password masked); metastore.Describe(src) if empty.
	Source string
	// Progress receives progress; nil for none.
	Progress Progress
}

// BackupResult is what a backup did.
type BackupResult struct {
	// Snapshot is the recorded snapshot (or, when Recorded is false, the
	// latest snapshot of the scope, which already holds this content).
	Snapshot Info
	// Recorded is false when SkipIfUnchanged found nothing new.
	Recorded bool
	// Resources is the number of resources in the snapshot, Bytes their
	// total size.
	Resources int
	Bytes     int64
	// NewObjects and NewBytes count the objects the repository did not have
	// yet, and their uncompressed size; PackBytes is what they took on disk.
	NewObjects int
	NewBytes   int64
	PackBytes  int64
	// Unread counts resources whose content the change cache vouched for, so
	// they were not read or hashed again.
	Unread int
	// Warnings are scope decisions that met unreadable resources or missing
	// references.
	Warnings []scope.Warning
	// Repository is the repository's path.
	Repository string
}

// Backup records the resources of src that opt.Scope holds as a new snapshot.
// Nothing is visible in the repository until the snapshot is complete: the
// objects are written first, the reference last, under the repository lock.
// A folder metastore that is, contains or lies inside the repository is
// refused with ErrInsideRepository (see CheckSeparate).
func (r *Repository) Backup(ctx context.Context, src metastore.Source, opt BackupOptions) (*BackupResult, error) {
	for _, t := range opt.Tags {
		if err := checkTagName(t); err != nil {
			return nil, err
		}
	}
	req := recordRequest{
		kind: KindBackup, scope: opt.Scope, all: opt.Scope.Kind == scope.System, segments: opt.WithSegments,
		title: opt.Message, tags: opt.Tags, skip: opt.SkipIfUnchanged, source: opt.Source, progress: opt.Progress,
	}
	src, done, err := r.openSource(ctx, src, &req)
	if err != nil {
		return nil, err
	}
	defer done()
	// Which resources: all of them, or what the scope rules say.
	var warnings []scope.Warning
	if !req.all {
		sr, err := scope.Resolve(ctx, src, opt.Scope, scope.Options{WithSegments: opt.WithSegments})
		if err != nil {
			return nil, err
		}
		req.members, warnings = sr.Paths, sr.Warnings
	}
	res, err := r.recordSource(ctx, src, req)
	if res != nil {
		res.Warnings = append(warnings, res.Warnings...)
	}
	return res, err
}

// openSource checks that a folder source and the repository are separate
// (CheckSeparate), completes req's description of it, and returns one
// consistent view of it for the whole recording, when it can give one (a
// database transaction); done releases it.
func (r *Repository) openSource(ctx context.Context, src metastore.Source, req *recordRequest) (metastore.Source, func(), error) {
	if err := r.checkSeparate(src); err != nil {
		return nil, nil, err
	}
	if req.source == "" {
		req.source = metastore.Describe(src)
	}
	v, ok := src.(metastore.Viewer)
	if !ok {
		return src, func() {}, nil
	}
	view, err := v.View(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open a consistent view of %s: %w", req.source, err)
	}
	return view, func() { view.Close() }, nil
}
