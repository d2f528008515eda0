package main

// Helpers of the reliability tests (crash_test.go, concurrency_test.go,
// diskfull_test.go, security_test.go): they run the CLI as real, separate
// processes (the copy of the test binary that testscript.Main puts on PATH
// as "metastore"), generate metastores, and check repositories and folder
// metastores from the outside. RELIABILITY.md lists the figures.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/metastore"
	"github.com/kylin-tools/metastore/metastore/folder"
	"github.com/kylin-tools/metastore/metastore/metastoretest"
	"github.com/kylin-tools/metastore/scope"
	"github.com/kylin-tools/metastore/snapshot"
)

// longRuns is how many times the crash and concurrency tests repeat their
// rounds: METASTORE_RELIABILITY_ROUNDS (1 by default; RELIABILITY.md's
// figures use more).
func longRuns(t *testing.T) int { return envInt(t, "METASTORE_RELIABILITY_ROUNDS", 1, 1) }

// envInt returns the number the environment variable name holds, at least
// least; def if it is not set.
func envInt(t *testing.T, name string, def, least int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		t.Fatalf("%s=%q: want a number of at least %d", name, v, least)
	}
	return n
}

// proc runs the metastore command line as separate processes.
type proc struct {
	t    *testing.T
	path string   // the executable
	env  []string // added to the environment
}

// rig is the setting of most reliability tests: the command line run as
// separate processes, and in a fresh folder the paths of a folder metastore
// (meta) and of a repository (repo), neither made yet.
type rig struct {
	*proc
	dir, meta, repo string
}

func newRig(t *testing.T, env ...string) rig {
	t.Helper()
	dir := t.TempDir()
	return rig{proc: newCLI(t, env...), dir: dir, meta: filepath.Join(dir, "meta"), repo: filepath.Join(dir, "snap.git")}
}

// withSample copies the sample metastore into c.meta and returns the
// global arguments that name it and the repository (with -q).
func (c rig) withSample(t *testing.T) []string {
	copySample(t, c.meta, 0)
	return []string{"-q", "--metadata-url", c.meta, "--repo", c.repo}
}

func newCLI(t *testing.T, env ...string) *proc {
	t.Helper()
	p, err := exec.LookPath("metastore")
	if err != nil {
		t.Fatalf("metastore is not on PATH (TestMain puts it there): %v", err)
	}
	return &proc{t: t, path: p, env: append([]string{"USER=admin", "METASTORE_USER=admin", "TZ=UTC"}, env...)}
}

// command returns the command for args, not started.
func (c *proc) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.path, args...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

// result is what a finished process printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the command line to the end.
func (c *proc) run(args ...string) result {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("run metastore %q: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustRun runs the command line and fails the test unless it exits 0.
func (c *proc) mustRun(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("metastore %q: %s", args, r)
	}
	return r
}

// killed is how a process the test killed ended.
type killed struct {
	// Finished is true when the process exited by itself before the kill.
	Finished bool
	// Code is its exit code when Finished.
	Code           int
	Stdout, Stderr string
}

// killAfter starts the command line and sends it SIGKILL after d (at once
// when d is 0). If trigger is not nil, the kill comes when trigger returns
// instead (it is polled, and d bounds the wait).
func (c *proc) killAfter(d time.Duration, trigger func() bool, args ...string) killed {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start metastore %q: %v", args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	finished := false
	if trigger != nil {
		deadline := time.Now().Add(d)
	poll:
		for time.Now().Before(deadline) && !trigger() {
			select {
			case err = <-done:
				finished = true
				break poll
			default:
				time.Sleep(200 * time.Microsecond)
			}
		}
	} else if d > 0 {
		select {
		case err = <-done:
			finished = true
		case <-time.After(d):
		}
	}
	if !finished {
		_ = cmd.Process.Kill() // SIGKILL: no deferred function, no cleanup runs
		err = <-done
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			finished = true // it exited by itself just before the kill
		}
	}
	k := killed{Finished: finished, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		k.Code = ee.ExitCode()
	}
	return k
}

// killPoints spreads n kill delays over a run of duration d: three right at
// the start, one past the end, the rest evenly over the run.
func killPoints(d time.Duration, n int) []time.Duration {
	pts := []time.Duration{0, time.Millisecond, 5 * time.Millisecond}
	pts = append(pts, spread(0, d, n-len(pts)-1)...)
	return append(pts, d+d/10)
}

// spread returns n delays evenly inside (from, to).
func spread(from, to time.Duration, n int) []time.Duration {
	var out []time.Duration
	for i := 1; i <= n; i++ {
		out = append(out, from+(to-from)*time.Duration(i)/time.Duration(n+1))
	}
	return out
}

// version is one resource of a folder metastore: its bytes and timestamp.
type version struct {
	data string
	ts   int64
}

// state is a folder metastore's resources by key.
type state map[string]version

