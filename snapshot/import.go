package snapshot

import (
	"context"
	"path/filepath"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// ImportOptions describe a Kylin backup folder being recorded.
type ImportOptions struct {
	// Path is the folder's path (meta_YYYY_MM_DD_HH_MM_SS, as Kylin's
	// metastore.sh backup names it).
	Path string
	// Message is the snapshot's title; a default names the folder.
	Message string
	// Progress receives progress; nil for none.
	Progress Progress
}

// Import records a Kylin backup folder, read through src, as a system
// snapshot of kind KindImport on its own branch. The snapshot's time is the
// one in the folder's name (or, if the name has none, its newest resource
// timestamp). Importing the same folder again with the same content returns
// the existing snapshot. A folder that overlaps the repository is refused
// with ErrInsideRepository (see CheckSeparate).
func (r *Repository) Import(ctx context.Context, src metastore.Source, opt ImportOptions) (*BackupResult, error) {
	abs, err := filepath.Abs(opt.Path)
	if err != nil {
		return nil, err
	}
	var taken int64
	if t, ok := parseBackupFolderTime(filepath.Base(abs)); ok {
		taken = t.UnixMilli()
	} else {
		err := metastore.ListEntries(ctx, src, "/", func(e metastore.Entry) error {
			if e.Timestamp > taken {
				taken = e.Timestamp
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	msg := opt.Message
	if msg == "" {
		msg = "import of Kylin backup folder " + filepath.Base(abs)
	}
	return r.Backup(ctx, src, BackupOptions{
		Scope: scope.SystemScope(), Message: msg, Source: abs, Progress: opt.Progress,
		kind: KindImport, importPath: abs, takenAt: taken,
	})
}

// findImport returns an imported snapshot of path whose tree is tree.
func (r *Repository) findImport(tree objects.ID, path string) (Info, bool) {
	id, err := r.objs.Ref(chainRef(scope.SystemScope(), KindImport))
	for err == nil && !id.IsZero() {
		var in Info
		in, err = r.info(id, nil)
		if err != nil {
			break
		}
		if in.ImportPath == path && in.tree == tree {
			return in, true
		}
		id = in.Parent.object()
	}
	return Info{}, false
}
