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
// snapshot of kind KindImport on its own branch. Its time is when it is
// recorded: the time in the folder's name (meta_YYYY_MM_DD_HH_MM_SS) is the
// Kylin host's wall clock in a zone nobody recorded, so it is kept as
// Info.FolderTime and never decides which snapshot is the newest. Importing
// the same folder again with the same content returns the existing
// snapshot. A folder that overlaps the repository is refused with
// ErrInsideRepository (see CheckSeparate).
func (r *Repository) Import(ctx context.Context, src metastore.Source, opt ImportOptions) (*BackupResult, error) {
	abs, err := filepath.Abs(opt.Path)
	if err != nil {
		return nil, err
	}
	msg := opt.Message
	if msg == "" {
		msg = "import of Kylin backup folder " + filepath.Base(abs)
	}
	req := recordRequest{
		kind: KindImport, scope: scope.SystemScope(), all: true,
		title: msg, source: abs, importPath: abs, progress: opt.Progress,
	}
	src, done, err := r.openSource(ctx, src, &req)
	if err != nil {
		return nil, err
	}
	defer done()
	return r.recordSource(ctx, src, req)
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
