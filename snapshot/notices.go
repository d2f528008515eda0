package snapshot

import (
	"context"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/scope"
)

// storeNotices returns what a metastore noticed as it was listed, read or
// written (metastore.Noticer) as warnings: a folder's temporary files of
// interrupted writes, skipped or removed; timestamps its file system could
// not store.
func storeNotices(m any) []scope.Warning {
	n, ok := m.(metastore.Noticer)
	if !ok {
		return nil
	}
	var out []scope.Warning
	for _, x := range n.Notices() {
		out = append(out, scope.Warning{Path: x.Path, Message: x.Message})
	}
	return out
}

// targetNotices ends a restore: it removes the debris of interrupted writes
// from the target (metastore.Tidier; not in a dry run), and returns what
// the target noticed, as warnings.
func targetNotices(ctx context.Context, target metastore.Store, dryRun bool) []string {
	var out []string
	if t, ok := target.(metastore.Tidier); ok && !dryRun {
		if err := t.Tidy(ctx); err != nil {
			out = append(out, "could not remove the temporary files of interrupted writes: "+err.Error())
		}
	}
	return append(out, warnings(storeNotices(target))...)
}
