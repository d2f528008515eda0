package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// CRON_TZ=Zone must work on a host without the zoneinfo files (a
	// minimal container): the zone database is built in.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// ErrSpec is wrapped by every error Parse returns.
var ErrSpec = errors.New("bad schedule")

// SpecHelp says what a SPEC may be (for usage errors).
const SpecHelp = "want 5 cron fields (minute hour day-of-month month day-of-week, in the host's local time; " +
	"CRON_TZ=Zone first for another zone, e.g. \"CRON_TZ=Asia/Shanghai 0 0 * * *\"), @daily, @hourly or @every DURATION (e.g. @every 6h)"

// Spec is a parsed schedule: when scheduled runs happen.
type Spec struct {
	text  string
	sched cron.Schedule
	loc   *time.Location
}

// Parse reads a schedule: five cron fields (minute, hour, day of month,
// month, day of week) read in local unless the spec starts with
// CRON_TZ=Zone (or TZ=Zone), a descriptor (@daily or @midnight, @hourly,
// @weekly, @monthly, @yearly), or @every DURATION (a Go duration of a
// second or more: 90s, 6h, 1h30m). Parsing is robfig/cron's standard
// parser. It fails with an error wrapping ErrSpec, saying why (the caller
// names the spec).
func Parse(text string, local *time.Location) (Spec, error) {
	if local == nil {
		local = time.Local
	}
	spec := strings.Join(strings.Fields(text), " ")
	if spec == "" {
		return Spec{}, fmt.Errorf("%w: empty", ErrSpec)
	}
	loc := local
	rest := spec
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// robfig/cron v3.0.1 indexes past the end of a zone with nothing
		// after it; it also takes an empty zone for UTC.
		zone, after, ok := strings.Cut(spec[strings.IndexByte(spec, '=')+1:], " ")
		if !ok || zone == "" {
			return Spec{}, fmt.Errorf("%w: a zone, then the schedule (CRON_TZ=Europe/Berlin 0 0 * * *)", ErrSpec)
		}
		z, err := time.LoadLocation(zone)
		if err != nil {
			return Spec{}, fmt.Errorf("%w: unknown time zone %q (an IANA name such as Europe/Berlin or UTC)", ErrSpec, zone)
		}
		loc, rest = z, after
	}
	if d, ok := strings.CutPrefix(rest, "@every "); ok {
		dur, err := time.ParseDuration(d)
		switch {
		case err != nil:
			return Spec{}, fmt.Errorf("%w: @every %s: not a duration (90s, 6h, 1h30m)", ErrSpec, d)
		case dur < time.Second:
			return Spec{}, fmt.Errorf("%w: @every %s: the interval must be a second or more", ErrSpec, d)
		case dur%time.Second != 0:
			return Spec{}, fmt.Errorf("%w: @every %s: the interval must be whole seconds", ErrSpec, d)
		}
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	s := Spec{text: spec, sched: sched, loc: loc}
	if s.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		// robfig/cron looks five years ahead; a date that never comes
		// (30 February) finds nothing.
		return Spec{}, fmt.Errorf("%w: no such date: it never comes", ErrSpec)
	}
	return s, nil
}

// Next is the first time of the schedule after t, in the schedule's zone;
// the zero time if there is none within five years.
func (s Spec) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(t.In(s.Location()))
}

// String is the spec as given (spaces normalised).
func (s Spec) String() string { return s.text }

// Location is the zone the spec's fields are read in (the host's local
// zone unless CRON_TZ= names one).
func (s Spec) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}
