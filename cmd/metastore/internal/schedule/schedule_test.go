package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// start is the fake clock's time when a rig starts: 10:20 UTC.
var start = time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC)

// rig runs a Scheduler on a fake clock. Nothing sleeps: the test moves the
// clock and waits for the loop and the runs through channels.
type rig struct {
	t    *testing.T
	ctx  context.Context
	clk  *clockwork.FakeClock
	s    *Scheduler
	runs chan Run
	log  *syncBuffer
}

func newRig(t *testing.T, spec string, redact func(string) string, steps ...Step) *rig {
	t.Helper()
	sp, err := Parse(spec, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r := &rig{t: t, ctx: ctx, clk: clockwork.NewFakeClockAt(start), runs: make(chan Run, 16), log: &syncBuffer{}}
	r.s = New(Config{Spec: sp, Steps: steps, Clock: r.clk, Log: r.log, Redact: redact, OnRun: func(run Run) { r.runs <- run }})
	done := make(chan struct{})
	go func() { r.s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		t.Logf("log:\n%s", r.log)
	})
	return r
}

// advance moves the clock by d once the loop waits for it, and returns
// when the loop waits again (a tick has been handled: a run started, or
// skipped).
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.waitLoop()
	r.clk.Advance(d)
	r.waitLoop()
}

func (r *rig) waitLoop() {
	r.t.Helper()
	if err := r.clk.BlockUntilContext(r.ctx, 1); err != nil {
		r.t.Fatalf("the loop does not wait on the clock: %v", err)
	}
}

// run waits for the next run to end.
func (r *rig) run() Run {
	r.t.Helper()
	select {
	case run := <-r.runs:
		return run
	case <-r.ctx.Done():
		r.t.Fatal("no run ended")
	}
	return Run{}
}