// genMetastore writes a synthetic metastore of n resources into dir, with
// Kylin's folders and a size mix like a real one's (mostly small JSON, a
// tail of larger dictionaries and job outputs, some incompressible bytes),
// and returns it. 1,000 resources make about 4 MB.
func genMetastore(t testing.TB, dir string, n int, seed uint64) state {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	st := state{}
	put := func(key string, size int) {
		st[key] = version{data: content(rng, key, size), ts: 1700000000000 + int64(len(st))*1000}
	}
	put("/UUID", 0)
	for i := 0; i < 3; i++ {
		put(fmt.Sprintf("/project/p%d.json", i), 800)
	}
	kinds := []struct {
		dir      string
		min, max int
	}{
		{"/cube", 500, 6000}, {"/cube_desc", 1000, 9000}, {"/model_desc", 800, 4000},
		{"/table", 400, 3000}, {"/table_exd", 200, 1500}, {"/dict", 1000, 20000}, {"/dict", 200, 2000},
		{"/table_snapshot", 500, 10000}, {"/execute", 1000, 8000}, {"/execute", 1000, 4000},
		{"/execute_output", 200, 2000}, {"/execute_output", 300, 8000},
	}
	for i := 0; len(st) < n; i++ {
		k := kinds[rng.IntN(len(kinds))]
		size := k.min + rng.IntN(k.max-k.min)
		var key string
		switch k.dir {
		case "/dict", "/table_snapshot":
			key = fmt.Sprintf("%s/DB.T%02d/COL%d/%016x.dict", k.dir, rng.IntN(20), rng.IntN(8), rng.Uint64())
		case "/execute", "/execute_output":
			key = fmt.Sprintf("%s/%016x-%04x", k.dir, rng.Uint64(), rng.IntN(1<<16))
		default:
			key = fmt.Sprintf("%s/n%05d.json", k.dir, i)
		}
		put(key, size)
	}
	writeState(t, dir, st, nil)
	return st
}

// content returns size bytes for a resource: JSON-like text with random
// words, or, for dictionaries, half random bytes.
func content(rng *rand.Rand, key string, size int) string {
	if key == "/UUID" {
		u := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16), rng.Uint64()&(1<<48-1))
		return "\x00\x24" + u
	}
	var b strings.Builder
	b.WriteString(`{"name":"` + key + `","uuid":"` + strconv.FormatUint(rng.Uint64(), 16) + `","values":[`)
	words := []string{"LINEORDER", "CUSTOMER", "READY", "SUCCEED", "segment", "dictionary", "cuboid", "2024-01-01", "kylin"}
	binary := strings.HasPrefix(key, "/dict/")
	for b.Len() < size {
		if binary && rng.IntN(4) == 0 {
			for i := 0; i < 64; i++ {
				b.WriteByte(byte(rng.Uint32()))
			}
			continue
		}
		fmt.Fprintf(&b, `"%s-%d",`, words[rng.IntN(len(words))], rng.IntN(100000))
	}
	b.WriteString(`null]}`)
	return b.String()
}

