// Package schedule runs metastore serve's scheduled backups: a loop that
// wakes at the times of a cron-like Spec and carries out a run, a fixed
// sequence of Steps (the backups, then retention, then a push), on an
// injected clock so that tests never sleep.
//
// Two runs never overlap: a tick that comes while a run is still going is
// skipped and logged. A run that fails is logged and tried again at the
// next tick; the steps remember the work a failed run left (a push that
// did not happen) so that the next run does it even when the backups find
// nothing new. Status reports the schedule, the next run, the last run and
// the last failure, for the console.
package schedule

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Tick is what the steps of one run share.
type Tick struct {
	// Time is when the run started.
	Time time.Time
	// Recorded counts the snapshots the backup steps recorded so far in
	// this run.
	Recorded int
	// Forgotten counts the snapshots a forget step forgot in this run.
	Forgotten int
}

// Outcome is what a step did.
type Outcome struct {
	// Skipped is set when the step had nothing to do.
	Skipped bool
	// Detail says what it did or why it skipped, in a few words.
	Detail string
}

// Step is one part of a run.
type Step struct {
	// Name names the step in logs and in the console ("backup system",
	// "forget", "push origin").
	Name string
	// Run does the step. A step that fails does not stop the run: the
	// steps after it decide for themselves (on t) whether they have work.
	Run func(ctx context.Context, t *Tick) (Outcome, error)
}

// Config sets up a Scheduler.
type Config struct {
	// Spec says when runs start.
	Spec Spec
	// Steps are a run, in order.
	Steps []Step
	// Clock is the clock; the real one if nil.
	Clock clockwork.Clock
	// Log receives one structured line (log/slog's text format) per step,
	// run, skipped tick and failure; nil for none.
	Log io.Writer
	// Redact, if not nil, cleans every error message before it is logged
	// or kept (the metastore's password).
	Redact func(string) string
	// OnRun, if not nil, is called after each run with its result.
	OnRun func(Run)
}

// Step results.
const (
	StepDone    = "done"
	StepSkipped = "skipped"
	StepFailed  = "failed"
)

// Run results.
const (
	RunOK        = "ok"        // a snapshot was recorded, every step worked
	RunUnchanged = "unchanged" // nothing changed since the latest snapshots, every step worked
	RunFailed    = "failed"    // a step failed; the next tick tries again
)

// Scheduler runs the steps at the times of the spec.
type Scheduler struct {
	cfg   Config
	clock clockwork.Clock
	log   *slog.Logger

	mu      sync.Mutex
	status  Status
	running bool
}

// New returns a scheduler for cfg; Run starts it.
func New(cfg Config) *Scheduler {
	s := &Scheduler{cfg: cfg, clock: cfg.Clock}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	w := cfg.Log
	if w == nil {
		w = io.Discard
	}
	s.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				a.Value = slog.TimeValue(s.clock.Now()) // the injected clock's time
			}
			return a
		},
	})).With("component", "schedule")
	s.status = Status{Enabled: true, Schedule: cfg.Spec.String(), Zone: cfg.Spec.Location().String()}
	for _, st := range cfg.Steps {
		s.status.Steps = append(s.status.Steps, st.Name)
	}
	return s
}

// maxWait is the longest the loop sleeps before it looks at the clock
// again: a wall clock that jumps (a suspended host, an NTP correction)
// moves the next run by at most this much.
const maxWait = time.Minute

// Run runs the schedule until ctx is done, then waits for a run in
// progress (which sees ctx done) to end.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	next := s.cfg.Spec.Next(s.clock.Now())
	s.setNext(next)
	s.log.Info("schedule started", "schedule", s.cfg.Spec.String(), "zone", s.cfg.Spec.Location().String(), "next", next)
	for {
		if next.IsZero() {
			s.log.Error("the schedule has no next time: no more runs", "schedule", s.cfg.Spec.String())
			<-ctx.Done()
			return
		}
		if wait := next.Sub(s.clock.Now()); wait > 0 {
			timer := s.clock.NewTimer(min(wait, maxWait))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.Chan():
			}
			continue // look at the clock again
		}
		if ctx.Err() != nil {
			return
		}
		now := s.clock.Now()
		next = s.cfg.Spec.Next(now)
		s.setNext(next) // before the run starts: it logs the next time when it ends
		if s.begin(now) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.run(ctx, now)
			}()
		}
	}
}

