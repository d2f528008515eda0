package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
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
		&cli.BoolFlag{Name: "no-default-ignore", Usage: "do not ignore " + strings.Join(scope.SaveFields(), ", ") + " (the fields Kylin rewrites on every save)"},
	}
}

// ignoreList is the ignore set the flags ask for.
func ignoreList(c *cli.Context) []string {
	return api.IgnoreList(c.Bool("no-default-ignore"), c.StringSlice("ignore"))
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
			stat, nameOnly := c.Bool("stat"), c.Bool("name-only")
			d, err := e.api().Diff(c.Context, api.DiffRequest{
				A: c.Args().Get(0), B: c.Args().Get(1), Project: c.String("project"), Cube: c.String("cube"),
				Types: c.StringSlice("type"), Prefix: c.String("prefix"), Stat: stat, NameOnly: nameOnly,
				Ignore: ignoreList(c),
			})
			if err != nil {
				return err
			}
			if err := e.printDiff(d); err != nil {
				return err
			}
			res := d.Result
			if c.Bool("exit-code") && len(res.Changes) > 0 {
				return exitStatus(1)
			}
			return nil
		},
	}
}

func counts(changes []snapshot.Change) map[string]int { return api.Counts(changes) }

// printDiff prints d through a buffer: a long diff is thousands of lines,
// and each printf to the unbuffered stdout was a system call.
func (e *env) printDiff(d *api.Diff) error {
	out := e.stdout
	w := bufio.NewWriterSize(out, 64<<10)
	e.stdout = w
	err := e.printDiffTo(d)
	e.stdout = out
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (e *env) printDiffTo(d *api.Diff) error {
	res, old, new, opt, stat, nameOnly := d.Result, d.Old, d.New, d.Options, d.Stat, d.NameOnly
	warns := d.Warnings()
	if e.json {
		return e.printJSON(d.JSON())
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
