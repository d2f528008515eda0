package snapshot

import (
	"fmt"

	"github.com/kylin-tools/metastore/scope"
)

// recordSafety records the target's state in the restored scope, which the
// plan read into the restore's pack, as the safety snapshot that undoes the
// restore: restored at the same scope (a cube into the same project) with
// AfterTruncate, it puts the target back as it was. The safety snapshot of a
// cube restore names the resources the restore adds
// (Metastore-Restore-Added), which its own restore removes.
func (x *restore) recordSafety() (Info, error) {
	req := recordRequest{
		kind: KindSafety, scope: x.opt.Scope, source: x.opt.Target, restoreOf: x.snap.Info.ID, uuid: x.uuid,
		title: fmt.Sprintf("before restoring %s of snapshot %s", x.opt.Scope, x.snap.Info.ID.Short()),
	}
	if x.opt.Scope.Kind == scope.Cube {
		for _, it := range x.res.Plan {
			if it.Action == Added {
				req.added = append(req.added, it.Path)
			}
		}
	}
	rec, err := x.r.record(x.pw, listOf(x.items), req, nil, false)
	if err != nil {
		return Info{}, err
	}
	if _, err := x.r.publish(x.pw, rec, nil); err != nil {
		return Info{}, fmt.Errorf("record safety snapshot: %w", err)
	}
	x.caches.stage(listOf(x.items))
	x.caches.save(rec.commit)
	return x.r.info(rec.commit, nil)
}
