package scope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/metastore"
)

// Options tunes Resolve.
type Options struct {
	// WithSegments adds, to a cube scope, the dictionaries, table snapshots
	// and cuboid statistics that the cube's segments reference (Kylin
	// 2.x-4.x), or the details of a model's segments (Kylin 5; the
	// segments and layouts of the per-type layout). A project scope always
	// has them; a system scope has everything anyway.
	WithSegments bool
	// NoSuggestions leaves NotFoundError.Closest empty: for callers that
	// expect the project or cube may not exist (a restore looking at what
	// its target holds now), comparing the name with every other costs time
	// for nothing.
	NoSuggestions bool
}

// Warning is something Resolve noticed that may make a scope incomplete: a
// resource it could not parse while deciding what belongs to the scope, or a
// resource that is referenced but does not exist. Warnings never stop
// Resolve.
type Warning struct {
	// Path is the resource the warning is about: the unparseable one, or
	// the missing one.
	Path string
	// Message says what is wrong, and for a missing resource who refers to
	// it.
	Message string
}

// String returns "PATH: MESSAGE".
func (w Warning) String() string { return w.Path + ": " + w.Message }

// Result is what a scope holds in one metastore.
type Result struct {
	// Scope is the scope that was resolved.
	Scope Scope
	// Layout is the layout of the metastore.
	Layout Layout
	// Paths are the keys of the resources of the scope, in byte order,
	// without duplicates. Only resources that exist are listed.
	Paths []string
	// Warnings are sorted by Path, then Message.
	Warnings []Warning

	// Project is, for a cube scope, the project that lists the cube among
	// its realizations ("" if none does). On Kylin 5 it is the project
	// folder that holds the model.
	Project string
	// Model is, for a cube scope, the model the cube descriptor names
	// (field "model_name"). On Kylin 5 it is the model alias.
	Model string
	// ModelID is, for a cube scope on Kylin 5, the stem of the model's key
	// "/P/model_desc/ID.json" (its uuid), which its index_plan, dataflow
	// and dataflow_details share; "" on Kylin 2.x-4.x.
	ModelID string
	// Tables are, for a cube scope, the "DB.TABLE" names of the tables the
	// model uses (fact table and joined or lookup tables), sorted.
	Tables []string
}

// Resolve returns the resources of src that belong to s. The rules, for both
// layouts, are in the package documentation.
//
// A system scope lists every resource. A project or cube scope reads only the
// resources its rules name and lists only the folders they need, so its cost
// grows with the size of the project or cube, not of the metastore.
//
// Resolve returns an error wrapping ErrInvalidScope if s is not valid (see
// Scope.Check), a *NotFoundError (wrapping ErrUnknownProject or
// ErrUnknownCube) if the project or cube does not exist, an error wrapping
// ErrAmbiguousCube if a Kylin 5 model alias names several models, and the
// source's error, wrapped, if reading or listing fails. Resources that are
// not valid JSON, or that lack expected fields, never make Resolve fail: they
// become Warnings when they affect what the scope holds.
func Resolve(ctx context.Context, src metastore.Source, s Scope, opt Options) (*Result, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	layout, err := DetectLayout(ctx, src)
	if err != nil {
		return nil, err
	}
	r := newResolver(ctx, src)
	r.suggest = !opt.NoSuggestions
	res := &Result{Scope: s, Layout: layout}
	switch {
	case s.Kind == System:
		err = src.List(ctx, "/", func(p string) error {
			r.add(p)
			return nil
		})
		if err != nil {
			err = fmt.Errorf("list /: %w", err)
		}
	case s.Kind == Project && layout == Layout4:
		err = r.project4(s.Name)
	case s.Kind == Cube && layout == Layout4:
		err = r.cube4(res, s.Name, opt)
	case s.Kind == Project && layout == Layout5:
		err = r.project5(s.Name)
	case s.Kind == Cube && layout == Layout5:
		err = r.cube5(res, s.Name, opt)
	case s.Kind == Project && layout == LayoutTyped:
		err = r.projectTyped(s.Name)
	case s.Kind == Cube && layout == LayoutTyped:
		err = r.cubeTyped(res, s.Name, opt)
	}
	if err != nil {
		what := s.String()
		if s.Kind == Cube && layout != Layout4 {
			what = "model " + s.Name // Kylin 5 has models
		}
		return nil, fmt.Errorf("resolve %s: %w", what, err)
	}
	res.Paths = r.sortedPaths()
	res.Warnings = r.sortedWarnings()
	return res, nil
}

// resolver gathers the members and warnings of one scope.
type resolver struct {
	ctx     context.Context
	src     metastore.Source
	suggest bool // fill in NotFoundError.Closest

	// listDirs makes exists list a resource's whole folder once instead of
	// probing the single key: cheaper when a scope checks many keys of the
	// same folder (a project), dearer for a handful (a cube).
	listDirs bool

	paths map[string]struct{}
	warns map[Warning]struct{}
	// known caches existence: true for resources seen, false for resources
	// known to be missing.
	known map[string]bool
	// listed holds the folders (ending in "/") listed in full into known.
	listed map[string]bool
	// models caches Layout4 model descriptors by key; nil for those missing
	// or unparseable (already warned about).
	models map[string]*modelDesc
}

func newResolver(ctx context.Context, src metastore.Source) *resolver {
	return &resolver{
		ctx:    ctx,
		src:    src,
		paths:  map[string]struct{}{},
		warns:  map[Warning]struct{}{},
		known:  map[string]bool{},
		listed: map[string]bool{},
		models: map[string]*modelDesc{},
	}
}

