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

// PruneJSON is the document of prune --json.
type PruneJSON struct {
	DryRun         bool     `json:"dry_run"`
	UndoDropped    []string `json:"undo_dropped"`
	ForgottenRefs  []string `json:"forgotten_refs"`
	RefsKept       int      `json:"refs_kept"`
	ObjectsBefore  int      `json:"objects_before"`
	ObjectsAfter   int      `json:"objects_after"`
	ObjectsRemoved int      `json:"objects_removed"`
	Deltas         int      `json:"deltas"`
	PacksBefore    int      `json:"packs_before"`
	PacksAfter     int      `json:"packs_after"`
	BytesBefore    int64    `json:"bytes_before"`
	BytesAfter     int64    `json:"bytes_after"`
	Seconds        float64  `json:"seconds"`
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
	r := p.Result
	return PruneJSON{
		DryRun: r.DryRun, UndoDropped: NonNil(r.UndoDropped), ForgottenRefs: NonNil(r.ForgottenRefs), RefsKept: r.Kept,
		ObjectsBefore: r.ObjectsBefore, ObjectsAfter: r.ObjectsAfter, ObjectsRemoved: r.ObjectsRemoved, Deltas: r.Deltas,
		PacksBefore: r.PacksBefore, PacksAfter: r.PacksAfter, BytesBefore: r.BytesBefore, BytesAfter: r.BytesAfter,
		Seconds: p.Seconds,
	}
}
