package api

import (
	"context"
	"time"

	"github.com/kylin-tools/metastore/snapshot"
)

// PruneRequest asks to remove what no kept snapshot reaches (metastore
// prune).
type PruneRequest struct {
	DryRun bool
}

// Command is the prune command of the request.
func (req PruneRequest) Command() string {
	if req.DryRun {
		return "metastore prune --dry-run"
	}
	return "metastore prune"
}

// Prune is a prune done (or, in a dry run, planned).
type Prune struct {
	Result  *snapshot.PruneResult
	Seconds float64
}

// PruneJSON is the document of prune --json: the result's own fields (the
// lists empty rather than null), then the seconds it took.
type PruneJSON struct {
	snapshot.PruneResult
	Seconds float64 `json:"seconds"`
}

// Prune prunes the configured repository. p receives progress; nil for
// none.
func (e *Env) Prune(ctx context.Context, req PruneRequest, p snapshot.Progress) (*Prune, error) {
	start := time.Now()
	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	res, err := repo.Prune(ctx, snapshot.PruneOptions{DryRun: req.DryRun, Progress: p})
	if err != nil {
		return nil, err
	}
	return &Prune{Result: res, Seconds: time.Since(start).Seconds()}, nil
}

// JSON is the prune's document.
func (p *Prune) JSON() PruneJSON {
	r := *p.Result
	r.UndoDropped, r.ForgottenRefs = NonNil(r.UndoDropped), NonNil(r.ForgottenRefs)
	return PruneJSON{PruneResult: r, Seconds: p.Seconds}
}
