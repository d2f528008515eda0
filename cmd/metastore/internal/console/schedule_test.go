package console

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"
	"github.com/kylin-tools/metastore/cmd/metastore/internal/schedule"
)

// failingSchedule is a real scheduler on a fake clock whose one run, at
// midnight UTC on 11 March 2026, failed: a backup whose metastore is down
// (the error names the password, which the scheduler redacts).
func failingSchedule(t *testing.T) *schedule.Scheduler {
	t.Helper()
	sp, err := schedule.Parse("CRON_TZ=UTC @daily", nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := clockwork.NewFakeClockAt(time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC))
	runs := make(chan schedule.Run, 1)
	s := schedule.New(schedule.Config{Spec: sp, Clock: clk, OnRun: func(r schedule.Run) { runs <- r },
		Redact: func(m string) string { return strings.ReplaceAll(m, "s3cret-pass", "***") },
		Steps: []schedule.Step{schedule.Backup("system", func(context.Context) (string, bool, error) {
			return "", false, errors.New("connect to db:5432 as kylin/s3cret-pass: connection refused")
		})}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	select {
	case <-runs:
	case <-ctx.Done():
		t.Fatal("no run")
	}
	return s
}

// TestSchedulePanel: the System page shows the schedule, the next run, the
// last run and its failure (in the schedule's zone, the password never
// shown), and GET /api/v1/schedule answers the same state as JSON. Without
// a schedule the panel says how to set one, and the API says it is off.
func TestSchedulePanel(t *testing.T) {
	s := failingSchedule(t)
	f := newFixture(t, Config{Schedule: s.Status})
	page := f.get("/system")
	for field, want := range map[string]string{
		"schedule":     "CRON_TZ=UTC @daily",
		"steps":        "backup system",
		"next":         "2026-03-12 00:00:00 UTC",
		"last":         "2026-03-11 00:00:00 UTC: <span class=\"run failed\">failed</span>",
		"last-failure": "2026-03-11 00:00:00 UTC: backup system: connect to db:5432 as kylin/***: connection refused",
		"failing":      "1 run in a row; the next run tries again",
		"runs":         "1 (1 failed)",
	} {
		m := regexp.MustCompile(`data-field="` + field + `"[^>]*>(?:<[^>]+>)*([^\n]*)`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(m[0], want) {
			t.Errorf("System page, %s: %q, want it to show %q", field, m, want)
		}
	}
	if strings.Contains(page, "s3cret-pass") {
		t.Error("the System page shows the password")
	}
	if frag := f.get("/system/schedule"); !strings.Contains(frag, `id="schedule"`) || !strings.Contains(frag, "2026-03-12 00:00:00 UTC") {
		t.Errorf("the panel's fragment: %s", frag)
	}

	var st schedule.Status
	decodeJSON(t, f.get("/api/v1/schedule"), &st)
	if !st.Enabled || st.Schedule != "CRON_TZ=UTC @daily" || st.Zone != "UTC" || st.Next == nil ||
		!st.Next.Equal(time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)) || st.LastFailure == nil ||
		st.LastFailure.Error != "backup system: connect to db:5432 as kylin/***: connection refused" || st.ConsecutiveFailures != 1 {
		t.Errorf("GET /api/v1/schedule: %+v", st)
	}

	off := newFixture(t, Config{})
	if page := off.get("/system"); !strings.Contains(page, `data-field="schedule-off"`) {
		t.Error("without a schedule, the System page does not say so")
	}
	if body := off.get("/api/v1/schedule"); strings.TrimSpace(body) != "{\n  \"enabled\": false,\n  \"runs\": 0,\n  \"failures\": 0,\n  \"consecutive_failures\": 0,\n  \"overlapped\": 0\n}" {
		t.Errorf("GET /api/v1/schedule without a schedule: %s", body)
	}
}

// TestBrowserSchedule: in a real browser, the System page's schedule panel
// shows the next run and the last failure.
func TestBrowserSchedule(t *testing.T) {
	browser := startBrowser(t)
	shots := newShooter(t)
	f := newFixture(t, Config{Schedule: failingSchedule(t).Status})
	ctx := tab(t, browser)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/system"), visible("#schedule [data-field=next]"))
	if got := text(t, ctx, "#schedule [data-field=next]"); got != "2026-03-12 00:00:00 UTC" {
		t.Errorf("next run shown as %q", got)
	}
	if got := text(t, ctx, "#schedule [data-field=last-failure]"); got != "2026-03-11 00:00:00 UTC: backup system: connect to db:5432 as kylin/***: connection refused" {
		t.Errorf("last failure shown as %q", got)
	}
	if got := text(t, ctx, "#schedule [data-field=failing]"); !strings.Contains(got, "1 run in a row") {
		t.Errorf("failing shown as %q", got)
	}
	shots.shot(ctx, "system-schedule")
}
