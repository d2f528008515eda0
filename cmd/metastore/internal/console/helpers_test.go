package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/locate"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// fixture is a console over a copy of the bundled learn_kylin sample (two
// projects, three cubes) and a repository in a temporary folder.
type fixture struct {
	t     *testing.T
	meta  string // the live metastore folder
	repo  string // the repository path
	env   *api.Env
	con   *Console
	srv   *httptest.Server
	clock time.Time
}

// newFixture serves a console set up by cfg (Env, Repository and Context
// are filled in).
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, meta: filepath.Join(dir, "meta"), repo: filepath.Join(dir, "snapshots.git")}
	if err := os.CopyFS(f.meta, os.DirFS(filepath.Join("..", "..", "..", "..", "examples", "learn_kylin"))); err != nil {
		t.Fatal(err)
	}
	opts := func() snapshot.Options { return snapshot.Options{User: "console-test", Host: "test"} }
	f.env = &api.Env{
		OpenRepo: func(explicit string, create bool) (*snapshot.Repository, bool, error) {
			if explicit != "" {
				return nil, false, api.Usagef("no explicit repository in tests")
			}
			if create {
				return snapshot.OpenOrCreate(f.repo, opts())
			}
			r, err := snapshot.Open(f.repo, opts())
			return r, false, err
		},
		OpenMetastore: func(ctx context.Context, create bool, schema string) (metastore.Store, string, error) {
			st, err := locate.OpenWith(ctx, f.meta, locate.Options{Create: create, CreateSchema: schema})
			if err != nil {
				return nil, "", err
			}
			return st, metastore.Describe(st), nil
		},
		MaskedURL:   func() string { return f.meta },
		RepoOptions: opts,
		CheckSeparate: func(explicit string, folders ...string) error {
			for _, d := range append(folders, f.meta) {
				if err := snapshot.CheckSeparate(f.repo, d); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cfg.Env, cfg.Repository = f.env, f.repo
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Context = ctx
	if cfg.Log == nil {
		cfg.Log = testLog{t}
	}
	con, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.con = con
	f.srv = httptest.NewServer(con)
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		con.Wait()
	})
	return f
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// backup records a snapshot of scope s as the CLI would, and returns it.
func (f *fixture) backup(s string) snapshot.Info {
	f.t.Helper()
	sc := mustScope(f.t, s)
	b, err := f.env.Backup(context.Background(), api.BackupRequest{Scope: sc}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Result.Snapshot
}

// resolve finds a snapshot by reference in the fixture's repository.
func (f *fixture) resolve(ref string) snapshot.Info {
	f.t.Helper()
	repo, _, err := f.env.OpenRepo("", false)
	if err != nil {
		f.t.Fatal(err)
	}
	defer repo.Close()
	snap, err := repo.Open(context.Background(), ref)
	if err != nil {
		f.t.Fatalf("resolve %s: %v", ref, err)
	}
	return snap.Info
}

// do sends a request to the console; header is pairs of names and values.
func (f *fixture) do(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, string(b)
}

// get is do for a GET that must answer 200.
func (f *fixture) get(path string, header ...string) string {
	f.t.Helper()
	resp, body := f.do("GET", path, nil, header...)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return body
}

func decodeJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
}

func mustScope(t *testing.T, s string) scope.Scope {
	t.Helper()
	sc, err := scope.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
