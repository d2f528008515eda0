package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/objects/s3"
)

// The layout of a remote in an S3 bucket (FORMAT.md, "S3 remotes"):
//
//	PREFIX/packs/pack-<sha1>.pack   git pack files, immutable, named by their checksum
//	PREFIX/packs/pack-<sha1>.idx    their version 2 indexes, uploaded after the pack
//	PREFIX/refs.json                the refs index: every instance's references
//	                                and the packs that hold their objects
//
// A push uploads its pack, then the pack's index, then replaces refs.json
// with a conditional write (If-Match its ETag, or If-None-Match: * to
// create it); a writer that lost the race reads refs.json again, merges its
// own references (other instances' never conflict) and tries again. So
// refs.json never names an object that is not in a listed pack, and two
// writers never lose each other's references.
const (
	s3IndexName  = "refs.json"
	s3PackDir    = "packs/"
	s3Format     = 1
	s3CASRetries = 20
)

// refsIndex is refs.json.
type refsIndex struct {
	// Format is the layout version (1).
	Format int `json:"format"`
	// Refs maps reference names (refs/metastore/<instance>/heads/...) to
	// commit ids.
	Refs map[string]string `json:"refs"`
	// Packs lists the packs (pack-<sha1>) holding every object the
	// references reach.
	Packs []string `json:"packs"`
}

type s3End struct {
	r  *Repository
	st *s3.Store
}

func (e *s3End) String() string { return e.st.String() }

// readIndex reads refs.json; a remote without one is empty.
func (e *s3End) readIndex(ctx context.Context) (*refsIndex, map[string]objects.ID, string, error) {
	data, etag, err := e.st.Get(ctx, s3IndexName)
	if errors.Is(err, s3.ErrNotExist) {
		return &refsIndex{Format: s3Format, Refs: map[string]string{}}, map[string]objects.ID{}, "", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	var idx refsIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, nil, "", fmt.Errorf("%w: %s%s: %v", ErrCorrupt, e.st, s3IndexName, err)
	}
	if idx.Format > s3Format {
		return nil, nil, "", fmt.Errorf("%w: %s%s has format %d; this tool knows %d: upgrade the tool", ErrNewerFormat, e.st, s3IndexName, idx.Format, s3Format)
	}
	if idx.Refs == nil {
		idx.Refs = map[string]string{}
	}
	refs := map[string]objects.ID{}
	for name, v := range idx.Refs {
		id, err := objects.ParseID(v)
		if err != nil || objects.CheckRefName(name) != nil {
			return nil, nil, "", fmt.Errorf("%w: %s%s: reference %q: bad value %q", ErrCorrupt, e.st, s3IndexName, name, v)
		}
		refs[name] = id
	}
	for _, p := range idx.Packs {
		if !isPackName(p) {
			return nil, nil, "", fmt.Errorf("%w: %s%s: bad pack name %q", ErrCorrupt, e.st, s3IndexName, p)
		}
	}
	return &idx, refs, etag, nil
}

func isPackName(n string) bool {
	h, ok := strings.CutPrefix(n, "pack-")
	if !ok || len(h) != 40 {
		return false
	}
	_, err := objects.ParseID(h)
	return err == nil
}

// packIDs returns the objects a remote pack holds, from its index (kept in
// the repository's cache of this remote once downloaded: packs never
// change).
func (e *s3End) packIDs(ctx context.Context, name string) ([]objects.ID, error) {
	dir := e.r.cacheFor(e.st.String())
	cached := filepath.Join(dir, name+".idx")
	if sum, ids, err := objects.ReadPackIndex(cached); err == nil && objects.PackName(sum) == name {
		return ids, nil
	}
	var buf strings.Builder
	if _, err := e.st.Download(ctx, s3PackDir+name+".idx", &buf, nil); err != nil {
		return nil, err
	}
	sum, ids, err := objects.ParsePackIndex([]byte(buf.String()))
	if err != nil || objects.PackName(sum) != name {
		return nil, fmt.Errorf("%w: %s%s%s.idx: not the index of that pack (%v)", ErrCorrupt, e.st, s3PackDir, name, err)
	}
	if err := os.MkdirAll(dir, objects.DirMode); err == nil {
		if f, err := os.CreateTemp(dir, "tmp-idx-"); err == nil {
			_, werr := f.WriteString(buf.String())
			cerr := f.Close()
			if werr == nil && cerr == nil {
				os.Rename(f.Name(), cached)
			} else {
				os.Remove(f.Name())
			}
		}
	}
	return ids, nil
}

