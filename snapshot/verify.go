package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
)

// VerifyOptions say what Verify checks.
type VerifyOptions struct {
	// Refs are the snapshots to check (anything Resolve accepts); empty
	// checks every snapshot reachable from every branch and tag.
	Refs []string
	// ReadData re-reads every blob and checks its hash; without it blobs
	// are only looked up (a fast structural check).
	ReadData bool
	// Progress receives progress; nil for none.
	Progress Progress
}

// Problem is one thing Verify found wrong.
type Problem struct {
	// Ref is the reference the problem was reached from (a branch or tag),
	// Snapshot the snapshot (zero for a broken reference).
	Ref      string
	Snapshot ID
	// Path is the resource or folder affected ("" for the snapshot itself).
	Path string
	// Object is the object id involved, if any.
	Object string
	// Message says what is wrong.
	Message string
}

// String describes the problem in one line: snapshot (or reference), path,
// object and message.
func (p Problem) String() string {
	var b strings.Builder
	if !p.Snapshot.IsZero() {
		b.WriteString("snapshot " + p.Snapshot.Short())
		if p.Ref != "" && p.Path == "" {
			// A problem with the snapshot itself: say how it was reached.
			b.WriteString(" (" + p.Ref + ")")
		}
	} else if p.Ref != "" {
		b.WriteString(p.Ref)
	}
	if p.Path != "" {
		b.WriteString(" " + p.Path)
	}
	if p.Object != "" {
		b.WriteString(" (object " + p.Object + ")")
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// VerifyResult is what Verify checked and found.
type VerifyResult struct {
	// Snapshots, Trees and Blobs count what was checked (each object once,
	// however many snapshots share it).
	Snapshots, Trees, Blobs int
	// Problems is empty for a sound repository.
	Problems []Problem
}

// Verify checks that every object reachable from the chosen snapshots (and
// from every reference, when none is chosen) is present and well-formed:
// references point at snapshot commits, commits and trees hash to their ids,
// trees are in git order with valid names, every resource has exactly one
// timestamp record and every record a resource, the resource count matches
// the commit's trailer and, with ReadData, every blob's content matches its
// id. It reports each problem with the snapshot and resource it affects and
// never modifies the repository.
func (r *Repository) Verify(ctx context.Context, opt VerifyOptions) (*VerifyResult, error) {
	v := &verifier{r: r, opt: opt, res: &VerifyResult{}, trees: map[[2]objects.ID]int{}, blobs: map[objects.ID]bool{}}
	if v.opt.Progress == nil {
		v.opt.Progress = noProgress{}
	}
	type start struct {
		ref string
		id  objects.ID
	}
	var starts []start
	if len(opt.Refs) == 0 {
		names, err := r.objs.RefNames()
		if err != nil {
			v.problem(Problem{Message: "cannot list references: " + err.Error()})
		}
		for _, name := range names {
			if !strings.HasPrefix(name, refHeads) && !strings.HasPrefix(name, refTags) && !strings.HasPrefix(name, refRemotes) {
				continue
			}
			id, err := r.objs.Ref(name)
			if err != nil {
				v.problem(Problem{Ref: name, Message: "reference does not parse: " + err.Error()})
				continue
			}
			starts = append(starts, start{name, id})
		}
	} else {
		for _, ref := range opt.Refs {
			in, err := r.Resolve(ctx, ref, scopeSystem())
			if err != nil {
				return nil, err
			}
			starts = append(starts, start{ref, in.ID.object()})
		}
	}
	if len(opt.Refs) == 0 {
		for _, err := range r.objs.CheckPacks(opt.ReadData) {
			v.problem(Problem{Message: err.Error()})
		}
	}
	seen := map[objects.ID]bool{}
	v.opt.Progress.Start("verifying", -1)
	defer v.opt.Progress.Done()
	for _, s := range starts {
		for id := s.id; !id.IsZero() && !seen[id]; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			seen[id] = true
			parent, ok := v.snapshot(s.ref, id)
			if !ok || len(opt.Refs) > 0 {
				break
			}
			id = parent
		}
	}
	sort.SliceStable(v.res.Problems, func(i, j int) bool {
		a, b := v.res.Problems[i], v.res.Problems[j]
		if a.Snapshot != b.Snapshot {
			return a.Snapshot.String() < b.Snapshot.String()
		}
		return a.Path < b.Path
	})
	return v.res, nil
}

type verifier struct {
	r     *Repository
	opt   VerifyOptions
	res   *VerifyResult
	trees map[[2]objects.ID]int // (resource tree, mirror tree) pairs checked -> resources below
	blobs map[objects.ID]bool
	snap  ID
	ref   string
}

func (v *verifier) problem(p Problem) {
	if p.Snapshot.IsZero() {
		p.Snapshot = v.snap
	}
	if p.Ref == "" {
		p.Ref = v.ref
	}
	v.res.Problems = append(v.res.Problems, p)
}

// read reads an object and checks its kind and hash.
func (v *verifier) read(id objects.ID, want objects.Kind) ([]byte, error) {
	k, data, err := v.r.objs.Read(id)
	if err != nil {
		if errors.Is(err, objects.ErrNotFound) {
			return nil, errors.New("missing")
		}
		return nil, err
	}
	if k != want {
		return nil, fmt.Errorf("is a %s, want a %s", k, want)
	}
	if got := objects.HashObject(k, data); got != id {
		return nil, fmt.Errorf("content hashes to %s", got)
	}
	return data, nil
}

// snapshot checks one snapshot and returns its parent.
func (v *verifier) snapshot(ref string, id objects.ID) (objects.ID, bool) {
	v.snap, v.ref = ID(id), ref
	data, err := v.read(id, objects.KindCommit)
	if err != nil {
		v.problem(Problem{Object: id.String(), Message: "commit " + err.Error()})
		return objects.ID{}, false
	}
	c, err := objects.DecodeCommit(data)
	if err != nil {
		v.problem(Problem{Object: id.String(), Message: err.Error()})
		return objects.ID{}, false
	}
	_, tr := splitMessage(c.Message)
	t, err := decodeTrailers(tr)
	if errors.Is(err, ErrNotMetastoreRepository) {
		// A commit made with plain git (FORMAT.md): not a snapshot, as for
		// log.
		return objects.ID{}, false
	}
	if err != nil {
		v.problem(Problem{Object: id.String(), Message: "not a snapshot commit: " + err.Error()})
		return objects.ID{}, false
	}
	v.res.Snapshots++
	var parent objects.ID
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	rootData, err := v.read(c.Tree, objects.KindTree)
	if err != nil {
		v.problem(Problem{Object: c.Tree.String(), Message: "root tree " + err.Error()})
		return parent, true
	}
	root, err := objects.DecodeTree(rootData)
	if err != nil {
		v.problem(Problem{Object: c.Tree.String(), Message: err.Error()})
		return parent, true
	}
	v.res.Trees++
	var resources []objects.TreeEntry
	var mirror objects.ID
	for _, e := range root {
		if e.Name == recordsDir {
			mirror = v.mirrorRoot(e)
			continue
		}
		resources = append(resources, e)
	}
	if mirror.IsZero() {
		v.problem(Problem{Message: "no " + recordsDir + "/" + timestampsDir + " records"})
	}
	n := v.folder("", resources, mirror)
	if n != t.Resources {
		v.problem(Problem{Message: fmt.Sprintf("holds %d resources, its record says %d", n, t.Resources)})
	}
	return parent, true
}

func (v *verifier) mirrorRoot(e objects.TreeEntry) objects.ID {
	if !e.IsDir() {
		v.problem(Problem{Path: "/" + recordsDir, Message: "is not a folder"})
		return objects.ID{}
	}
	data, err := v.read(e.ID, objects.KindTree)
	if err != nil {
		v.problem(Problem{Path: "/" + recordsDir, Object: e.ID.String(), Message: "tree " + err.Error()})
		return objects.ID{}
	}
	entries, err := objects.DecodeTree(data)
	if err != nil {
		v.problem(Problem{Path: "/" + recordsDir, Object: e.ID.String(), Message: err.Error()})
		return objects.ID{}
	}
	for _, x := range entries {
		if x.Name == timestampsDir && x.IsDir() {
			return x.ID
		}
	}
	return objects.ID{}
}

// tree reads and decodes a tree, checking that it is in canonical git form.
func (v *verifier) tree(path string, id objects.ID) ([]objects.TreeEntry, bool) {
	data, err := v.read(id, objects.KindTree)
	if err != nil {
		v.problem(Problem{Path: path, Object: id.String(), Message: "tree " + err.Error()})
		return nil, false
	}
	entries, err := objects.DecodeTree(data)
	if err != nil {
		v.problem(Problem{Path: path, Object: id.String(), Message: err.Error()})
		return nil, false
	}
	if again, err := objects.EncodeTree(entries); err != nil || string(again) != string(data) {
		msg := "tree is not in canonical git form"
		if err != nil {
			msg += ": " + err.Error()
		}
		v.problem(Problem{Path: path, Object: id.String(), Message: msg})
		return nil, false
	}
	v.res.Trees++
	return entries, true
}

// subfolder checks the folder at path (tree id, timestamps mirror tree
// mirror) once, and returns how many resources it holds.
func (v *verifier) subfolder(path string, id, mirror objects.ID) int {
	key := [2]objects.ID{id, mirror}
	if n, ok := v.trees[key]; ok {
		return n
	}
	entries, ok := v.tree(path, id)
	n := 0
	if ok {
		n = v.folder(path, entries, mirror)
	}
	v.trees[key] = n
	return n
}

// folder checks the entries of the folder at path against its timestamps
// mirror and returns how many resources it holds.
func (v *verifier) folder(path string, entries []objects.TreeEntry, mirrorID objects.ID) int {
	files := map[string]bool{}
	dirs := map[string]objects.ID{}
	if !mirrorID.IsZero() {
		mirror, ok := v.tree("/"+recordsDir+"/"+timestampsDir+path, mirrorID)
		if ok {
			for _, e := range mirror {
				if e.IsDir() {
					dirs[e.Name] = e.ID
					continue
				}
				name, _, ok := parseTimestampName(e.Name)
				if !ok {
					v.problem(Problem{Path: path + "/" + e.Name, Message: "timestamp record is not <name>@<milliseconds>"})
					continue
				}
				if files[name] {
					v.problem(Problem{Path: path + "/" + name, Message: "two timestamp records"})
				}
				files[name] = true
			}
		}
	}
	n := 0
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		p := path + "/" + e.Name
		if names[e.Name] {
			// Two files are caught as a non-canonical tree; a file and a
			// folder of one name are in git order, and as ambiguous.
			v.problem(Problem{Path: p, Message: "name listed twice in its folder"})
		}
		names[e.Name] = true
		if e.IsDir() {
			m, ok := dirs[escapeDir(e.Name)]
			if !ok {
				v.problem(Problem{Path: p, Message: "folder has no timestamp records"})
			}
			delete(dirs, escapeDir(e.Name))
			n += v.subfolder(p, e.ID, m)
			continue
		}
		n++
		if e.Mode != objects.ModeFile {
			v.problem(Problem{Path: p, Object: e.ID.String(), Message: fmt.Sprintf("unexpected mode %o", e.Mode)})
		}
		if !files[e.Name] {
			v.problem(Problem{Path: p, Message: "resource has no timestamp record"})
		}
		delete(files, e.Name)
		v.blob(p, e.ID)
	}
	for name := range files {
		v.problem(Problem{Path: path + "/" + name, Message: "timestamp record without a resource"})
	}
	for name := range dirs {
		v.problem(Problem{Path: path + "/" + name, Message: "timestamp records for a folder that does not exist"})
	}
	v.opt.Progress.Add(1)
	return n
}

// blob checks one resource's content: present, and with ReadData intact.
func (v *verifier) blob(path string, id objects.ID) {
	if ok, seen := v.blobs[id]; seen {
		if !ok {
			v.problem(Problem{Path: path, Object: id.String(), Message: "content missing or damaged (see above)"})
		}
		return
	}
	ok := true
	if v.opt.ReadData {
		if _, err := v.read(id, objects.KindBlob); err != nil {
			v.problem(Problem{Path: path, Object: id.String(), Message: "content " + err.Error()})
			ok = false
		}
	} else if !v.r.objs.Has(id) {
		v.problem(Problem{Path: path, Object: id.String(), Message: "content missing"})
		ok = false
	}
	v.blobs[id] = ok
	v.res.Blobs++
}
