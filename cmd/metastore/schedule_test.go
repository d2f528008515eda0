package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
	"github.com/kylin-tools/metastore/objects"
)

// lockedBuffer is a bytes.Buffer for several goroutines (serve's stderr:
// the console's, the scheduler's and the lock's messages).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// scheduledServe runs serve in-process with o's schedule on a copy of the
// sample and a fresh repository; runs receives each run as it ends.
type scheduledServe struct {
	t      *testing.T
	meta   string
	repo   string
	url    string
	stderr *lockedBuffer
	runs   chan schedule.Run
	getenv func(string) string
}

func startScheduledServe(t *testing.T, o scheduleOptions) *scheduledServe {
	t.Helper()
	dir := t.TempDir()
	s := &scheduledServe{t: t, meta: filepath.Join(dir, "meta"), repo: filepath.Join(dir, "snap.git"), stderr: &lockedBuffer{},
		runs: make(chan schedule.Run, 16), getenv: func(k string) string { return map[string]string{"USER": "admin", "TZ": "UTC"}[k] }}
	copySample(t, s.meta, 0)
	o.onRun = func(r schedule.Run) { s.runs <- r }
	e := &env{stdout: &lockedBuffer{}, stderr: s.stderr, getenv: s.getenv, metadataURL: s.meta, repo: s.repo}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.serve(ctx, serveOptions{listen: "127.0.0.1:0", schedule: o}, func(u string) { ready <- u })
	}()
	select {
	case s.url = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, s.stderr)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		t.Logf("serve's stderr:\n%s", s.stderr)
	})
	return s
}

// run waits for the next run to end.
func (s *scheduledServe) run(timeout time.Duration) schedule.Run {
	s.t.Helper()
	select {
	case r := <-s.runs:
		return r
	case <-time.After(timeout):
		s.t.Fatalf("no scheduled run ended within %s; stderr:\n%s", timeout, s.stderr)
	}
	return schedule.Run{}
}

// log is metastore --json log: the repository's snapshots, newest first.
func (s *scheduledServe) log() []struct{ Scope, Message string } {
	s.t.Helper()
	var out, errb bytes.Buffer
	if code := Main([]string{"metastore", "--repo", s.repo, "--json", "log"}, &out, &errb, s.getenv); code != 0 {
		s.t.Fatalf("log: exit %d: %s", code, errb.String())
	}
	var list []struct{ Scope, Message string }
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		s.t.Fatal(err)
	}
	return list
}

func (s *scheduledServe) status() schedule.Status {
	s.t.Helper()
	resp, err := http.Get(s.url + "api/v1/schedule")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st schedule.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func runSteps(r schedule.Run) string {
	var b []string
	for _, s := range r.Steps {
		b = append(b, s.Step+"="+s.Result)
	}
	return strings.Join(b, " ")
}

// TestScheduleRealTime is the one test on the real clock: serve with
// --schedule "@every 1s" for about two seconds takes a real backup of the
// system and of a project, then finds nothing changed and records nothing.
func TestScheduleRealTime(t *testing.T) {
	s := startScheduledServe(t, scheduleOptions{spec: "@every 1s", scopes: []string{"project/default"}})
	first := s.run(time.Minute)
	second := s.run(time.Minute)
	if first.Result != schedule.RunOK || runSteps(first) != "backup system=done backup project/default=done" {
		t.Fatalf("first run: %s %s %s", first.Result, runSteps(first), first.Error)
	}
	if second.Result != schedule.RunUnchanged || runSteps(second) != "backup system=skipped backup project/default=skipped" {
		t.Fatalf("second run: %s %s %s", second.Result, runSteps(second), second.Error)
	}
	// Runs start on the second; on a busy machine a backup may outlast the
	// second, and the ticks it overlaps are skipped.
	d := second.Started.Sub(first.Started)
	whole := d.Round(time.Second)
	if whole < time.Second || (d-whole).Abs() > 400*time.Millisecond {
		t.Errorf("runs %s apart, want a whole number of seconds", d)
	}
	list := s.log()
	if len(list) != 2 || list[0].Scope != "project/default" || list[1].Scope != "system" ||
		list[1].Message != "scheduled backup of system (@every 1s)" {
		t.Fatalf("snapshots: %+v, want one project and one system snapshot, by schedule", list)
	}
	if st := s.status(); !st.Enabled || st.Runs < 2 || st.Next == nil || st.Last == nil || st.Overlapped < int(whole/time.Second)-1 {
		t.Fatalf("GET /api/v1/schedule: %+v (runs %s apart)", st, d)
	}
	if !strings.Contains(s.stderr.String(), `msg="scheduled run" component=schedule run=2 result=unchanged`) {
		t.Errorf("no structured line for the unchanged run on stderr")
	}
}

// scheduledOnFakeClock starts serve on a fake clock with spec.
func scheduledOnFakeClock(t *testing.T, spec string, scopes ...string) (*scheduledServe, *clockwork.FakeClock) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC))
	s := startScheduledServe(t, scheduleOptions{spec: spec, scopes: scopes, clock: clk, local: time.UTC})
	return s, clk
}