// completePacks lists the packs in the bucket whose index is there too (an
// index is uploaded after its pack), whether refs.json lists them or not.
func (e *s3End) completePacks(ctx context.Context) ([]string, error) {
	names, err := e.st.List(ctx, s3PackDir)
	if err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, n := range names {
		has[strings.TrimPrefix(n, s3PackDir)] = true
	}
	var out []string
	for n := range has {
		base, ok := strings.CutSuffix(n, ".idx")
		if ok && isPackName(base) && has[base+".pack"] {
			out = append(out, base)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (e *s3End) openPush(ctx context.Context) (pushSession, error) {
	idx, refs, etag, err := e.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	return &s3Push{e: e, idx: idx, refsM: refs, etag: etag}, nil
}

type s3Push struct {
	e      *s3End
	idx    *refsIndex
	refsM  map[string]objects.ID
	etag   string
	extras []string // complete packs refs.json does not list yet (an interrupted push's)
}

func (p *s3Push) refs() map[string]objects.ID { return p.refsM }
func (p *s3Push) close()                      {}

// there is every object of every complete pack in the bucket: packs are
// uploaded whole and each holds everything its push's snapshots reach
// beyond the packs before it, so the set is closed under reachability.
// Packs of an interrupted push are counted, and listed in refs.json by the
// next one.
func (p *s3Push) missing(ctx context.Context, tips []objects.ID) ([]objects.ID, error) {
	there, err := p.there(ctx)
	if err != nil {
		return nil, err
	}
	return p.e.r.objs.Missing(ctx, tips, there)
}

func (p *s3Push) there(ctx context.Context) (func(objects.ID) bool, error) {
	packs, err := p.e.completePacks(ctx)
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{}
	for _, n := range p.idx.Packs {
		listed[n] = true
	}
	set := objects.ObjectSet{}
	for _, n := range packs {
		ids, err := p.e.packIDs(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			set.Add(id)
		}
		if !listed[n] {
			p.extras = append(p.extras, n)
		}
	}
	return set.Has, nil
}

func (p *s3Push) send(ctx context.Context, updates []refChange, ids []objects.ID, prog Progress) (int64, error) {
	var sent int64
	var newPack string
	if len(ids) > 0 {
		name, n, err := p.uploadPack(ctx, ids, prog)
		if err != nil {
			return sent, err
		}
		newPack, sent = name, n
	}
	// The references last, merged into whatever refs.json holds by then.
	idx, etag := p.idx, p.etag
	for attempt := 0; ; attempt++ {
		for _, u := range updates {
			cur := objects.ZeroID
			if v, ok := idx.Refs[u.name]; ok {
				cur, _ = objects.ParseID(v)
			}
			if cur != u.old {
				return sent, fmt.Errorf("%w: %s moved on the remote while this push ran (another push of the same instance?): nothing was changed; run push again", ErrNonFastForward, u.name)
			}
		}
		next := refsIndex{Format: s3Format, Refs: map[string]string{}}
		for k, v := range idx.Refs {
			next.Refs[k] = v
		}
		for _, u := range updates {
			next.Refs[u.name] = u.new.String()
		}
		seen := map[string]bool{}
		for _, n := range append(append(append([]string{}, idx.Packs...), p.extras...), newPack) {
			if n != "" && !seen[n] {
				seen[n] = true
				next.Packs = append(next.Packs, n)
			}
		}
		data, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return sent, err
		}
		_, err = p.e.st.PutIf(ctx, s3IndexName, append(data, '\n'), etag)
		if err == nil {
			return sent + int64(len(data)), nil
		}
		if !errors.Is(err, s3.ErrChanged) || attempt >= s3CASRetries {
			return sent, err
		}
		// Someone else wrote refs.json: read it again and merge.
		var nerr error
		idx, _, etag, nerr = p.e.readIndex(ctx)
		if nerr != nil {
			return sent, nerr
		}
	}
}

// uploadPack writes the pack of ids to a temporary file, uploads it unless
// the bucket already has it (a rerun of an interrupted push), then its
// index, and returns its name and the bytes uploaded.
func (p *s3Push) uploadPack(ctx context.Context, ids []objects.ID, prog Progress) (string, int64, error) {
	dir := p.e.r.cacheFor(p.e.st.String())
	if err := os.MkdirAll(dir, objects.DirMode); err != nil {
		return "", 0, err
	}
	f, err := os.CreateTemp(dir, "tmp-pack-")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	startUnit(prog, "packing", "objects", int64(len(ids)))
	last := 0
	out, err := p.e.r.objs.WritePack(f, ids, func(n int, _ int64) {
		prog.Add(int64(n - last))
		last = n
	})
	prog.Done()
	if err != nil {
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	name := out.Name()
	var sent int64
	if size, err := p.e.st.Stat(ctx, s3PackDir+name+".pack"); err != nil || size != out.Size {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", 0, err
		}
		startBytes(prog, "uploading", out.Size)
		var done int64
		err := p.e.st.Upload(ctx, s3PackDir+name+".pack", f, out.Size, func(n int64) {
			prog.Add(n - done)
			done = n
		})
		prog.Done()
		if err != nil {
			return "", 0, err
		}
		sent += out.Size
	}
	var idx strings.Builder
	if err := out.WriteIndex(&idx); err != nil {
		return "", 0, err
	}
	if err := p.e.st.Upload(ctx, s3PackDir+name+".idx", strings.NewReader(idx.String()), int64(idx.Len()), nil); err != nil {
		return "", 0, err
	}
	sent += int64(idx.Len())
	if err := os.WriteFile(filepath.Join(dir, name+".idx"), []byte(idx.String()), objects.FileMode); err != nil {
		os.Remove(filepath.Join(dir, name+".idx"))
	}
	return name, sent, nil
}

func (e *s3End) openFetch(ctx context.Context) (fetchSession, error) {
	idx, refs, _, err := e.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	return &s3Fetch{e: e, idx: idx, refsM: refs}, nil
}

type s3Fetch struct {
	e     *s3End
	idx   *refsIndex
	refsM map[string]objects.ID
}

func (f *s3Fetch) refs() map[string]objects.ID { return f.refsM }
func (f *s3Fetch) close()                      {}

// fetch downloads each listed pack that holds an object this repository
// lacks, and stores it (indexed here, from its content). Each pack is stored
// as soon as it is complete, so an interrupted pull resumes with the packs
// it did not get.
func (f *s3Fetch) fetch(ctx context.Context, wants []objects.ID, prog Progress) (fetched, error) {
	fresh := objects.ObjectSet{}
	out := fetched{fresh: fresh.Has}
	if len(wants) == 0 {
		return out, nil
	}
	var need []string
	var total int64
	for _, name := range f.idx.Packs {
		ids, err := f.e.packIDs(ctx, name)
		if err != nil {
			return out, err
		}
		for _, id := range ids {
			if !f.e.r.objs.Has(id) {
				size, err := f.e.st.Stat(ctx, s3PackDir+name+".pack")
				if err != nil {
					return out, err
				}
				need = append(need, name)
				total += size
				break
			}
		}
	}
	startBytes(prog, "receiving", total)
	defer prog.Done()
	for _, name := range need {
		rc, n, err := f.download(ctx, name, func(d int64) { prog.Add(d) })
		out.bytes += n
		if err != nil {
			return out, err
		}
		out.objects += rc.Objects
		for id := range rc.IDs() {
			fresh.Add(id)
		}
	}
	return out, nil
}

var errStopDownload = errors.New("download no longer needed")

// download streams a pack from the bucket into the repository.
func (f *s3Fetch) download(ctx context.Context, name string, progress func(int64)) (*objects.Received, int64, error) {
	pr, pw := io.Pipe()
	var n int64
	done := make(chan error, 1)
	go func() {
		var last int64
		_, err := f.e.st.Download(ctx, s3PackDir+name+".pack", pw, func(total int64) {
			progress(total - last)
			last = total
			n = total
		})
		pw.CloseWithError(err)
		done <- err
	}()
	rc, err := f.e.r.objs.ReceivePack(pr, nil)
	pr.CloseWithError(errStopDownload)
	derr := <-done
	if derr != nil && !errors.Is(derr, errStopDownload) {
		return nil, n, derr
	}
	if err != nil {
		return nil, n, fmt.Errorf("%s%s%s.pack: %w", f.e.st, s3PackDir, name, err)
	}
	if rc.Name != name {
		return nil, n, fmt.Errorf("%w: %s%s%s.pack holds the pack %s", ErrCorrupt, f.e.st, s3PackDir, name, rc.Name)
	}
	return rc, n, nil
}
