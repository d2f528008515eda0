package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
	"github.com/kylin-tools/metastore/snapshot/jsondiff"
	"github.com/urfave/cli/v2"
)

// exitStatus ends the program with a code and no message (diff
// --exit-code finding differences).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ignoreFlags are the flags that choose the JSON fields a field-level diff
// ignores.
func ignoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "ignore", Usage: "also ignore these JSON fields, at any depth (comma-separated or repeated)"},
		&cli.BoolFlag{Name: "no-default-ignore", Usage: "do not ignore " + strings.Join(jsondiff.DefaultIgnore(), ", ") + " (the fields Kylin rewrites on every save)"},
	}
}

// ignoreList is the ignore set the flags ask for.
func ignoreList(c *cli.Context) []string {
	var out []string
	if !c.Bool("no-default-ignore") {
		out = append(out, jsondiff.DefaultIgnore()...)
	}
	for _, f := range c.StringSlice("ignore") {
		for _, x := range strings.Split(f, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func diffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "compare two snapshots (diff A B), or a snapshot with the live metastore (diff A)",
		Description: "Lists the resources added, modified, touched (same bytes, new timestamp) or deleted from A to B,\n" +
			"sorted by path, with a field-level diff of JSON resources and the headers of dictionaries and\n" +
			"table snapshots. A and B are snapshot references (id or prefix, tag, branch, latest) or Kylin backup\n" +
			"folders. The exit code is 0 whether or not there are differences, unless --exit-code is given.",
		ArgsUsage: "A [B]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "project", Usage: "only the resources of this project's scope"},
			&cli.StringFlag{Name: "cube", Usage: "only the resources of this cube's scope, with its segments' dictionaries, snapshots and statistics"},
			&cli.StringSliceFlag{Name: "type", Usage: "only these resource types: cube, cube_desc, model_desc, dict, ... (comma-separated or repeated)"},
			&cli.StringFlag{Name: "prefix", Usage: "only the resources under this path (/cube means /cube/*)"},
			&cli.BoolFlag{Name: "stat", Usage: "counts per resource type instead of the list"},
			&cli.BoolFlag{Name: "name-only", Usage: "only the paths of the resources that differ"},
			&cli.BoolFlag{Name: "exit-code", Usage: "exit with 1 if there are differences, 0 if there are none"},
		}, ignoreFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usagef("usage: metastore diff A [B]: give one snapshot to compare with the live metastore, or two")
			}
			opt := snapshot.DiffOptions{Prefix: c.String("prefix"), Ignore: ignoreList(c)}
			want := scope.SystemScope()
			switch p, cube := c.String("project"), c.String("cube"); {
			case p != "" && cube != "":
				return usagef("give --project or --cube, not both")
			case p != "":
				s, err := namedScope(scope.ProjectScope, p)
				if err != nil {
					return err
				}
				want, opt.Scope, opt.HasScope = s, s, true
			case cube != "":
				s, err := namedScope(scope.CubeScope, cube)
				if err != nil {
					return err
				}
				want, opt.Scope, opt.HasScope = s, s, true
			}
			for _, t := range c.StringSlice("type") {
				opt.Types = append(opt.Types, strings.Split(t, ",")...)
			}
			if opt.Prefix != "" {
				if err := metastore.CheckPrefix("/" + strings.TrimPrefix(opt.Prefix, "/")); err != nil {
					return usagef("--prefix: %v", err)
				}
			}
			stat, nameOnly := c.Bool("stat"), c.Bool("name-only")
			opt.Details = !stat && !nameOnly

			repo, err := e.openRepo("")
			if err != nil {
				return err
			}
			defer repo.Close()
			ctx := c.Context
			old, oldJ, err := e.diffSide(ctx, repo, c.Args().Get(0), want)
			if err != nil {
				return err
			}
			var new metastore.Source
			var newJ diffSideJSON
			if c.NArg() == 2 {
				if new, newJ, err = e.diffSide(ctx, repo, c.Args().Get(1), want); err != nil {
					return err
				}
			} else {
				st, desc, err := e.openMetastore(ctx, false)
				if err != nil {
					return err
				}
				defer closeStore(st)
				new, newJ = st, diffSideJSON{Ref: "live", Kind: "live", Source: desc}
				opt.Source = desc
			}
			if !opt.HasScope {
				// A project or cube snapshot is compared on its own scope,
				// not as if it had lost the rest of the metastore.
				if err := defaultScope(&opt, oldJ, newJ); err != nil {
					return err
				}
			}
			res, err := repo.Diff(ctx, old, new, opt)
			if err != nil {
				return err
			}
			if err := e.printDiff(res, oldJ, newJ, opt, stat, nameOnly); err != nil {
				return err
			}
			if c.Bool("exit-code") && len(res.Changes) > 0 {
				return exitStatus(1)
			}
			return nil
		},
	}
}