// begin marks a run started at now, unless one is still going: then the
// tick is skipped, logged and counted.
func (s *Scheduler) begin(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.status.Overlapped++
		s.log.Warn("tick skipped: the previous run is still going", "tick", now, "running_since", *s.status.RunningSince)
		return false
	}
	s.running = true
	s.status.RunningSince = &now
	return true
}

// run carries out the steps once.
func (s *Scheduler) run(ctx context.Context, start time.Time) {
	s.mu.Lock()
	s.status.Runs++
	n := s.status.Runs
	s.mu.Unlock()
	t := &Tick{Time: start}
	r := Run{Number: n, Started: start, Result: RunOK}
	for _, st := range s.cfg.Steps {
		res := s.step(ctx, n, st, t)
		if res.Result == StepFailed && r.Error == "" {
			r.Result, r.Error = RunFailed, st.Name+": "+res.Error
		}
		r.Steps = append(r.Steps, res)
	}
	if r.Result == RunOK && t.Recorded == 0 {
		r.Result = RunUnchanged
	}
	r.Ended = s.clock.Now()
	s.mu.Lock()
	s.running = false
	s.status.RunningSince = nil
	last := r
	s.status.Last = &last
	if r.Result == RunFailed {
		s.status.Failures++
		s.status.ConsecutiveFailures++
		s.status.LastFailure = &last
	} else {
		s.status.ConsecutiveFailures = 0
	}
	next := s.status.Next
	s.mu.Unlock()
	attrs := []any{"run", n, "result", r.Result, "seconds", r.Ended.Sub(r.Started).Seconds()}
	if next != nil {
		attrs = append(attrs, "next", *next)
	}
	if r.Result == RunFailed {
		s.log.Error("scheduled run failed; the next tick tries again", append(attrs, "error", r.Error)...)
	} else {
		s.log.Info("scheduled run", attrs...)
	}
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(r)
	}
}

// step runs one step and logs it.
func (s *Scheduler) step(ctx context.Context, n int, st Step, t *Tick) StepResult {
	out, err := st.Run(ctx, t)
	res := StepResult{Step: st.Name, Result: StepDone, Detail: out.Detail}
	switch {
	case err != nil:
		res.Result, res.Error = StepFailed, s.redact(err.Error())
		s.log.Error("step failed", "run", n, "step", st.Name, "error", res.Error)
		return res
	case out.Skipped:
		res.Result = StepSkipped
	}
	s.log.Info("step", "run", n, "step", st.Name, "result", res.Result, "detail", res.Detail)
	return res
}

func (s *Scheduler) redact(msg string) string {
	if s.cfg.Redact != nil {
		return s.cfg.Redact(msg)
	}
	return msg
}

func (s *Scheduler) setNext(next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next.IsZero() {
		s.status.Next = nil
		return
	}
	s.status.Next = &next
}

// Status returns the schedule's state now.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Steps = append([]string(nil), st.Steps...)
	loc := s.cfg.Spec.Location()
	in := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.In(loc)
		return &u
	}
	st.Next, st.RunningSince = in(st.Next), in(st.RunningSince)
	for _, r := range []**Run{&st.Last, &st.LastFailure} {
		if *r != nil {
			c := **r
			c.Started, c.Ended = c.Started.In(loc), c.Ended.In(loc)
			c.Steps = append([]StepResult(nil), c.Steps...)
			*r = &c
		}
	}
	return st
}
