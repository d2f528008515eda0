package snapshot

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/memory"
	"github.com/kylin-tools/metastore/objects"
	"github.com/kylin-tools/metastore/scope"
)

// changeSource walks like a Kylin 5 database (metastore.ChangeWalker): the
// Change of a resource is the SHA-256 of its content, and it counts the
// resources whose content it had to decode.
type changeSource struct {
	*memory.Store
	decoded []string
}

func (c *changeSource) Walk(ctx context.Context, prefix string, fn func(metastore.Resource, error) error) error {
	return c.WalkChanges(ctx, prefix, func(string, string) bool { return false }, fn)
}

// WalkChanges asks known on a goroutine of its own, as a database's walk
// does (it reads the rows while fn takes the resources before them).
func (c *changeSource) WalkChanges(ctx context.Context, prefix string, known func(p, change string) bool, fn func(metastore.Resource, error) error) error {
	out := make(chan metastore.Resource, 8)
	stop := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		defer close(out)
		listed <- c.Store.List(ctx, prefix, func(p string) error {
			r, err := c.Store.Read(ctx, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(r.Data)
			r.Change = string(sum[:])
			if known(p, r.Change) {
				r = metastore.Resource{Path: p, Timestamp: r.Timestamp, Change: r.Change, Unread: true}
			}
			select {
			case out <- r:
				return nil
			case <-stop:
				return context.Canceled
			}
		})
	}()
	var err error
	for r := range out {
		if err != nil {
			continue
		}
		if !r.Unread {
			c.decoded = append(c.decoded, r.Path)
		}
		if err = fn(r, nil); err != nil {
			close(stop)
		}
	}
	if lerr := <-listed; err == nil {
		err = lerr
	}
	return err
}

