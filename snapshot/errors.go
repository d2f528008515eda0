package snapshot

import (
	"errors"

	"github.com/kylin-tools/metastore/objects"
)

// Errors of this package, wrapped with details; check them with errors.Is.
var (
	// ErrNoRepository means there is no repository at the given path.
	ErrNoRepository = errors.New("no snapshot repository")
	// ErrNotMetastoreRepository means the path is a git repository (or
	// something else) that this tool did not create.
	ErrNotMetastoreRepository = errors.New("not a metastore snapshot repository")
	// ErrNewerFormat means the repository was written by a newer version of
	// the tool, in a format this version cannot safely read or extend.
	ErrNewerFormat = errors.New("repository format is newer than this tool")
	// ErrCorrupt means repository data is missing or damaged. It is
	// objects.ErrCorrupt: what the object store finds damaged matches it
	// too.
	ErrCorrupt = objects.ErrCorrupt
	// ErrNotFound means no snapshot matches a reference.
	ErrNotFound = errors.New("snapshot not found")
	// ErrAmbiguous means a snapshot id prefix matches several snapshots.
	ErrAmbiguous = errors.New("ambiguous snapshot reference")
	// ErrInvalidRef means a reference is malformed.
	ErrInvalidRef = errors.New("invalid snapshot reference")
	// ErrScopeMismatch means a snapshot does not hold the scope a command
	// needs (restoring a cube snapshot as a project, say).
	ErrScopeMismatch = errors.New("snapshot does not cover the requested scope")
	// ErrForeign means the snapshot comes from a metastore with another
	// /UUID than the target's; pass AllowForeign to restore it anyway.
	ErrForeign = errors.New("snapshot comes from another metastore")
	// ErrEmptySource means a backup found no resource to record.
	ErrEmptySource = errors.New("nothing to back up")
	// ErrReservedPath means a resource key collides with the repository's
	// own records under /.metastore.
	ErrReservedPath = errors.New("resource path is reserved")
	// ErrTagExists means a tag name is already taken.
	ErrTagExists = errors.New("tag already exists")
	// ErrConflict means a restore would leave the target inconsistent (a
	// cube in two projects) or cannot tell what is safe to delete.
	ErrConflict = errors.New("restore conflicts with the target")
	// ErrNotResource means a path names no resource in a snapshot.
	ErrNotResource = errors.New("no such resource in snapshot")
	// ErrInsideRepository means a folder metastore (or a Kylin backup
	// folder) is the snapshot repository, contains it or lies inside it.
	ErrInsideRepository = errors.New("metastore folder overlaps the snapshot repository")
)