// advanceSchedule moves the fake clock to the next run.
func advanceSchedule(t *testing.T, clk *clockwork.FakeClock, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the scheduler does not wait on the clock: %v", err)
	}
	clk.Advance(d)
}

// TestScheduleSkipsUnchanged: on the fake clock, with real backups through
// serve's wiring: the first midnight records, the next finds nothing
// changed and records nothing, and a changed resource is recorded at the
// next midnight.
func TestScheduleSkipsUnchanged(t *testing.T) {
	s, clk := scheduledOnFakeClock(t, "@daily")
	advanceSchedule(t, clk, time.Minute)
	if r := s.run(time.Minute); r.Result != schedule.RunOK || !r.Started.Equal(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("first midnight: %+v", r)
	}
	advanceSchedule(t, clk, 24*time.Hour)
	if r := s.run(time.Minute); r.Result != schedule.RunUnchanged || !strings.HasPrefix(r.Steps[0].Detail, "unchanged since snapshot ") {
		t.Fatalf("second midnight: %+v", r)
	}
	p := filepath.Join(s.meta, "project", "default.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.Replace(data, []byte(`"default"`), []byte(`"default" `), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	advanceSchedule(t, clk, 24*time.Hour)
	if r := s.run(time.Minute); r.Result != schedule.RunOK {
		t.Fatalf("third midnight, after a change: %+v", r)
	}
	if list := s.log(); len(list) != 2 {
		t.Fatalf("%d snapshots, want 2 (the unchanged midnight recorded none)", len(list))
	}
}

// TestScheduleSharesTheLock: a scheduled backup takes the repository lock
// as every writer does: while another process holds it, the scheduled run
// waits (and says so), and a backup asked from the console meanwhile waits
// too; both finish once the lock is free, one after the other.
func TestScheduleSharesTheLock(t *testing.T) {
	s, clk := scheduledOnFakeClock(t, "@daily")
	advanceSchedule(t, clk, time.Minute)
	s.run(time.Minute) // the repository exists now
	objs, err := objects.Open(s.repo)
	if err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	unlock, err := objs.Lock(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Something to record, so that the scheduled backup needs the lock.
	if err := os.WriteFile(filepath.Join(s.meta, "table", "NEW.TABLE.json"), []byte(`{"name":"TABLE"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	advanceSchedule(t, clk, 24*time.Hour)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.stderr.String(), "waiting for the repository lock (held by pid") {
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled backup does not wait for the lock; stderr:\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.status(); st.RunningSince == nil {
		t.Fatalf("the scheduled run is not shown as running: %+v", st)
	}
	manual := make(chan int, 1)
	go func() {
		resp, err := http.PostForm(s.url+"api/v1/backup", url.Values{"scope": {"system"}, "message": {"by hand"}})
		if err != nil {
			manual <- -1
			return
		}
		resp.Body.Close()
		manual <- resp.StatusCode
	}()
	select {
	case code := <-manual:
		t.Fatalf("the console's backup answered %d while another writer held the lock", code)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	// Whichever takes the freed lock first records the change; a scheduled
	// backup that comes second finds nothing changed.
	r := s.run(time.Minute)
	if r.Result == schedule.RunFailed {
		t.Fatalf("the scheduled run after the lock was freed: %+v", r)
	}
	select {
	case code := <-manual:
		if code != http.StatusOK {
			t.Fatalf("the console's backup answered %d", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("the console's backup did not end after the lock was freed")
	}
	var messages []string
	for _, in := range s.log() {
		messages = append(messages, in.Message)
	}
	want := map[string]int{schedule.RunOK: 3, schedule.RunUnchanged: 2}[r.Result]
	if len(messages) != want || !strings.Contains(strings.Join(messages, "|"), "by hand") {
		t.Fatalf("snapshots %q after a scheduled run %s, want %d with the console's", messages, r.Result, want)
	}
}

// TestServeScheduleUsage: a bad SPEC, scope or retention flag, and the
// scheduling flags without --schedule, are usage errors (exit 2) that say
// what is wrong, before serve listens.
func TestServeScheduleUsage(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"USER": "admin"}[k] }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--schedule", "0 25 * * *"}, `--schedule "0 25 * * *": end of range (25) above maximum (23): 25; want 5 cron fields (minute hour day-of-month month day-of-week, in the host's local time`},
		{[]string{"--schedule", "@every 100ms"}, "the interval must be a second or more"},
		{[]string{"--schedule", "CRON_TZ=Nowhere/Land 0 0 * * *"}, `unknown time zone "Nowhere/Land"`},
		{[]string{"--schedule", "CRON_TZ=UTC"}, "a zone, then the schedule"},
		{[]string{"--schedule", "0 0 * *"}, "expected exactly 5 fields"},
		{[]string{"--schedule", "@daily", "--schedule-scope", "projects/x"}, `--schedule-scope: invalid scope "projects/x"`},
		{[]string{"--schedule", "@daily", "--keep-daily", "-1"}, "--keep-* counts cannot be negative"},
		{[]string{"--schedule", "@daily", "--keep-daily", "0"}, "forget needs a policy"},
		{[]string{"--schedule", "@daily", "--keep-within", "soon"}, `--keep-within: duration "soon"`},
		{[]string{"--keep-daily", "7"}, "--keep-daily applies to scheduled backups: give --schedule SPEC too"},
		{[]string{"--push", "origin"}, "--push applies to scheduled backups"},
		{[]string{"--schedule-scope", "project/default"}, "--schedule-scope applies to scheduled backups"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		args := append([]string{"metastore", "--metadata-url", filepath.Join(dir, "meta"), "--repo", filepath.Join(dir, "r.git"),
			"serve", "--listen", "127.0.0.1:0"}, tt.args...)
		code := Main(args, &out, &errb, getenv)
		if code != exitUsage || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("serve %q: exit %d, %q; want exit %d saying %q", tt.args, code, errb.String(), exitUsage, tt.want)
		}
	}
}

// TestScheduleRetention: serve --keep-last 1 applies forget after each
// scheduled backup that recorded a snapshot, and prunes when it forgot
// something, at most once a day: the repository keeps one system
// snapshot, and the forgotten one is gone after the prune.
func TestScheduleRetention(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC))
	s := startScheduledServe(t, scheduleOptions{spec: "@hourly", clock: clk, local: time.UTC, keep: &api.ForgetRequest{KeepLast: 1}})
	change := func(i int) {
		p := filepath.Join(s.meta, "table", fmt.Sprintf("NEW.T%d.json", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"name":"T%d"}`, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"backup system=done forget=done prune=skipped",       // 00:00: one snapshot, nothing to forget
		"backup system=done forget=done prune=done",          // 01:00: the first one forgotten, pruned
		"backup system=done forget=done prune=skipped",       // 02:00: forgotten again, pruned less than a day ago
		"backup system=skipped forget=skipped prune=skipped", // 03:00: nothing changed
	}
	var runs []schedule.Run
	for i, w := range want {
		if i < 3 && i > 0 {
			change(i)
		}
		advanceSchedule(t, clk, map[bool]time.Duration{true: time.Minute, false: time.Hour}[i == 0])
		r := s.run(time.Minute)
		runs = append(runs, r)
		if got := runSteps(r); got != w {
			t.Fatalf("run %d: %s (%s), want %s", i+1, got, r.Error, w)
		}
	}
	if d := runs[1].Steps[1].Detail; !strings.Contains(d, "last 1: kept ") || !strings.Contains(d, "forgot 1; undo until the next prune: metastore --repo "+s.repo) {
		t.Errorf("forget's detail: %q", d)
	}
	if d := runs[2].Steps[2].Detail; !strings.HasPrefix(d, "pruned at 2026-03-11 01:00:00") {
		t.Errorf("the skipped prune says %q", d)
	}
	list := s.log()
	if len(list) != 1 || list[0].Scope != "system" {
		t.Fatalf("snapshots after forget --keep-last 1: %+v, want the newest system snapshot alone", list)
	}
	// The prune at 01:00 removed the snapshot forgotten then; the one
	// forgotten at 02:00 waits for tomorrow's prune (its undo point is
	// still there).
	stamps := map[string]bool{}
	root := filepath.Join(s.repo, "refs", "forgotten")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			stamps[strings.Split(filepath.ToSlash(rel), "/")[0]] = true
		}
		return err
	})
	var only string
	for st := range stamps {
		only = st
	}
	if undo := runs[2].Steps[1].Detail; err != nil || len(stamps) != 1 || !strings.HasSuffix(undo, "--undo "+only) {
		t.Fatalf("refs/forgotten holds undo points %v (%v), want the one of 02:00 (%s)", stamps, err, undo)
	}
}

// TestSchedulePush: serve --push REMOTE pushes after a scheduled backup; a
// push that fails (no repository at the remote yet) fails the run, and the
// next run pushes although its backup finds nothing new.
func TestSchedulePush(t *testing.T) {
	remote := filepath.Join(t.TempDir(), "remote.git")
	clk := clockwork.NewFakeClockAt(time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC))
	s := startScheduledServe(t, scheduleOptions{spec: "@hourly", clock: clk, local: time.UTC, push: remote})
	advanceSchedule(t, clk, time.Minute)
	r := s.run(time.Minute)
	if r.Result != schedule.RunFailed || runSteps(r) != "backup system=done push "+remote+"=failed" || !strings.Contains(r.Error, "no git repository there") {
		t.Fatalf("run 1: %s %s %q", r.Result, runSteps(r), r.Error)
	}
	o, err := objects.Init(remote, "refs/heads/main", nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	advanceSchedule(t, clk, time.Hour)
	r = s.run(time.Minute)
	if r.Result != schedule.RunUnchanged || runSteps(r) != "backup system=skipped push "+remote+"=done" ||
		!strings.HasPrefix(r.Steps[1].Detail, "1 reference updated, 0 up to date") {
		t.Fatalf("run 2: %s %s %+v", r.Result, runSteps(r), r.Steps)
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"metastore", "--repo", s.repo, "push", remote}, &out, &errb, s.getenv); code != 0 || !strings.Contains(out.String(), "is up to date") {
		t.Fatalf("push after the scheduled one: exit %d, %s%s", code, out.String(), errb.String())
	}
	advanceSchedule(t, clk, time.Hour)
	if r := s.run(time.Minute); runSteps(r) != "backup system=skipped push "+remote+"=skipped" {
		t.Fatalf("run 3: %s", runSteps(r))
	}
}
