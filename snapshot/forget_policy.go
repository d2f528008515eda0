package snapshot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Policy says which snapshots of a group Forget keeps, with restic's
// semantics: a snapshot is kept if any rule keeps it (the rules are OR'ed),
// and a policy with no rule is refused (Empty).
//
//   - Last keeps the newest Last snapshots.
//   - Hourly, Daily, Weekly, Monthly and Yearly keep the newest snapshot of
//     each of the newest N hours, days, ISO weeks (Monday to Sunday),
//     months or years that have snapshots: periods without a snapshot are
//     not counted. Periods are natural calendar ones, in the time zone the
//     snapshot was recorded in. If a rule still has periods left when it
//     reaches the group's oldest snapshot, that snapshot is kept too
//     ("oldest daily"), so the history kept is as long as possible.
//   - Within keeps every snapshot recorded within that duration before the
//     group's newest snapshot (not before now: a group whose backups
//     stopped keeps its last ones).
//   - Tags keeps the snapshots that have one of these tags. Whatever the
//     policy, a snapshot with any tag is never forgotten while it has one.
//
// Snapshots recorded in the future (after ForgetOptions.Now) are always
// kept and count for no rule.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       time.Duration
	Tags                                         []string // --keep-tag
}

// Empty reports whether the policy has no rule (Forget refuses it).
func (p Policy) Empty() bool {
	return p.Last <= 0 && p.Hourly <= 0 && p.Daily <= 0 && p.Weekly <= 0 && p.Monthly <= 0 && p.Yearly <= 0 &&
		p.Within <= 0 && len(p.Tags) == 0
}

// String describes the policy ("last 2, daily 7, within 7d, tag keep-me").
func (p Policy) String() string {
	var out []string
	for _, c := range []struct {
		n    int
		name string
	}{{p.Last, "last"}, {p.Hourly, "hourly"}, {p.Daily, "daily"}, {p.Weekly, "weekly"}, {p.Monthly, "monthly"}, {p.Yearly, "yearly"}} {
		if c.n > 0 {
			out = append(out, c.name+" "+strconv.Itoa(c.n))
		}
	}
	if p.Within > 0 {
		out = append(out, "within "+FormatWithin(p.Within))
	}
	for _, t := range p.Tags {
		out = append(out, "tag "+t)
	}
	if len(out) == 0 {
		return "empty"
	}
	return strings.Join(out, ", ")
}

// withinRE matches the day-based durations ParseWithin takes: weeks, days
// and hours ("2w", "7d", "1d12h").
var withinRE = regexp.MustCompile(`^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?$`)

// ambiguousRE finds a number followed by y or m (not ms): years and months
// to restic, whose "--keep-within 6m" means six months, and minutes to Go.
var ambiguousRE = regexp.MustCompile(`\d(y|m)(\d|$|[^s])`)

// ParseWithin reads the duration of a keep-within rule: weeks, days and
// hours ("2w", "7d", "1d12h", "36h"), or Go's durations in hours and
// seconds ("1.5h"). Months and years, whose length varies, are refused, and
// so are minutes (restic reads "6m" as six months): give days ("30d",
// "365d").
func ParseWithin(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if ambiguousRE.MatchString(s) {
		return 0, fmt.Errorf("duration %q: months and years vary in length (and m means months to restic, minutes to Go): give weeks, days or hours (4w, 30d, 365d, 36h)", s)
	}
	if m := withinRE.FindStringSubmatch(s); m != nil && s != "" {
		var d time.Duration
		for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour} {
			if m[i+1] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+1], 10, 32)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %v", s, err)
			}
			d += time.Duration(n) * unit
		}
		if d > 0 {
			return d, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("duration %q: want a positive duration such as 7d, 2w, 1d12h or 36h", s)
}

// FormatWithin writes a keep-within duration the way ParseWithin reads it:
// whole days as "7d", else days and Go's form of the rest ("1d12h0m0s"
// becomes "1d12h").
func FormatWithin(d time.Duration) string {
	const day = 24 * time.Hour
	var b strings.Builder
	if d >= day {
		b.WriteString(strconv.FormatInt(int64(d/day), 10) + "d")
		d %= day
	}
	if d > 0 {
		s := d.String()
		s = strings.TrimSuffix(s, "0s")
		s = strings.TrimSuffix(s, "0m")
		b.WriteString(s)
	}
	return b.String()
}

// policyItem is what the policy reads of a snapshot.
type policyItem struct {
	Time time.Time // when recorded, in the zone it was recorded in
	Tags []string
}

// policyDecision is the policy's verdict on one snapshot.
type policyDecision struct {
	Keep    bool
	Reasons []string
}

// bucket is one counting rule: the period a time falls in, and how many
// periods are left.
type bucket struct {
	name   string
	left   int
	n      int // periods kept so far
	period func(t time.Time, nr int) int
	last   int
	used   bool
}

// apply decides which of items, newest first, the policy keeps, as of now.
func (p Policy) apply(items []policyItem, now time.Time) []policyDecision {
	out := make([]policyDecision, len(items))
	buckets := []*bucket{
		{name: "last", left: p.Last, period: func(_ time.Time, nr int) int { return nr }},
		{name: "hourly", left: p.Hourly, period: func(t time.Time, _ int) int {
			return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
		}},
		{name: "daily", left: p.Daily, period: func(t time.Time, _ int) int {
			return t.Year()*10000 + int(t.Month())*100 + t.Day()
		}},
		{name: "weekly", left: p.Weekly, period: func(t time.Time, _ int) int {
			y, w := t.ISOWeek()
			return y*100 + w
		}},
		{name: "monthly", left: p.Monthly, period: func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }},
		{name: "yearly", left: p.Yearly, period: func(t time.Time, _ int) int { return t.Year() }},
	}
	// The newest snapshot not in the future is where Within counts from.
	var latest time.Time
	found := false
	for _, it := range items {
		if !it.Time.After(now) {
			latest, found = it.Time, true
			break
		}
	}
	// The oldest snapshot the counting rules see.
	oldest := -1
	for i := len(items) - 1; i >= 0; i-- {
		if !items[i].Time.After(now) {
			oldest = i
			break
		}
	}
	for nr, it := range items {
		d := &out[nr]
		// Any tag keeps a snapshot (Tags only makes the policy not
		// empty): a tagged snapshot is never forgotten.
		for _, t := range it.Tags {
			d.Keep = true
			d.Reasons = append(d.Reasons, "tagged "+t)
		}
		if it.Time.After(now) {
			d.Keep = true
			d.Reasons = append(d.Reasons, "in the future")
			continue
		}
		if p.Within > 0 && found && it.Time.After(latest.Add(-p.Within)) {
			d.Keep = true
			d.Reasons = append(d.Reasons, "within "+FormatWithin(p.Within))
		}
		for _, b := range buckets {
			if b.left <= 0 {
				continue
			}
			v := b.period(it.Time, nr)
			switch {
			case !b.used || v != b.last:
				b.n++
				d.Reasons = append(d.Reasons, b.name+" "+strconv.Itoa(b.n))
			case nr == oldest:
				d.Reasons = append(d.Reasons, "oldest "+b.name)
			default:
				continue
			}
			d.Keep = true
			b.used, b.last = true, v
			b.left--
		}
	}
	return out
}
