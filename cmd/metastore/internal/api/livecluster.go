package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/jdbc"
)

// enterLive prepares a restore into target for a Kylin 5 cluster that may
// be running on it: on a database with Kylin 5.0 beta's epoch table it puts
// Kylin in maintenance mode (as Kylin's own metastore.sh restore does with
// MaintainModeTool), unless the restore is a dry run; release gives it
// back, and is to be called once the restore has committed or failed.
// Other targets get a nil LiveJSON and a release that does nothing.
func (e *Env) enterLive(ctx context.Context, target metastore.Store, req RestoreRequest) (*LiveJSON, func() error, error) {
	none := func() error { return nil }
	st, ok := target.(*jdbc.Store)
	if !ok {
		return nil, none, nil
	}
	live := &LiveJSON{Maintenance: "none"}
	live.AuditLog, _ = st.AuditLog()
	name, ok := st.EpochTable()
	if !ok {
		return live, none, nil
	}
	live.EpochTable = name
	if req.DryRun {
		eps, _, err := st.Epochs(ctx)
		if err != nil {
			return nil, none, err
		}
		live.Maintenance = "would take"
		live.HeldBy = heldBy(eps)
		for _, ep := range eps {
			if ep.Target == "_global" && ep.InMaintenance() {
				live.Maintenance = "in maintenance mode already (" + ep.Reason + ")"
			}
		}
		return live, none, nil
	}
	m, err := st.EnterMaintenance(ctx, jdbc.MaintenanceOptions{Reason: "metastore restore", Force: req.Force, Guardian: e.Guardian})
	if err != nil {
		return nil, none, err
	}
	live.HeldBy = heldBy(m.Before)
	live.StaleLease = m.StaleTakenOver
	switch {
	case m.Taken:
		live.Maintenance = "taken"
		e.notice("Kylin is in maintenance mode for the restore (epochs of %s taken, as MaintainModeTool -on does)\n", name)
	case m.Joined:
		live.Maintenance = "joined"
		e.notice("Kylin is in maintenance mode already: restoring inside it (--force); it stays on\n")
	}
	return live, func() error {
		if err := m.Release(ctx); err != nil {
			return fmt.Errorf("the restore could not take Kylin out of maintenance mode: %w", err)
		}
		if m.Taken {
			e.notice("Kylin's maintenance mode given back (epochs released, as MaintainModeTool -off does)\n")
		}
		return nil
	}, nil
}

// heldBy names the live epochs of eps: "owner (target)".
func heldBy(eps []jdbc.Epoch) []string {
	var out []string
	for _, ep := range eps {
		if ep.Live(time.Now(), jdbc.DefaultEpochExpiry) {
			owner, _, _ := strings.Cut(ep.Owner, "|")
			out = append(out, owner+" ("+ep.Target+")")
		}
	}
	sort.Strings(out)
	return out
}