// noRun checks that no run ended.
func (r *rig) noRun() {
	r.t.Helper()
	select {
	case run := <-r.runs:
		r.t.Fatalf("unexpected run %d at %s", run.Number, run.Started)
	default:
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lines returns the log lines holding every one of words.
func (b *syncBuffer) lines(words ...string) []string {
	var out []string
next:
	for _, l := range strings.Split(b.String(), "\n") {
		for _, w := range words {
			if !strings.Contains(l, w) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// backups is a fake backup: results[i] is what the i-th call does
// ("new", "same" or an error message); past the end, "same".
func backups(results ...string) BackupFunc {
	n := 0
	return func(context.Context) (string, bool, error) {
		i := n
		n++
		if i >= len(results) || results[i] == "same" {
			return "latest", false, nil
		}
		if results[i] == "new" {
			return fmt.Sprintf("snap%d", i+1), true, nil
		}
		return "", false, errors.New(results[i])
	}
}

func stepResults(run Run) string {
	var b []string
	for _, s := range run.Steps {
		b = append(b, s.Step+"="+s.Result)
	}
	return strings.Join(b, " ")
}

// TestTicks: runs start at the spec's times, on the injected clock, and the
// status names the next one.
func TestTicks(t *testing.T) {
	var times []time.Time
	record := Step{Name: "record", Run: func(_ context.Context, tk *Tick) (Outcome, error) {
		times = append(times, tk.Time)
		return Outcome{}, nil
	}}
	r := newRig(t, "0 * * * *", nil, record)
	r.waitLoop()
	if st := r.s.Status(); st.Next == nil || !st.Next.Equal(start.Add(40*time.Minute)) || st.Runs != 0 || !st.Enabled || st.Schedule != "0 * * * *" {
		t.Fatalf("status before the first tick: %+v, want next 11:00 and no run", st)
	}
	r.advance(30 * time.Minute) // 10:50: nothing yet
	r.noRun()
	r.advance(10 * time.Minute) // 11:00
	r.run()
	r.advance(time.Hour) // 12:00
	r.run()
	want := []time.Time{start.Add(40 * time.Minute), start.Add(100 * time.Minute)}
	if len(times) != 2 || !times[0].Equal(want[0]) || !times[1].Equal(want[1]) {
		t.Fatalf("runs at %v, want %v", times, want)
	}
	st := r.s.Status()
	if st.Next == nil || !st.Next.Equal(start.Add(160*time.Minute)) || st.Runs != 2 || st.Last == nil || st.Last.Number != 2 {
		t.Fatalf("status after two runs: %+v, want next 13:00, 2 runs, the last the second", st)
	}
	if got := r.log.lines("level=INFO", `msg="scheduled run"`, "run=2", "result=unchanged", "next=2026-03-10T13:00:00.000Z"); len(got) != 1 {
		t.Errorf("want one structured log line for run 2 naming the next run, got %q", got)
	}
}

// TestOverlap: a tick that comes while a run is going is skipped (logged
// and counted), never run in parallel, and the schedule goes on.
func TestOverlap(t *testing.T) {
	entered, release := make(chan int, 4), make(chan struct{})
	calls := 0
	slow := Step{Name: "slow", Run: func(ctx context.Context, tk *Tick) (Outcome, error) {
		calls++
		entered <- calls
		if calls == 1 {
			<-release
		}
		return Outcome{}, nil
	}}
	r := newRig(t, "@every 1m", nil, slow)
	r.advance(time.Minute)
	<-entered // run 1 is going
	r.advance(time.Minute)
	r.advance(time.Minute)
	st := r.s.Status()
	if st.Overlapped != 2 || st.Runs != 1 || st.RunningSince == nil || !st.RunningSince.Equal(start.Add(time.Minute)) {
		t.Fatalf("status with a run going through two ticks: %+v, want 2 overlapped, 1 run since 10:21", st)
	}
	if got := r.log.lines("level=WARN", "the previous run is still going", "running_since=2026-03-10T10:21:00.000Z"); len(got) != 2 {
		t.Fatalf("want two logged skipped ticks, got %q", got)
	}
	close(release)
	if run := r.run(); run.Number != 1 || !run.Ended.Equal(start.Add(3*time.Minute)) {
		t.Fatalf("first run: %+v", run)
	}
	r.advance(time.Minute)
	if n := <-entered; n != 2 {
		t.Fatalf("the step ran %d times, want 2", n)
	}
	if run := r.run(); run.Number != 2 {
		t.Fatalf("second run: %+v", run)
	}
	if st := r.s.Status(); st.RunningSince != nil || st.Overlapped != 2 {
		t.Fatalf("status after: %+v", st)
	}
}

// TestFailureThenRetry: a failed run is logged as a structured line (the
// password redacted) and kept as the last failure; the next tick tries
// again; work the failed run left (the push) is done by the next run even
// when that run's backup finds nothing new.
func TestFailureThenRetry(t *testing.T) {
	pushes := 0
	push := func(context.Context) (string, error) {
		pushes++
		if pushes == 2 {
			return "", errors.New("remote origin: connection refused")
		}
		return "pushed", nil
	}
	redact := func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }
	r := newRig(t, "@hourly", redact,
		Backup("system", backups("open metastore: password hunter2 refused", "new", "same", "same")),
		Push("origin", push))

	r.advance(40 * time.Minute) // 11:00
	run := r.run()
	if run.Result != RunFailed || stepResults(run) != "backup system=failed push origin=done" ||
		run.Error != "backup system: open metastore: password *** refused" {
		t.Fatalf("run 1: %s %s (%q)", run.Result, stepResults(run), run.Error)
	}
	st := r.s.Status()
	if st.Failures != 1 || st.ConsecutiveFailures != 1 || st.LastFailure == nil || st.LastFailure.Number != 1 {
		t.Fatalf("status after a failure: %+v", st)
	}
	if got := r.log.lines("level=ERROR", `msg="step failed"`, `step="backup system"`, `error="open metastore: password *** refused"`); len(got) != 1 {
		t.Errorf("want one structured line for the failed step, got %q", got)
	}
	if got := r.log.lines("level=ERROR", "the next tick tries again", "run=1", "result=failed", "next=2026-03-10T12:00:00.000Z"); len(got) != 1 {
		t.Errorf("want one structured line for the failed run, got %q", got)
	}
	if strings.Contains(r.log.String(), "hunter2") {
		t.Errorf("the password is in the log")
	}

	r.advance(time.Hour) // 12:00: the backup works, the push fails
	run = r.run()
	if run.Result != RunFailed || stepResults(run) != "backup system=done push origin=failed" {
		t.Fatalf("run 2: %s %s", run.Result, stepResults(run))
	}
	if st := r.s.Status(); st.ConsecutiveFailures != 2 || st.LastFailure.Number != 2 {
		t.Fatalf("status after two failures: %+v", st)
	}

	r.advance(time.Hour) // 13:00: nothing new, but the push is owed
	run = r.run()
	if run.Result != RunUnchanged || stepResults(run) != "backup system=skipped push origin=done" {
		t.Fatalf("run 3: %s %s", run.Result, stepResults(run))
	}
	st = r.s.Status()
	if st.ConsecutiveFailures != 0 || st.Failures != 2 || st.LastFailure.Number != 2 || st.Last.Number != 3 {
		t.Fatalf("status after the retry worked: %+v", st)
	}

	r.advance(time.Hour) // 14:00: nothing new, nothing owed
	if run := r.run(); stepResults(run) != "backup system=skipped push origin=skipped" {
		t.Fatalf("run 4: %s", stepResults(run))
	}
	if pushes != 3 {
		t.Fatalf("%d pushes, want 3", pushes)
	}
}

// TestSkipUnchanged: a run whose backups record nothing is "unchanged",
// and leaves retention and push alone (after the first run, which applies
// them once in case serve starts with a new policy or unpushed snapshots).
func TestSkipUnchanged(t *testing.T) {
	var forgets, pushes int
	forget := func(context.Context) (int, string, error) { forgets++; return 0, "kept all", nil }
	push := func(context.Context) (string, error) { pushes++; return "pushed", nil }
	r := newRig(t, "@daily", nil,
		Backup("system", backups("same", "same", "new")),
		Backup("project/learn_kylin", backups("same", "same", "same")),
		Forget(forget), Prune(24*time.Hour, func(context.Context) (string, error) { t.Error("prune with nothing forgotten"); return "", nil }),
		Push("origin", push))
	want := []struct{ result, steps string }{
		{RunUnchanged, "backup system=skipped backup project/learn_kylin=skipped forget=done prune=skipped push origin=done"},
		{RunUnchanged, "backup system=skipped backup project/learn_kylin=skipped forget=skipped prune=skipped push origin=skipped"},
		{RunOK, "backup system=done backup project/learn_kylin=skipped forget=done prune=skipped push origin=done"},
	}
	r.advance(13*time.Hour + 40*time.Minute) // midnight
	for i, w := range want {
		if i > 0 {
			r.advance(24 * time.Hour)
		}
		run := r.run()
		if run.Result != w.result || stepResults(run) != w.steps {
			t.Errorf("run %d: %s %s, want %s %s", i+1, run.Result, stepResults(run), w.result, w.steps)
		}
		if i == 1 && run.Steps[0].Detail != "unchanged since snapshot latest" {
			t.Errorf("run 2's backup detail: %q", run.Steps[0].Detail)
		}
	}
	if forgets != 2 || pushes != 2 {
		t.Errorf("%d forgets and %d pushes, want 2 and 2", forgets, pushes)
	}
}

// TestRetentionSteps: forget runs after each run that recorded a
// snapshot; prune follows when something was
// forgotten, at most once a day, and catches up on the first run after
// the day is over.
func TestRetentionSteps(t *testing.T) {
	var forgetAt, pruneAt []time.Time
	now := func() time.Time { return time.Time{} }
	forget := func(context.Context) (int, string, error) {
		forgetAt = append(forgetAt, now())
		return 1, "forgot 1", nil
	}
	prune := func(context.Context) (string, error) {
		pruneAt = append(pruneAt, now())
		return "removed 10 objects", nil
	}
	news := make([]string, 30)
	for i := range news {
		news[i] = "new"
	}
	r := newRig(t, "0 */6 * * *", nil, Backup("system", backups(news...)), Forget(forget), Prune(24*time.Hour, prune))
	now = r.clk.Now
	r.advance(100 * time.Minute) // 12:00
	for i := 0; i < 6; i++ {
		if i > 0 {
			r.advance(6 * time.Hour)
		}
		run := r.run()
		wantPrune := "prune=skipped"
		if i == 0 || i == 4 {
			wantPrune = "prune=done"
		}
		if want := "backup system=done forget=done " + wantPrune; stepResults(run) != want {
			t.Errorf("run %d at %s: %s, want %s", i+1, run.Started.Format(time.DateTime), stepResults(run), want)
		}
	}
	if len(forgetAt) != 6 || !forgetAt[0].Equal(start.Add(100*time.Minute)) || !forgetAt[5].Equal(start.Add(100*time.Minute+30*time.Hour)) {
		t.Errorf("forget ran at %v, want at every run", forgetAt)
	}
	day := start.Add(100 * time.Minute)
	if len(pruneAt) != 2 || !pruneAt[0].Equal(day) || !pruneAt[1].Equal(day.Add(24*time.Hour)) {
		t.Errorf("prune ran at %v, want %s and a day later", pruneAt, day)
	}
	if st := r.s.Status(); st.Last.Steps[2].Detail != "pruned at 2026-03-11 12:00:00; the next prune after 2026-03-12 12:00:00" {
		t.Errorf("a skipped prune says %q", st.Last.Steps[2].Detail)
	}
}

// TestShutdownDuringRun: the loop ends when its context does, after the
// run in progress (which sees the context done) ends.
func TestShutdownDuringRun(t *testing.T) {
	sp, _ := Parse("@every 1m", time.UTC)
	clk := clockwork.NewFakeClockAt(start)
	entered := make(chan struct{})
	var sawCancel bool
	s := New(Config{Spec: sp, Clock: clk, Steps: []Step{{Name: "slow", Run: func(ctx context.Context, _ *Tick) (Outcome, error) {
		close(entered)
		<-ctx.Done()
		sawCancel = true
		return Outcome{}, ctx.Err()
	}}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	clk.BlockUntilContext(context.Background(), 1)
	clk.Advance(time.Minute)
	<-entered
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !sawCancel {
		t.Fatal("Run returned before the run in progress ended")
	}
}
