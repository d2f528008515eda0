package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestParseNext reads specs as a host in a given local zone would and
// checks the next time from a given instant.
func TestParseNext(t *testing.T) {
	east8 := time.FixedZone("UTC+8", 8*3600)
	newYork := mustZone(t, "America/New_York")
	berlin := mustZone(t, "Europe/Berlin")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec  string
		local *time.Location
		from  string
		want  string // UTC
		zone  string
	}{
		// Cron fields are the host's local time: midnight at UTC+8 is 16:00 UTC.
		{"0 0 * * *", east8, "2026-03-10T15:00:00Z", "2026-03-10T16:00:00Z", "UTC+8"},
		{"0 0 * * *", east8, "2026-03-10T16:00:00Z", "2026-03-11T16:00:00Z", "UTC+8"},
		{"@daily", east8, "2026-03-10T15:59:59.9Z", "2026-03-10T16:00:00Z", "UTC+8"},
		{"@midnight", time.UTC, "2026-03-10T15:00:00Z", "2026-03-11T00:00:00Z", "UTC"},
		{"@hourly", east8, "2026-03-10T10:20:00Z", "2026-03-10T11:00:00Z", "UTC+8"},
		{"*/15 * * * *", time.UTC, "2026-03-10T10:20:00Z", "2026-03-10T10:30:00Z", "UTC"},
		{"30 2 * * 1", time.UTC, "2026-03-10T10:20:00Z", "2026-03-16T02:30:00Z", "UTC"}, // the next Monday
		{"  0   0 * *  * ", time.UTC, "2026-03-10T10:20:00Z", "2026-03-11T00:00:00Z", "UTC"},
		// @every counts from the given time, on whole seconds.
		{"@every 90s", east8, "2026-03-10T10:00:00.5Z", "2026-03-10T10:01:30Z", "UTC+8"},
		{"@every 6h", time.UTC, "2026-03-10T10:00:00Z", "2026-03-10T16:00:00Z", "UTC"},
		// CRON_TZ= names the zone, whatever the host's.
		{"CRON_TZ=Asia/Shanghai 0 0 * * *", newYork, "2026-03-10T15:00:00Z", "2026-03-10T16:00:00Z", "Asia/Shanghai"},
		{"TZ=UTC 0 0 * * *", east8, "2026-03-10T15:00:00Z", "2026-03-11T00:00:00Z", "UTC"},
		{"CRON_TZ=Europe/Berlin @daily", time.UTC, "2026-07-01T12:00:00Z", "2026-07-01T22:00:00Z", "Europe/Berlin"},
		// Local time with summer time: midnight in New York is 05:00 UTC in
		// winter, 04:00 UTC in summer; the change on 8 March 2026 moves it.
		{"0 0 * * *", newYork, "2026-03-07T06:00:00Z", "2026-03-08T05:00:00Z", "America/New_York"},
		{"0 0 * * *", newYork, "2026-03-08T06:00:00Z", "2026-03-09T04:00:00Z", "America/New_York"},
		// 02:30 does not exist in Berlin on 29 March 2026 (02:00 -> 03:00):
		// robfig/cron skips that day (README: pick a time outside the
		// hour summer time skips); the schedule goes on the next day.
		{"30 2 * * *", berlin, "2026-03-28T12:00:00Z", "2026-03-30T00:30:00Z", "Europe/Berlin"},
		{"30 2 * * *", berlin, "2026-03-29T12:00:00Z", "2026-03-30T00:30:00Z", "Europe/Berlin"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec, tt.local)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		got := s.Next(utc(tt.from))
		if want := utc(tt.want); !got.Equal(want) {
			t.Errorf("Parse(%q, %s).Next(%s) = %s, want %s", tt.spec, tt.local, tt.from, got.UTC().Format(time.RFC3339Nano), tt.want)
		}
		if got := s.Location().String(); got != tt.zone {
			t.Errorf("Parse(%q, %s).Location() = %s, want %s", tt.spec, tt.local, got, tt.zone)
		}
		if got.Location() != s.Location() {
			t.Errorf("Parse(%q): Next is in %s, want the schedule's zone %s", tt.spec, got.Location(), s.Location())
		}
	}
}

// TestParseBad: every bad spec is an error wrapping ErrSpec that says what
// is wrong (no panic, no silent rounding).
func TestParseBad(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"0 0 * *", "expected exactly 5 fields"},
		{"0 0 0 * * *", "expected exactly 5 fields"},
		{"0 25 * * *", "above maximum"},
		{"61 * * * *", "above maximum"},
		{"0 0 * * mon-xyz", "failed to parse"},
		{"@fortnightly", "unrecognized descriptor"},
		{"@every", "unrecognized descriptor"},
		{"@every 0s", "a second or more"},
		{"@every -1h", "a second or more"},
		{"@every 500ms", "a second or more"},
		{"@every 1500ms", "whole seconds"},
		{"@every soon", "not a duration"},
		{"CRON_TZ=Mars/Olympus_Mons 0 0 * * *", `unknown time zone "Mars/Olympus_Mons"`},
		{"CRON_TZ=UTC", "a zone, then the schedule"}, // robfig/cron v3.0.1 panics on this one
		{"TZ=Europe/Berlin", "a zone, then the schedule"},
		{"CRON_TZ= 0 0 * * *", "a zone, then the schedule"},
		{"CRON_TZ=UTC @every 1ms", "a second or more"},
		{"0 0 30 2 *", "never comes"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.spec, time.UTC)
		if err == nil {
			t.Errorf("Parse(%q) accepted it", tt.spec)
			continue
		}
		if !errors.Is(err, ErrSpec) {
			t.Errorf("Parse(%q) = %v, not wrapping ErrSpec", tt.spec, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to say %q", tt.spec, err, tt.want)
		}
	}
}