// churn changes a fraction of the resources of st (rewritten with new
// content and a later timestamp), deletes a few and adds a few, and returns
// the new state. dir, if not empty, is updated to match.
func churn(t testing.TB, dir string, st state, rng *rand.Rand, fraction float64) state {
	t.Helper()
	next := state{}
	keys := st.keys()
	var maxTS int64
	for _, v := range st {
		maxTS = max(maxTS, v.ts)
	}
	var gone []string
	for _, k := range keys {
		v := st[k]
		switch r := rng.Float64(); {
		case k == "/UUID" || strings.HasPrefix(k, "/project/"):
		case r < fraction*0.1:
			gone = append(gone, k)
			continue
		case r < fraction:
			maxTS++
			v = version{data: content(rng, k, len(v.data)+rng.IntN(200)-100), ts: maxTS + 1000}
		}
		next[k] = v
	}
	for i := 0; i < int(float64(len(st))*fraction*0.1); i++ {
		maxTS++
		k := fmt.Sprintf("/execute/%016x-new", rng.Uint64())
		next[k] = version{data: content(rng, k, 500+rng.IntN(5000)), ts: maxTS + 1000}
	}
	if dir != "" {
		writeState(t, dir, next, st)
		for _, k := range gone {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return next
}

func (st state) keys() []string {
	out := make([]string, 0, len(st))
	for k := range st {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeState writes the resources of st that differ from old (all of them
// when old is nil) as files of dir, with their timestamps as mtimes.
func writeState(t testing.TB, dir string, st, old state) {
	t.Helper()
	for k, v := range st {
		if o, ok := old[k]; ok && o == v {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		metastoretest.WriteFile(t, p, []byte(v.data), 0o644)
		mt := time.UnixMilli(v.ts)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// resetFolder makes dir hold exactly st: it rewrites what differs and
// removes resource files st lacks (temporary files of writes are left).
func resetFolder(t testing.TB, dir string, st state) {
	t.Helper()
	cur := readFolder(t, dir)
	for k := range cur {
		if _, ok := st[k]; !ok {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeState(t, dir, st, cur)
}

// readFolder reads a folder metastore through its Store, as a backup would.
// versionsOf counts the resources of got as they are in state a, or as in
// state b (those the same in both tell nothing), and lists those that are
// neither, in key order.
func versionsOf(got, a, b state) (fromA, fromB int, neither []string) {
	for key, v := range got {
		va, inA := a[key]
		vb, inB := b[key]
		switch {
		case inA && inB && va == vb && v == va:
		case inA && v == va:
			fromA++
		case inB && v == vb:
			fromB++
		default:
			neither = append(neither, key)
		}
	}
	sort.Strings(neither)
	return fromA, fromB, neither
}

func readFolder(t testing.TB, dir string) state {
	t.Helper()
	s, err := folder.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := readSource(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readSource reads every resource of src (in one pass when src can walk).
func readSource(ctx context.Context, src metastore.Source) (state, error) {
	st := state{}
	if w, ok := src.(metastore.Walker); ok {
		err := w.Walk(ctx, "/", func(r metastore.Resource, err error) error {
			if err != nil {
				return err
			}
			st[r.Path] = version{string(r.Data), r.Timestamp}
			return nil
		})
		return st, err
	}
	err := src.List(ctx, "/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err != nil {
			return err
		}
		st[p] = version{string(r.Data), r.Timestamp}
		return nil
	})
	return st, err
}

// diffStates describes how got differs from want (at most a few lines).
func diffStates(got, want state) string {
	var out []string
	for _, k := range want.keys() {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, "missing "+k)
		case g.data != want[k].data:
			out = append(out, fmt.Sprintf("%s: %d bytes differ from the %d wanted", k, len(g.data), len(want[k].data)))
		case g.ts != want[k].ts:
			out = append(out, fmt.Sprintf("%s: timestamp %d, want %d", k, g.ts, want[k].ts))
		}
	}
	for _, k := range got.keys() {
		if _, ok := want[k]; !ok {
			out = append(out, "unexpected "+k)
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("... and %d more", len(out)-8))
	}
	return strings.Join(out, "\n")
}

// repoCheck is what checkRepository found in a repository.
type repoCheck struct {
	refs      map[string]snapshot.ID // branch or tag -> snapshot
	snapshots []snapshot.Info
}

// checkRepository opens the repository at path in this process and checks
// what the crash tests promise: Verify finds no problem (with readData,
// every blob of the newest snapshot of each branch is re-hashed too; the
// whole history is checked structurally), and every snapshot in the log
// holds the number of resources its record says (Verify checks that too).
// A repository that was never created is fine (nothing to check).
func checkRepository(t *testing.T, path string, readData bool) repoCheck {
	t.Helper()
	ctx := context.Background()
	var rc repoCheck
	r, err := snapshot.Open(path, snapshot.Options{User: "check", Host: "test"})
	if errors.Is(err, snapshot.ErrNoRepository) {
		return rc
	}
	if err != nil {
		t.Fatalf("open repository: %v", err)
	}
	defer r.Close()
	res, err := r.Verify(ctx, snapshot.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("verify found %d problems, first: %s", len(res.Problems), res.Problems[0])
	}
	rc.snapshots, err = r.Log(ctx, snapshot.LogFilter{})
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	rc.refs = map[string]snapshot.ID{}
	err = filepath.WalkDir(filepath.Join(path, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		in, err := r.Resolve(ctx, strings.TrimSpace(string(data)), scope.SystemScope())
		if err != nil {
			return fmt.Errorf("reference %s: %w", rel, err)
		}
		rc.refs[filepath.ToSlash(rel)] = in.ID
		if readData {
			v, err := r.Verify(ctx, snapshot.VerifyOptions{Refs: []string{in.ID.String()}, ReadData: true})
			if err != nil || len(v.Problems) > 0 {
				return fmt.Errorf("verify --read-data %s (%s): %v %v", in.ID.Short(), rel, err, v.Problems)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// snapshotState reads a snapshot's resources.
func snapshotState(t *testing.T, repoPath string, id snapshot.ID) state {
	t.Helper()
	r, err := snapshot.Open(repoPath, snapshot.Options{User: "check", Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in, err := r.Resolve(context.Background(), id.String(), scope.SystemScope())
	if err != nil {
		t.Fatal(err)
	}
	st, err := readSource(context.Background(), r.OpenInfo(in))
	if err != nil {
		t.Fatalf("read snapshot %s: %v", id.Short(), err)
	}
	return st
}

// looseFiles lists what is in dir besides resources: temporary files of
// writes, which a listing skips.
func looseFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".metastore-tmp-") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyDir copies the files and folders of src into dst, keeping modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(out, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// loadSampleJSON writes the JSON resources of the sample metastore (copied
// to dir first) into a database store, in one transaction.
func loadSampleJSON(t *testing.T, st metastore.Store, dir string) {
	t.Helper()
	tx, err := st.(metastore.Transactional).Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range jsonOnly(copySample(t, dir, 0)) {
		if err := tx.Write(context.Background(), metastore.Resource{Path: k, Data: []byte(v.data), Timestamp: v.ts}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}