// diffSide opens one side of a diff: a Kylin backup folder or a snapshot.
func (e *env) diffSide(ctx context.Context, repo *snapshot.Repository, ref string, want scope.Scope) (metastore.Source, diffSideJSON, error) {
	if isBackupFolder(ref) {
		st, err := folder.Open(ref)
		if err != nil {
			return nil, diffSideJSON{}, fmt.Errorf("Kylin backup folder %s: %w", ref, err)
		}
		abs, _ := filepath.Abs(ref)
		return st, diffSideJSON{Ref: ref, Kind: "folder", Source: abs}, nil
	}
	in, err := repo.Resolve(ctx, ref, want)
	if err != nil {
		return nil, diffSideJSON{}, err
	}
	sj := toSnapshotJSON(in)
	return repo.OpenInfo(in), diffSideJSON{Ref: ref, Kind: "snapshot", Snapshot: &sj}, nil
}

// defaultScope limits a diff without --project or --cube to the scope of
// the project or cube snapshot on either side.
func defaultScope(opt *snapshot.DiffOptions, sides ...diffSideJSON) error {
	var found *snapshotJSON
	for _, sd := range sides {
		j := sd.Snapshot
		if j == nil || j.Scope == "system" {
			continue
		}
		if found != nil && found.Scope != j.Scope {
			return usagef("snapshot %s holds %s and snapshot %s holds %s: choose what to compare with --project or --cube", found.Short, found.Scope, j.Short, j.Scope)
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

// diffSideJSON describes one side of a diff in --json.
type diffSideJSON struct {
	Ref      string        `json:"ref"`
	Kind     string        `json:"kind"`
	Snapshot *snapshotJSON `json:"snapshot,omitempty"`
	Source   string        `json:"source,omitempty"`
}

func (s diffSideJSON) String() string {
	switch s.Kind {
	case "live":
		return "live metastore " + locate.Mask(s.Source)
	case "folder":
		return "Kylin backup folder " + s.Source
	}
	j := s.Snapshot
	return fmt.Sprintf("snapshot %s (%s, %s, %s)", j.Short, j.Time.Local().Format("2006-01-02 15:04:05"), j.Scope, j.Author)
}

// diffJSON is the --json form of a diff; README "Diff JSON schema".
type diffJSON struct {
	Old      diffSideJSON        `json:"old"`
	New      diffSideJSON        `json:"new"`
	Filter   diffFilterJSON      `json:"filter"`
	Ignore   []string            `json:"ignore"`
	Counts   map[string]int      `json:"counts"`
	Stat     []snapshot.TypeStat `json:"stat"`
	Changes  []snapshot.Change   `json:"changes"`
	Warnings []string            `json:"warnings"`
}

type diffFilterJSON struct {
	Scope  string   `json:"scope,omitempty"`
	Types  []string `json:"types,omitempty"`
	Prefix string   `json:"prefix,omitempty"`
}

func counts(changes []snapshot.Change) map[string]int {
	m := map[string]int{}
	for _, a := range []snapshot.DiffAction{snapshot.DiffAdded, snapshot.DiffModified, snapshot.DiffTouched, snapshot.DiffDeleted} {
		m[string(a)] = 0
	}
	for _, c := range changes {
		m[string(c.Action)]++
	}
	return m
}

func (e *env) printDiff(res *snapshot.DiffResult, old, new diffSideJSON, opt snapshot.DiffOptions, stat, nameOnly bool) error {
	var warns []string
	for _, w := range res.Warnings {
		warns = append(warns, w.String())
	}
	if e.json {
		j := diffJSON{Old: old, New: new, Ignore: nonNil(opt.Ignore), Counts: counts(res.Changes),
			Stat: snapshot.Stat(res.Changes), Changes: res.Changes, Warnings: nonNil(warns)}
		if opt.HasScope {
			j.Filter.Scope = opt.Scope.String()
		}
		j.Filter.Types, j.Filter.Prefix = opt.Types, opt.Prefix
		if j.Changes == nil {
			j.Changes = []snapshot.Change{}
		}
		return e.printJSON(j)
	}
	for _, w := range warns {
		e.warn("%s", w)
	}
	if nameOnly {
		for _, c := range res.Changes {
			e.printf("%s\n", c.Path)
		}
		return nil
	}
	e.printf("diff %s\n  -> %s\n", old, new)
	if opt.HasScope {
		e.printf("  in %s\n", opt.Scope)
	}
	if stat {
		e.printStat(res.Changes)
		return nil
	}
	for _, c := range res.Changes {
		e.printChange(c, "")
	}
	e.printCounts(res.Changes)
	return nil
}

func (e *env) printCounts(changes []snapshot.Change) {
	if len(changes) == 0 {
		e.printf("No differences.\n")
		return
	}
	n := counts(changes)
	e.printf("%d added, %d modified, %d touched, %d deleted\n", n["added"], n["modified"], n["touched"], n["deleted"])
}

func (e *env) printStat(changes []snapshot.Change) {
	st := snapshot.Stat(changes)
	if len(st) == 0 {
		e.printf("No differences.\n")
		return
	}
	e.printf("%-20s %7s %9s %8s %8s\n", "type", "added", "modified", "touched", "deleted")
	var total snapshot.TypeStat
	for _, s := range st {
		e.printf("%-20s %7d %9d %8d %8d\n", s.Type, s.Added, s.Modified, s.Touched, s.Deleted)
		total.Added += s.Added
		total.Modified += s.Modified
		total.Touched += s.Touched
		total.Deleted += s.Deleted
	}
	e.printf("%-20s %7d %9d %8d %8d\n", "total", total.Added, total.Modified, total.Touched, total.Deleted)
}

// maxValue bounds the JSON values printed in text output; --json has them
// whole.
const maxValue = 160

func clip(s string) string {
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes)", len(s))
}

func fieldLine(f jsondiff.Change) string {
	p := f.Path
	if p == "" {
		p = "(document)"
	}
	switch f.Op {
	case jsondiff.Added:
		return p + ": added " + clip(string(f.New))
	case jsondiff.Removed:
		return p + ": removed " + clip(string(f.Old))
	case jsondiff.Moved:
		return p + ": moved from index " + string(f.Old) + " to " + string(f.New)
	}
	return p + ": " + clip(string(f.Old)) + " -> " + clip(string(f.New))
}

func msTime(ms int64) string {
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05.000")
}

// printChange prints one change: a line for the resource, then its details
// indented further.
func (e *env) printChange(c snapshot.Change, indent string) {
	var size, note string
	switch c.Action {
	case snapshot.DiffAdded:
		size = fmt.Sprintf("%d bytes", c.NewSize)
	case snapshot.DiffDeleted:
		size = fmt.Sprintf("%d bytes", c.OldSize)
	case snapshot.DiffTouched:
		size = fmt.Sprintf("timestamp %s -> %s", msTime(c.OldTimestamp), msTime(c.NewTimestamp))
	default:
		size = fmt.Sprintf("%d -> %d bytes", c.OldSize, c.NewSize)
	}
	if c.Trivial {
		note = "  (only ignored fields or formatting changed)"
	}
	if b := c.Binary; b != nil {
		note = "  " + binarySummary(c, b)
	}
	e.printf("%s%-9s %s  %s%s\n", indent, c.Action, c.Path, size, note)
	in := indent + "    "
	for _, f := range c.Fields {
		e.printf("%s%s\n", in, fieldLine(f))
	}
	if c.Malformed != "" {
		e.printf("%s%s; line diff:\n", in, c.Malformed)
	}
	for _, l := range c.Text {
		if l.Op == jsondiff.Removed {
			e.printf("%s-%d: %s\n", in, l.OldLine, clip(l.Text))
		} else {
			e.printf("%s+%d: %s\n", in, l.NewLine, clip(l.Text))
		}
	}
	if b := c.Binary; b != nil {
		for _, f := range b.Header {
			e.printf("%sheader %s\n", in, fieldLine(f))
		}
		if b.Unreadable != "" {
			e.printf("%sheader not readable (%s)\n", in, b.Unreadable)
		}
	}
}

// binarySummary names a binary resource and its content hashes.
func binarySummary(c snapshot.Change, b *snapshot.BinaryChange) string {
	var what string
	switch b.Kind {
	case scope.BinaryUUID:
		switch c.Action {
		case snapshot.DiffAdded:
			return "uuid " + b.NewUUID
		case snapshot.DiffDeleted:
			return "uuid " + b.OldUUID
		}
		return "uuid " + b.OldUUID + " -> " + b.NewUUID
	case scope.BinaryDictionary, scope.BinarySnapshot:
		h := b.NewHeader
		if c.Action == snapshot.DiffDeleted {
			h = b.OldHeader
		}
		what = headerSummary(b.Kind, h)
	case scope.BinaryStatistics:
		what = "cuboid statistics"
	default:
		what = "binary"
	}
	if c.Action == snapshot.DiffModified {
		what += fmt.Sprintf("  blob %s -> %s", shortRef(c.OldID), shortRef(c.NewID))
	}
	return what
}

// headerSummary describes a dictionary or snapshot by its header.
func headerSummary(kind scope.BinaryKind, raw json.RawMessage) string {
	var h map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&h) != nil {
		if kind == scope.BinaryDictionary {
			return "dictionary"
		}
		return "table snapshot"
	}
	str := func(k string) string {
		if v, ok := h[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	if kind == scope.BinaryDictionary {
		s := "dictionary"
		if t, col := str("source_table"), str("source_column"); t != "" || col != "" {
			s += " of " + t + "." + col
		}
		if n := str("cardinality"); n != "" {
			s += ", cardinality " + n
		}
		return s
	}
	s := "table snapshot"
	if t := str("table_name"); t != "" {
		return s + " of " + t
	}
	if sig, ok := h["signature"].(map[string]any); ok {
		if p, ok := sig["path"].(string); ok && p != "" {
			s += " of " + path.Base(p)
		}
	}
	return s
}