// TestBackupLeavesKnownRowsUnread checks backups of a ChangeWalker: the
// first decodes every resource; the next decode only the resources whose
// content changed (even to content of the same size) or is new, and /UUID,
// and still hold exactly the source's resources and timestamps. A change
// cache whose blobs the repository does not have (copied from another
// repository) leaves nothing unread.
func TestBackupLeavesKnownRowsUnread(t *testing.T) {
	ctx := context.Background()
	m, all := seeded(t)
	src := &changeSource{Store: m}
	r := newRepo(t)
	opt := BackupOptions{Scope: scope.SystemScope(), Source: "jdbc:postgresql://db/kylin"}
	backupOf := func(r *Repository) *BackupResult {
		t.Helper()
		src.decoded = nil
		res, err := r.Backup(ctx, src, opt)
		if err != nil {
			t.Fatal(err)
		}
		sameResources(t, dump(t, r.OpenInfo(res.Snapshot)), dump(t, m))
		if got := len(dump(t, r.OpenInfo(res.Snapshot))); got != len(dump(t, m)) {
			t.Errorf("snapshot holds %d resources, the source %d", got, len(dump(t, m)))
		}
		return res
	}
	if res := backupOf(r); len(src.decoded) != len(all) || res.Unread != 0 {
		t.Fatalf("first backup decoded %d of %d resources, %d unread", len(src.decoded), len(all), res.Unread)
	}
	if res := backupOf(r); len(src.decoded) != 1 || src.decoded[0] != "/UUID" || res.Unread != len(all)-1 {
		t.Fatalf("unchanged backup decoded %q, %d unread; want only /UUID", src.decoded, res.Unread)
	}

	changed := "/project/default.json"
	old, err := m.Read(ctx, changed)
	if err != nil {
		t.Fatal(err)
	}
	data := append([]byte(nil), old.Data...)
	data[len(data)/2] ^= 1 // same size, other content
	m.Write(ctx, metastore.Resource{Path: changed, Data: data, Timestamp: old.Timestamp})
	m.Write(ctx, metastore.Resource{Path: "/execute/new-job", Data: []byte(`{"uuid":"new-job"}`), Timestamp: 9})
	retimed := "/table/DEFAULT.TEST_KYLIN_FACT.json"
	rt, err := m.Read(ctx, retimed)
	if err != nil {
		t.Fatal(err)
	}
	m.Write(ctx, metastore.Resource{Path: retimed, Data: rt.Data, Timestamp: rt.Timestamp + 1000})
	res := backupOf(r)
	want := map[string]bool{"/UUID": true, changed: true, "/execute/new-job": true}
	for _, p := range src.decoded {
		if !want[p] {
			t.Errorf("backup after a change decoded %s", p)
		}
		delete(want, p)
	}
	if len(want) != 0 {
		t.Errorf("backup after a change did not decode %v", want)
	}
	if res.Unread != len(all)-2 {
		t.Errorf("%d unread, want %d", res.Unread, len(all)-2)
	}

	// The cache of r in another repository: its blobs are not there.
	other := newRepo(t)
	name := cacheName(opt.Source)
	cache, err := os.ReadFile(filepath.Join(r.Path(), cacheDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(other.Path(), cacheDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other.Path(), cacheDir, name), cache, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := backupOf(other); len(src.decoded) != len(all)+1 || res.Unread != 0 {
		t.Errorf("backup with another repository's cache decoded %d of %d resources, %d unread", len(src.decoded), len(all)+1, res.Unread)
	}
}

// TestCacheOfScopedBackupNotTrusted checks that the change cache a scoped
// backup saves, which keeps the last full backup's entries beside its own,
// is not trusted to name blobs: once every full backup is forgotten and
// pruned, the next full backup reads what it needs again and records a
// complete snapshot (it took the pruned blobs from the cache unread, for a
// database and for a folder alike).
func TestCacheOfScopedBackupNotTrusted(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		src  func(t *testing.T) metastore.Source
	}{
		{"database", func(t *testing.T) metastore.Source { m, _ := seeded(t); return &changeSource{Store: m} }},
		{"folder", func(t *testing.T) metastore.Source {
			s, _ := seededFolder(t)
			// Files changed less than two seconds before a listing get
			// no fingerprint (their change time is now).
			time.Sleep(2100 * time.Millisecond)
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.src(t)
			r := newRepo(t)
			opt := BackupOptions{Scope: scope.SystemScope(), Source: "kylin"}
			if _, err := r.Backup(ctx, src, opt); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Backup(ctx, src, BackupOptions{Scope: scope.ProjectScope("default"), Source: "kylin"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Forget(ctx, ForgetOptions{Policy: Policy{Tags: []string{"none"}}, Scope: scope.SystemScope(), HasScope: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Prune(ctx, PruneOptions{}); err != nil {
				t.Fatal(err)
			}
			res, err := r.Backup(ctx, src, opt)
			if err != nil {
				t.Fatal(err)
			}
			sameResources(t, dump(t, r.OpenInfo(res.Snapshot)), dump(t, src))
			v, err := r.Verify(ctx, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Problems) != 0 {
				t.Errorf("verify after the backup: %v", v.Problems)
			}
		})
	}
}

// TestUnchangedWalkKeepsCache checks that unchanged backups of a Walker
// whose resources have no fingerprint (Kylin 4.x rows, a snapshot) do not
// write the change cache again: the cache of the first backup, empty and
// trusted, stays, though the walk's stream started at once.
func TestUnchangedWalkKeepsCache(t *testing.T) {
	ctx := context.Background()
	m, _ := seeded(t)
	src := &walkingSource{Store: m}
	r := newRepo(t)
	opt := BackupOptions{Scope: scope.SystemScope(), Source: "kylin4-db"}
	first, err := r.Backup(ctx, src, opt)
	if err != nil {
		t.Fatal(err)
	}
	path := r.cachePath(opt.Source)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := r.Backup(ctx, src, opt)
		if err != nil {
			t.Fatal(err)
		}
		sameResources(t, dump(t, r.OpenInfo(res.Snapshot)), dump(t, m))
	}
	entries, commit := loadCacheFile(path)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if commit != objects.ID(first.Snapshot.ID) || entries.len() != 0 || !after.ModTime().Equal(fi.ModTime()) {
		t.Errorf("cache after unchanged backups: %d entries, saved with %v (modified %v); want the first backup's, %v, untouched", entries.len(), commit, !after.ModTime().Equal(fi.ModTime()), first.Snapshot.ID)
	}
}
