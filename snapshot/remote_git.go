package snapshot

import (
	"context"
	"io"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/gitremote"
)

// gitEnd is a git remote. The server keeps push atomic: git-receive-pack
// stores the pack aside, checks it is complete and moves the references
// only then (all together when it supports atomic pushes, which git does).
type gitEnd struct {
	r *Repository
	g *gitremote.Remote
}

func (e *gitEnd) String() string { return e.g.String() }

func (e *gitEnd) openPush(ctx context.Context) (pushSession, error) {
	s, err := e.g.OpenPush(ctx)
	if err != nil {
		return nil, err
	}
	return &gitPush{r: e.r, s: s}, nil
}

func (e *gitEnd) openFetch(ctx context.Context) (fetchSession, error) {
	s, err := e.g.OpenFetch(ctx)
	if err != nil {
		return nil, err
	}
	return &gitFetch{r: e.r, s: s}, nil
}

type gitPush struct {
	r *Repository
	s *gitremote.Session
}

func (p *gitPush) refs() map[string]objects.ID { return p.s.Refs() }
func (p *gitPush) close()                      { p.s.Close() }

// missing compares the new snapshots with the ones the remote's references
// name, as far as this repository has them (git's negotiation: a server can
// only be told about commits the client knows).
func (p *gitPush) missing(ctx context.Context, tips []objects.ID) ([]objects.ID, error) {
	var bases []objects.ID
	for _, id := range p.s.Refs() {
		bases = append(bases, id)
	}
	return p.r.objs.MissingFrom(ctx, tips, bases)
}

func (p *gitPush) send(ctx context.Context, updates []refChange, ids []objects.ID, prog Progress) (int64, error) {
	var ups []gitremote.Update
	for _, u := range updates {
		ups = append(ups, gitremote.Update{Name: u.name, Old: u.old, New: u.new})
	}
	var sent int64
	startUnit(prog, "sending", "objects", int64(len(ids)))
	defer prog.Done()
	last := 0
	err := p.s.Push(ups, func(w io.Writer) error {
		out, err := p.r.objs.WritePack(w, ids, func(n int, bytes int64) {
			prog.Add(int64(n - last))
			last = n
			sent = bytes
		})
		if out != nil {
			sent = out.Size
		}
		return err
	})
	return sent, err
}

type gitFetch struct {
	r *Repository
	s *gitremote.Session
}

func (f *gitFetch) refs() map[string]objects.ID { return f.s.Refs() }
func (f *gitFetch) close()                      { f.s.Close() }

// fetch asks for wants, telling the server the tips of every reference of
// this repository (its own and those pulled before), and stores the pack it
// sends.
func (f *gitFetch) fetch(ctx context.Context, wants []objects.ID, prog Progress) (fetched, error) {
	none := fetched{fresh: func(objects.ID) bool { return false }}
	refs, err := f.r.objs.Refs("refs/")
	if err != nil {
		return none, err
	}
	seen := objects.ObjectSet{}
	var haves []objects.ID
	for _, ref := range refs {
		if !seen.Has(ref.ID) && f.r.objs.Has(ref.ID) {
			seen.Add(ref.ID)
			haves = append(haves, ref.ID)
		}
	}
	var rc *objects.Received
	var n int64
	startBytes(prog, "receiving", -1)
	defer prog.Done()
	err = f.s.Fetch(wants, haves, func(rd io.Reader) error {
		var err error
		rc, err = f.r.objs.ReceivePack(rd, func(total int64) {
			prog.Add(total - n)
			n = total
		})
		return err
	})
	if err != nil {
		return none, err
	}
	if rc == nil {
		return none, nil
	}
	return fetched{fresh: rc.Holds, objects: rc.Objects, bytes: n}, nil
}
