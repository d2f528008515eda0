package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot/internal/tree"
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
	v := newVerifier(r, opt, &VerifyResult{})
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
			in, err := r.Resolve(ctx, ref, scope.SystemScope())
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
	v.res.Trees = v.trees.Trees
	sort.SliceStable(v.res.Problems, func(i, j int) bool {
		a, b := v.res.Problems[i], v.res.Problems[j]
		if a.Snapshot != b.Snapshot {
			return a.Snapshot.String() < b.Snapshot.String()
		}
		return a.Path < b.Path
	})
	return v.res, nil
}

// newVerifier returns a verifier of r's objects that adds what it finds to
// res.
func newVerifier(r *Repository, opt VerifyOptions, res *VerifyResult) *verifier {
	v := &verifier{r: r, opt: opt, res: res, bad: map[objects.ID]bool{}}
	if v.opt.Progress == nil {
		v.opt.Progress = noProgress{}
	}
	v.trees = &tree.Checker{
		Read: v.read,
		Problem: func(key string, object objects.ID, msg string) {
			p := Problem{Path: key, Message: msg}
			if !object.IsZero() {
				p.Object = object.String()
			}
			v.problem(p)
		},
		Resource: v.blob,
		Folder:   func() { v.opt.Progress.Add(1) },
	}
	return v
}

type verifier struct {
	r     *Repository
	opt   VerifyOptions
	res   *VerifyResult
	trees *tree.Checker
	// blobs are the blobs checked (made at the first, when the packs to
	// check are there), bad those of them found missing or damaged.
	blobs *objects.Marks
	bad   map[objects.ID]bool
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
	if n, ok := v.trees.Check(c.Tree); ok && n != t.Resources {
		v.problem(Problem{Message: fmt.Sprintf("holds %d resources, its record says %d", n, t.Resources)})
	}
	return parent, true
}

// blob checks one resource's content: present, and with ReadData intact.
func (v *verifier) blob(path string, id objects.ID) {
	if v.blobs == nil {
		v.blobs = v.r.objs.NewMarks()
	}
	if !v.blobs.Add(id) {
		if v.bad[id] {
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
	if !ok {
		v.bad[id] = true
	}
	v.res.Blobs++
}
