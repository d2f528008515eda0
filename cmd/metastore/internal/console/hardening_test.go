package console

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// errFull is the write failure failingStore injects.
var errFull = errors.New("no space left on device (test)")

// failingStore is a metastore whose writes fail after the first one: a
// restore that fails half-way, after its safety snapshot.
type failingStore struct {
	metastore.Store
	writes *atomic.Int32
}

func (s failingStore) Write(ctx context.Context, r metastore.Resource) error {
	if s.writes.Add(1) > 1 {
		return errFull
	}
	return s.Store.Write(ctx, r)
}

// TestFailedRestore: a restore from the console that fails while writing
// answers what the command line prints for it: /api/v1/restore the --json
// error with the safety snapshot and the undo command in their own fields
// (exit code 1), the page's dialog the error, the safety snapshot and the
// undo command apart; and that command's restore puts the metastore back
// as it was before the failed restore.
func TestFailedRestore(t *testing.T) {
	f := newFixture(t, Config{AllowRestore: true})
	snap := f.backup("project/learn_kylin")
	changed := map[string]string{}
	for _, p := range []string{"cube/kylin_sales_cube.json", "cube_desc/kylin_sales_cube.json", "model_desc/kylin_sales_model.json"} {
		full := filepath.Join(f.meta, p)
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		changed[full] = strings.Replace(string(data), "{", `{"changed": true, `, 1)
	}
	reset := func() {
		for p, data := range changed {
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(what string) {
		t.Helper()
		for p, data := range changed {
			if now, _ := os.ReadFile(p); string(now) != data {
				t.Errorf("%s: %s is not as before the failed restore", what, p)
			}
		}
	}
	open := f.env.OpenMetastore
	var writes atomic.Int32
	f.env.OpenMetastore = func(ctx context.Context, create bool, schema string) (metastore.Store, string, error) {
		st, desc, err := open(ctx, create, schema)
		if err != nil || !create {
			return st, desc, err // a dry run writes nothing
		}
		return failingStore{st, &writes}, desc, nil
	}
	q := "kind=project&project=learn_kylin&after_truncate=1&ref=" + snap.ID.Short()
	reset()

	// The API: the CLI's --json error document.
	resp, body := f.do("POST", "/api/v1/restore", strings.NewReader(q), "Sec-Fetch-Site", "same-origin")
	var doc api.ErrorJSON
	decodeJSON(t, body, &doc)
	if resp.StatusCode != http.StatusInternalServerError || doc.ExitCode != api.ExitFailure || !strings.Contains(doc.Error, errFull.Error()) {
		t.Fatalf("POST /api/v1/restore failing half-way: %s %s", resp.Status, body)
	}
	if doc.Safety == nil || doc.Safety.Kind != string(snapshot.KindSafety) || f.resolve(doc.Safety.ID).Kind != snapshot.KindSafety {
		t.Fatalf("the error document lacks the safety snapshot:\n%s", body)
	}
	wantUndo := "metastore restore-project learn_kylin " + doc.Safety.Short + " --after-truncate"
	if doc.Undo != wantUndo || !strings.HasSuffix(doc.Error, "; undo with: "+wantUndo) {
		t.Errorf("undo %q, error %q; want the undo command %q in both", doc.Undo, doc.Error, wantUndo)
	}
	// The undo command's restore puts back what was there.
	f.env.OpenMetastore = open
	if _, err := f.env.Restore(context.Background(), api.RestoreRequest{Kind: scope.Project, Name: "learn_kylin",
		Ref: doc.Safety.Short, AfterTruncate: true}, nil); err != nil {
		t.Fatal(err)
	}
	check("the undo after the API's failed restore")

	// The page: confirm, restore, and the dialog after.
	writes.Store(0)
	f.env.OpenMetastore = func(ctx context.Context, create bool, schema string) (metastore.Store, string, error) {
		st, desc, err := open(ctx, create, schema)
		if err != nil || !create {
			return st, desc, err
		}
		return failingStore{st, &writes}, desc, nil
	}
	confirm := f.get("/restore/confirm?"+q, "HX-Request", "true")
	digest := regexp.MustCompile(`name="digest" value="([0-9a-f]+)"`).FindStringSubmatch(confirm)
	if digest == nil {
		t.Fatalf("no digest in the confirmation:\n%s", confirm)
	}
	resp, body = f.do("POST", "/restore", strings.NewReader(q+"&digest="+digest[1]), "Sec-Fetch-Site", "same-origin", "HX-Request", "true")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /restore: %s %s", resp.Status, body)
	}
	m := regexp.MustCompile(`/jobs/([0-9a-f]+)/events`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no event stream in:\n%s", body)
	}
	done := f.events("/jobs/" + m[1] + "/events")["done"]
	if len(done) != 1 {
		t.Fatalf("restore job events: %v", done)
	}
	safety := regexp.MustCompile(`data-field="safety">([0-9a-f]{12})<`).FindStringSubmatch(done[0])
	if safety == nil || f.resolve(safety[1]).Kind != snapshot.KindSafety {
		t.Fatalf("the failed restore's dialog does not name its safety snapshot:\n%s", done[0])
	}
	undo := "metastore restore-project learn_kylin " + safety[1] + " --after-truncate"
	if !strings.Contains(done[0], `data-field="command">`+undo+`<`) || !strings.Contains(done[0], errFull.Error()) {
		t.Errorf("the failed restore's dialog lacks the error or the undo command %q:\n%s", undo, done[0])
	}
	f.env.OpenMetastore = open
	if _, err := f.env.Restore(context.Background(), api.RestoreRequest{Kind: scope.Project, Name: "learn_kylin",
		Ref: safety[1], AfterTruncate: true}, nil); err != nil {
		t.Fatal(err)
	}
	check("the undo after the page's failed restore")
}

// TestImportedSnapshotPage: a snapshot imported from a Kylin backup folder
// (by the command line) shows the folder and the time in its name apart
// from the snapshot's time, as show does, and /api/v1/log gives it as
// folder_time, as log --json does.
func TestImportedSnapshotPage(t *testing.T) {
	f := newFixture(t, Config{})
	f.backup("system")
	dir := filepath.Join(t.TempDir(), "meta_2024_03_02_12_00_00")
	if err := os.CopyFS(dir, os.DirFS(f.meta)); err != nil {
		t.Fatal(err)
	}
	src, err := folder.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, _, err := f.env.OpenRepo("", false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := repo.Import(context.Background(), src, snapshot.ImportOptions{Path: dir})
	repo.Close()
	if err != nil {
		t.Fatal(err)
	}
	page := f.get("/snapshots/" + res.Snapshot.ID.String())
	if !strings.Contains(page, "Kylin backup folder "+dir) || !strings.Contains(page, "folder time 2024-03-02 12:00:00 (folder name, zone unknown)") {
		t.Errorf("the imported snapshot's page lacks the folder or its name's time:\n%s", page)
	}
	if log := f.get("/api/v1/log"); !strings.Contains(log, `"folder_time": "2024-03-02T12:00:00"`) {
		t.Errorf("/api/v1/log lacks folder_time:\n%s", log)
	}
}
