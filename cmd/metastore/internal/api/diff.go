package api

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// DiffRequest asks what changed from A to B.
type DiffRequest struct {
	// A and B are snapshot references (or, with Env.Folders, Kylin backup
	// folders); B "" compares A with the live metastore.
	A, B string
	// Project or Cube limit the diff to a scope.
	Project, Cube string
	// Types keeps these resource types; Prefix the resources below it.
	Types  []string
	Prefix string
	// Stat and NameOnly skip the details (the field-level diff).
	Stat, NameOnly bool
	// Ignore lists the JSON fields the field-level diff ignores
	// (IgnoreList builds it).
	Ignore []string
}

// IgnoreList is the ignore set of --ignore and --no-default-ignore:
// scope.SaveFields unless noDefault, then each comma-separated field
// of extra.
func IgnoreList(noDefault bool, extra []string) []string {
	var out []string
	if !noDefault {
		out = append(out, scope.SaveFields()...)
	}
	for _, f := range extra {
		for _, x := range strings.Split(f, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

// Diff is a diff done.
type Diff struct {
	Result   *snapshot.DiffResult
	Old, New DiffSideJSON
	Options  snapshot.DiffOptions
	Stat     bool
	NameOnly bool
}

// Diff compares A with B, or with the live metastore.
func (e *Env) Diff(ctx context.Context, req DiffRequest) (*Diff, error) {
	opt := snapshot.DiffOptions{Prefix: req.Prefix, Ignore: req.Ignore}
	want := scope.SystemScope()
	switch {
	case req.Project != "" && req.Cube != "":
		return nil, Usagef("give --project or --cube, not both")
	case req.Project != "":
		s, err := NamedScope(scope.ProjectScope, req.Project)
		if err != nil {
			return nil, err
		}
		want, opt.Scope, opt.HasScope = s, s, true
	case req.Cube != "":
		s, err := NamedScope(scope.CubeScope, req.Cube)
		if err != nil {
			return nil, err
		}
		want, opt.Scope, opt.HasScope = s, s, true
	}
	for _, t := range req.Types {
		opt.Types = append(opt.Types, strings.Split(t, ",")...)
	}
	if opt.Prefix != "" {
		if err := metastore.CheckPrefix("/" + strings.TrimPrefix(opt.Prefix, "/")); err != nil {
			return nil, Usagef("--prefix: %v", err)
		}
	}
	opt.Details = !req.Stat && !req.NameOnly

	repo, err := e.openRepo()
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	old, oldJ, err := e.diffSide(ctx, repo, req.A, want)
	if err != nil {
		return nil, err
	}
	var new metastore.Source
	var newJ DiffSideJSON
	if req.B != "" {
		if new, newJ, err = e.diffSide(ctx, repo, req.B, want); err != nil {
			return nil, err
		}
	} else {
		st, desc, err := e.OpenMetastore(ctx, false, "")
		if err != nil {
			return nil, err
		}
		defer closeStore(st)
		new, newJ = st, DiffSideJSON{Ref: "live", Kind: "live", Source: desc}
		opt.Source = desc
	}
	if !opt.HasScope {
		// A project or cube snapshot is compared on its own scope, not as
		// if it had lost the rest of the metastore.
		if err := defaultScope(&opt, oldJ, newJ); err != nil {
			return nil, err
		}
	}
	res, err := repo.Diff(ctx, old, new, opt)
	if err != nil {
		return nil, err
	}
	return &Diff{Result: res, Old: oldJ, New: newJ, Options: opt, Stat: req.Stat, NameOnly: req.NameOnly}, nil
}

// diffSide opens one side of a diff: a Kylin backup folder or a snapshot.
func (e *Env) diffSide(ctx context.Context, repo *snapshot.Repository, ref string, want scope.Scope) (metastore.Source, DiffSideJSON, error) {
	if e.isBackupFolder(ref) {
		st, err := folder.Open(ref)
		if err != nil {
			return nil, DiffSideJSON{}, fmt.Errorf("Kylin backup folder %s: %w", ref, err)
		}
		abs, _ := filepath.Abs(ref)
		return st, DiffSideJSON{Ref: ref, Kind: "folder", Source: abs}, nil
	}
	in, err := repo.Resolve(ctx, ref, want)
	if err != nil {
		return nil, DiffSideJSON{}, err
	}
	sj := Snapshot(in)
	return repo.OpenInfo(in), DiffSideJSON{Ref: ref, Kind: "snapshot", Snapshot: &sj}, nil
}

// defaultScope limits a diff without --project or --cube to the scope of
// the project or cube snapshot on either side.
func defaultScope(opt *snapshot.DiffOptions, sides ...DiffSideJSON) error {
	var found *SnapshotJSON
	for _, sd := range sides {
		j := sd.Snapshot
		if j == nil || j.Scope == "system" {
			continue
		}
		if found != nil && found.Scope != j.Scope {
			return Usagef("snapshot %s holds %s and snapshot %s holds %s: choose what to compare with --project or --cube", found.Short, found.Scope, j.Short, j.Scope)
		}
		found = j
	}
	if found == nil {
		return nil
	}
	s, err := scope.Parse(found.Scope)
	if err != nil {
		return err
	}
	opt.Scope, opt.HasScope = s, true
	opt.NoSegments = s.Kind == scope.Cube && !found.WithSegments
	return nil
}

// Warnings returns the diff's warnings, one line each.
func (d *Diff) Warnings() []string {
	var warns []string
	for _, w := range d.Result.Warnings {
		warns = append(warns, w.String())
	}
	return warns
}

// JSON is the diff's document.
func (d *Diff) JSON() DiffJSON {
	opt := d.Options
	j := DiffJSON{Old: d.Old, New: d.New, Ignore: NonNil(opt.Ignore), Counts: Counts(d.Result.Changes),
		Stat: snapshot.Stat(d.Result.Changes), Changes: d.Result.Changes, Warnings: NonNil(d.Warnings())}
	if opt.HasScope {
		j.Filter.Scope = opt.Scope.String()
	}
	j.Filter.Types, j.Filter.Prefix = opt.Types, opt.Prefix
	if j.Changes == nil {
		j.Changes = []snapshot.Change{}
	}
	return j
}

// String names a side of a diff for people.
func (s DiffSideJSON) String() string {
	switch s.Kind {
	case "live":
		return "live metastore " + locate.Mask(s.Source)
	case "folder":
		return "Kylin backup folder " + s.Source
	}
	j := s.Snapshot
	return fmt.Sprintf("snapshot %s (%s, %s, %s)", j.Short, j.Time.Local().Format("2006-01-02 15:04:05"), j.Scope, j.Author)
}