// add makes p a member. Callers add only resources known to exist.
func (r *resolver) add(p string) { r.paths[p] = struct{}{} }

func (r *resolver) warn(path, format string, args ...any) {
	r.warns[Warning{Path: path, Message: fmt.Sprintf(format, args...)}] = struct{}{}
}

func (r *resolver) sortedPaths() []string {
	out := make([]string, 0, len(r.paths))
	for p := range r.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (r *resolver) sortedWarnings() []Warning {
	out := make([]Warning, 0, len(r.warns))
	for w := range r.warns {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// read returns the content of p, or ok == false if p does not exist. Other
// failures of the source are returned as errors.
func (r *resolver) read(p string) (data []byte, ok bool, err error) {
	if err := metastore.CheckPath(p); err != nil {
		return nil, false, nil
	}
	res, err := r.src.Read(r.ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		r.known[p] = false
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	r.known[p] = true
	return res.Data, true, nil
}

// exists reports whether p is a resource of the source, without reading it.
func (r *resolver) exists(p string) (bool, error) {
	if ok, seen := r.known[p]; seen {
		return ok, nil
	}
	if metastore.CheckPath(p) != nil {
		return false, nil
	}
	dir := p[:strings.LastIndexByte(p, '/')+1]
	if r.listed[dir] {
		return false, nil
	}
	if r.listDirs && dir != "/" {
		if err := r.listDir(dir); err != nil {
			return false, err
		}
		return r.known[p], nil
	}
	if ex, ok := r.src.(metastore.Exister); ok {
		found, err := ex.Exists(r.ctx, p)
		if err != nil {
			return false, fmt.Errorf("look for %s: %w", p, err)
		}
		r.known[p] = found
		return found, nil
	}
	// Keys are listed in byte order and p sorts before every other key it
	// prefixes, so the first key listed is p if p exists.
	found := false
	err := r.src.List(r.ctx, p, func(q string) error {
		found = q == p
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, fmt.Errorf("list %s: %w", p, err)
	}
	r.known[p] = found
	return found, nil
}

// listDir lists every key under dir into the existence cache.
func (r *resolver) listDir(dir string) error {
	err := r.src.List(r.ctx, dir, func(q string) error {
		r.known[q] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	r.listed[dir] = true
	return nil
}

// addIfExists adds p if it exists and reports whether it did.
// unparsed warns that the resource at path could not be parsed (err) if
// it mentions one of names: it may be what the scope rules look for ("be
// model M", "list cube C").
func (r *resolver) unparsed(path string, data []byte, err error, what string, names ...string) {
	if mentions(data, names...) {
		r.warn(path, "cannot parse (%v); it may %s", err, what)
	}
}

// notFound is the error of a project or cube that is not there, with the
// names of the folder (prefix) it should be in that come closest, if
// suggestions are asked for.
func (r *resolver) notFound(kind Kind, name, prefix string) error {
	if !r.suggest {
		return &NotFoundError{Kind: kind, Name: name}
	}
	names, err := listStems(r.ctx, r.src, prefix)
	if err != nil {
		return err
	}
	return &NotFoundError{Kind: kind, Name: name, Closest: closest(name, names)}
}

func (r *resolver) addIfExists(p string) (bool, error) {
	ok, err := r.exists(p)
	if ok {
		r.add(p)
	}
	return ok, err
}

// addReferenced adds p if it exists, and warns that it is missing
// otherwise. fromPath is the resource that refers to p, and from describes
// the reference for the warning ("segment S of /cube/C.json").
func (r *resolver) addReferenced(p, fromPath, from string) error {
	if metastore.CheckPath(p) != nil {
		r.warn(fromPath, "refers to %q, which is not a valid resource key", p)
		return nil
	}
	ok, err := r.addIfExists(p)
	if err == nil && !ok {
		r.warn(p, "does not exist (referenced by %s)", from)
	}
	return err
}

// addPrefix adds every resource under prefix.
func (r *resolver) addPrefix(prefix string) error {
	err := r.src.List(r.ctx, prefix, func(q string) error {
		r.known[q] = true
		r.add(q)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// utf8BOM starts some resources written by hand or by Windows tools.
var utf8BOM = []byte("\xef\xbb\xbf")

// decode unmarshals a JSON resource, tolerating a UTF-8 byte order mark.
func decode(data []byte, v any) error {
	return json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), v)
}

// mentions reports whether data contains any of names as a JSON string. It
// decides whether a resource that cannot be parsed could have affected a
// decision, and so deserves a warning.
func mentions(data []byte, names ...string) bool {
	for _, n := range names {
		q, err := json.Marshal(n)
		if err == nil && bytes.Contains(data, q) {
			return true
		}
	}
	return false
}

// cannotMention reports, without parsing data, that no JSON string in it
// can be name: name (quoted, as the bytes `"name"`) has only characters JSON
// never needs to escape, and data neither holds those bytes nor any \u
// escape that could spell them. Skipping such resources before decoding keeps
// a cube's lookups from parsing every project of a large metastore.
func cannotMention(data []byte, name string, quoted []byte) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return !bytes.Contains(data, quoted) && !bytes.Contains(data, []byte(`\u`))
}

// orderedSet keeps the first-seen order of distinct strings.
type orderedSet struct {
	list []string
	seen map[string]bool
}

func (s *orderedSet) add(v string) bool {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if v == "" || s.seen[v] {
		return false
	}
	s.seen[v] = true
	s.list = append(s.list, v)
	return true
}

func (s *orderedSet) has(v string) bool { return s.seen[v] }

func (s *orderedSet) sorted() []string {
	out := append([]string(nil), s.list...)
	sort.Strings(out)
	return out
}
