package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/gitremote"
	"github.com/kylin-tools/metastore/objects/s3"
)

// VerifyRemoteOptions say what VerifyRemote checks.
type VerifyRemoteOptions struct {
	RemoteOptions
	// Remote is a configured remote's name or a URL; "" for the default.
	Remote string
	// ReadData also re-reads every resource and checks its hash.
	ReadData bool
}

// RemoteVerifyResult is what VerifyRemote checked and found.
type RemoteVerifyResult struct {
	VerifyResult
	// Remote is the remote's name, URL its URL without any password.
	Remote, URL string
	// Refs counts the references checked, Instances the instances they
	// belong to; Bytes what was downloaded to check them.
	Refs, Instances int
	Bytes           int64
}

// VerifyRemote checks that every snapshot a remote names is complete
// there: it takes what the remote holds, from the remote alone (a git
// server sends everything its references reach; from S3, every pack
// refs.json lists is downloaded, or found identical in this repository),
// into a scratch repository, and checks each snapshot as Verify does. It
// changes nothing here or on the remote.
func (r *Repository) VerifyRemote(ctx context.Context, opt VerifyRemoteOptions) (*RemoteVerifyResult, error) {
	opt.defaults()
	t, err := r.resolveRemote(opt.Remote)
	if err != nil {
		return nil, err
	}
	end, err := r.dial(ctx, t, opt.RemoteOptions)
	if err != nil {
		return nil, err
	}
	sess, err := end.openFetch(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	res := &RemoteVerifyResult{Remote: t.name, URL: t.display()}
	refs := map[string]objects.ID{}
	insts := map[string]bool{}
	for name, id := range sess.refs() {
		if rr, ok := parseRemoteRef(name); ok {
			refs[name] = id
			insts[rr.instance] = true
		}
	}
	res.Refs, res.Instances = len(refs), len(insts)
	if len(refs) == 0 {
		return res, nil
	}

	base := filepath.Join(r.Path(), remoteCacheDir)
	if err := os.MkdirAll(base, objects.DirMode); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scratch, err := objects.Init(filepath.Join(dir, "r.git"), headRef, map[string]map[string]string{
		"metastore": {"format": strconv.Itoa(FormatVersion)},
	})
	if err != nil {
		return nil, err
	}
	defer scratch.Close()
	sr := newRepository(scratch, r.opt)
	v := newVerifier(sr, VerifyOptions{ReadData: opt.ReadData, Progress: opt.Progress}, &res.VerifyResult)

	switch s := sess.(type) {
	case *gitFetch:
		var tips []objects.ID
		seen := objects.ObjectSet{}
		for _, id := range refs {
			if !seen.Has(id) {
				seen.Add(id)
				tips = append(tips, id)
			}
		}
		startBytes(opt.Progress, "receiving", -1)
		err := s.s.Fetch(tips, nil, func(rd io.Reader) error {
			var n int64
			_, err := scratch.ReceivePack(rd, func(total int64) {
				opt.Progress.Add(total - n)
				n = total
				res.Bytes = total
			})
			return err
		})
		opt.Progress.Done()
		if err != nil {
			for _, fatal := range []error{gitremote.ErrTimeout, gitremote.ErrAuth, gitremote.ErrNoRepository, gitremote.ErrHostKey, context.Canceled} {
				if errors.Is(err, fatal) {
					return nil, err
				}
			}
			v.problem(Problem{Message: "the remote could not send its snapshots: " + err.Error()})
		}
	case *s3Fetch:
		n, problems, err := r.gatherS3(ctx, s, scratch, opt.Progress)
		res.Bytes = n
		if err != nil {
			return nil, err
		}
		for _, p := range problems {
			v.problem(p)
		}
	}
	if errs := scratch.CheckPacks(opt.ReadData); len(errs) > 0 {
		for _, e := range errs {
			v.problem(Problem{Message: e.Error()})
		}
	}

	v.opt.Progress.Start("verifying", -1)
	defer v.opt.Progress.Done()
	seen := map[objects.ID]bool{}
	for _, name := range sortedRefs(refs) {
		for id := refs[name]; !id.IsZero() && !seen[id]; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			seen[id] = true
			parent, ok := v.snapshot(name, id)
			if !ok {
				break
			}
			id = parent
		}
	}
	sort.SliceStable(res.Problems, func(i, j int) bool {
		a, b := res.Problems[i], res.Problems[j]
		if a.Snapshot != b.Snapshot {
			return a.Snapshot.String() < b.Snapshot.String()
		}
		return a.Path < b.Path
	})
	return res, nil
}

// gatherS3 puts every pack refs.json lists into scratch: linked from this
// repository when it holds the same pack (same name, same size: the name is
// the checksum of the content), downloaded otherwise.
func (r *Repository) gatherS3(ctx context.Context, s *s3Fetch, scratch *objects.Repository, prog Progress) (int64, []Problem, error) {
	var problems []Problem
	var bytes int64
	local := filepath.Join(r.Path(), "objects", "pack")
	dst := filepath.Join(scratch.Path(), "objects", "pack")
	startBytes(prog, "receiving", -1)
	defer prog.Done()
	linked := false
	for _, name := range s.idx.Packs {
		size, err := s.e.st.Stat(ctx, s3PackDir+name+".pack")
		if err != nil {
			if errors.Is(err, s3.ErrNotExist) {
				problems = append(problems, Problem{Message: fmt.Sprintf("pack %s, listed in %s, is missing", name, s3IndexName)})
				continue
			}
			return bytes, problems, err
		}
		if _, err := s.e.packIDs(ctx, name); err != nil {
			if errors.Is(err, s3.ErrNotExist) || errors.Is(err, ErrCorrupt) {
				problems = append(problems, Problem{Message: fmt.Sprintf("pack %s: index: %v", name, err)})
				continue
			}
			return bytes, problems, err
		}
		if st, err := os.Stat(filepath.Join(local, name+".pack")); err == nil && st.Size() == size {
			if os.Link(filepath.Join(local, name+".idx"), filepath.Join(dst, name+".idx")) == nil &&
				os.Link(filepath.Join(local, name+".pack"), filepath.Join(dst, name+".pack")) == nil {
				linked = true
				continue
			}
			os.Remove(filepath.Join(dst, name+".idx"))
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			var last int64
			_, err := s.e.st.Download(ctx, s3PackDir+name+".pack", pw, func(n int64) {
				prog.Add(n - last)
				last = n
			})
			pw.CloseWithError(err)
			done <- err
		}()
		rc, err := scratch.ReceivePack(pr, nil)
		pr.CloseWithError(errStopDownload)
		derr := <-done
		bytes += size
		switch {
		case derr != nil && !errors.Is(derr, errStopDownload):
			return bytes, problems, derr
		case err != nil:
			problems = append(problems, Problem{Message: fmt.Sprintf("pack %s: %v", name, err)})
		case rc.Name != name:
			problems = append(problems, Problem{Message: fmt.Sprintf("pack %s holds the pack %s", name, rc.Name)})
		}
	}
	if linked {
		// The scratch repository saw its pack folder change.
		scratch.Refresh()
	}
	return bytes, problems, nil
}
