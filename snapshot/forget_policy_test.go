package snapshot

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// at parses an RFC 3339 time (its zone is the zone the snapshot was
// recorded in).
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verdicts renders decisions as "TIME keep REASONS" or "TIME forget", one
// per snapshot, newest first.
func verdicts(items []policyItem, ds []policyDecision) string {
	var b strings.Builder
	for i, d := range ds {
		if d.Keep {
			fmt.Fprintf(&b, "%s keep %s\n", items[i].Time.Format("2006-01-02T15:04Z07:00"), strings.Join(d.Reasons, ", "))
		} else {
			fmt.Fprintf(&b, "%s forget\n", items[i].Time.Format("2006-01-02T15:04Z07:00"))
		}
	}
	return b.String()
}

func TestPolicy(t *testing.T) {
	now := at(t, "2024-06-01T00:00:00Z")
	// Sundays from restic's documentation (060_forget.rst): one backup every
	// Sunday for 12 weeks, 2019-09-01 to 2019-11-17, 11:00.
	var sundays []policyItem
	for d := at(t, "2019-11-17T11:00:00Z"); !d.Before(at(t, "2019-09-01T11:00:00Z")); d = d.AddDate(0, 0, -7) {
		sundays = append(sundays, policyItem{Time: d})
	}
	items := func(times ...string) []policyItem {
		var out []policyItem
		for _, s := range times {
			tag := ""
			s, tag, _ = strings.Cut(s, " #")
			it := policyItem{Time: at(t, s)}
			if tag != "" {
				it.Tags = []string{tag}
			}
			out = append(out, it)
		}
		return out
	}
	tests := []struct {
		name   string
		policy Policy
		items  []policyItem
		want   string
	}{{
		// restic: "forget --keep-daily 4 will keep the last four
		// snapshots, for the last four Sundays, and remove the others".
		name: "restic's Sundays, keep-daily 4", policy: Policy{Daily: 4}, items: sundays,
		want: `2019-11-17T11:00Z keep daily 1
2019-11-10T11:00Z keep daily 2
2019-11-03T11:00Z keep daily 3
2019-10-27T11:00Z keep daily 4
2019-10-20T11:00Z forget
2019-10-13T11:00Z forget
2019-10-06T11:00Z forget
2019-09-29T11:00Z forget
2019-09-22T11:00Z forget
2019-09-15T11:00Z forget
2019-09-08T11:00Z forget
2019-09-01T11:00Z forget
`,
	}, {
		name: "keep-last with a tag: the tagged one is kept and counts", policy: Policy{Last: 2},
		items: items("2024-03-04T10:00:00Z", "2024-03-03T10:00:00Z #keep-me", "2024-03-02T10:00:00Z", "2024-03-01T10:00:00Z #v1"),
		want: `2024-03-04T10:00Z keep last 1
2024-03-03T10:00Z keep tagged keep-me, last 2
2024-03-02T10:00Z forget
2024-03-01T10:00Z keep tagged v1
`,
	}, {
		name: "keep-tag alone forgets every untagged snapshot", policy: Policy{Tags: []string{"keep-me"}},
		items: items("2024-03-04T10:00:00Z", "2024-03-03T10:00:00Z #keep-me", "2024-03-02T10:00:00Z"),
		want: `2024-03-04T10:00Z forget
2024-03-03T10:00Z keep tagged keep-me
2024-03-02T10:00Z forget
`,
	}, {
		name: "daily counts only days that have snapshots", policy: Policy{Daily: 3},
		items: items("2024-03-10T09:00:00Z", "2024-03-10T08:00:00Z", "2024-03-05T08:00:00Z", "2024-02-01T08:00:00Z", "2024-01-01T08:00:00Z"),
		want: `2024-03-10T09:00Z keep daily 1
2024-03-10T08:00Z forget
2024-03-05T08:00Z keep daily 2
2024-02-01T08:00Z keep daily 3
2024-01-01T08:00Z forget
`,
	}, {
		// restic: "If there are not enough snapshots to keep one for each
		// duration related option, the oldest snapshot is kept
		// additionally".
		name: "a rule with periods left keeps the oldest", policy: Policy{Daily: 7},
		items: items("2024-03-01T12:00:00Z", "2024-03-01T11:00:00Z", "2024-03-01T10:00:00Z"),
		want: `2024-03-01T12:00Z keep daily 1
2024-03-01T11:00Z forget
2024-03-01T10:00Z keep oldest daily
`,
	}, {
		// 2020-12-28 (Monday) and 2021-01-03 (Sunday) are both in ISO week
		// 2020-W53; 2020-12-27 (Sunday) is in 2020-W52.
		name: "weeks are ISO weeks", policy: Policy{Weekly: 2},
		items: items("2021-01-03T10:00:00Z", "2020-12-28T10:00:00Z", "2020-12-27T10:00:00Z", "2020-12-21T10:00:00Z"),
		want: `2021-01-03T10:00Z keep weekly 1
2020-12-28T10:00Z forget
2020-12-27T10:00Z keep weekly 2
2020-12-21T10:00Z forget
`,
	}, {
		name: "hourly, monthly and yearly", policy: Policy{Hourly: 2, Monthly: 2, Yearly: 3},
		items: items("2024-03-01T10:30:00Z", "2024-03-01T10:10:00Z", "2024-03-01T09:50:00Z", "2024-02-10T09:00:00Z", "2024-02-01T09:00:00Z", "2023-05-01T09:00:00Z", "2022-05-01T09:00:00Z"),
		want: `2024-03-01T10:30Z keep hourly 1, monthly 1, yearly 1
2024-03-01T10:10Z forget
2024-03-01T09:50Z keep hourly 2
2024-02-10T09:00Z keep monthly 2
2024-02-01T09:00Z forget
2023-05-01T09:00Z keep yearly 2
2022-05-01T09:00Z keep yearly 3
`,
	}, {
		name: "within counts from the newest snapshot, not from now", policy: Policy{Within: 7 * 24 * time.Hour},
		items: items("2024-01-10T10:00:00Z", "2024-01-05T10:00:00Z", "2024-01-03T10:00:01Z", "2024-01-03T10:00:00Z", "2023-12-01T10:00:00Z"),
		want: `2024-01-10T10:00Z keep within 7d
2024-01-05T10:00Z keep within 7d
2024-01-03T10:00Z keep within 7d
2024-01-03T10:00Z forget
2023-12-01T10:00Z forget
`,
	}, {
		name: "snapshots in the future are kept and not counted", policy: Policy{Last: 1},
		items: items("2024-07-01T10:00:00Z", "2024-05-02T10:00:00Z", "2024-05-01T10:00:00Z"),
		want: `2024-07-01T10:00Z keep in the future
2024-05-02T10:00Z keep last 1
2024-05-01T10:00Z forget
`,
	}, {
		// Days are those of the zone each snapshot was recorded in: at
		// +08:00 the newest is on March 2nd, the others on March 1st (in
		// UTC all three are on March 1st, and daily 2 would keep the
		// newest and the oldest).
		name: "days in the recorded zone", policy: Policy{Daily: 2},
		items: items("2024-03-02T00:30:00+08:00", "2024-03-01T23:30:00+08:00", "2024-03-01T10:00:00+08:00"),
		want: `2024-03-02T00:30+08:00 keep daily 1
2024-03-01T23:30+08:00 keep daily 2
2024-03-01T10:00+08:00 forget
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdicts(tt.items, tt.policy.apply(tt.items, now))
			if got != tt.want {
				t.Errorf("policy %s:\ngot\n%s\nwant\n%s", tt.policy, got, tt.want)
			}
		})
	}
}

// TestPolicyHundredYears is restic's documented example: one backup a day
// for 100 years, "forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12
// --keep-yearly 75 would keep the most recent 7 daily snapshots and 4
// last-day-of-the-week ones (since the 7 dailies already include 1
// weekly)", then the last day of each month and of each year. The days kept
// are worked out here from the calendar, independently.
func TestPolicyHundredYears(t *testing.T) {
	end := time.Date(2024, 5, 12, 3, 0, 0, 0, time.UTC) // a Sunday
	var items []policyItem
	for d := end; d.After(end.AddDate(-100, 0, 0)); d = d.AddDate(0, 0, -1) {
		items = append(items, policyItem{Time: d})
	}
	day := func(d time.Time) string { return d.Format("2006-01-02") }
	daily, weekly, want := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for k := range 7 {
		daily[day(end.AddDate(0, 0, -k))] = true
	}
	for k := range 5 {
		weekly[day(end.AddDate(0, 0, -7*k))] = true // the Sundays
	}
	for k := range 12 {
		d := time.Date(end.Year(), end.Month()-time.Month(k)+1, 0, 3, 0, 0, 0, time.UTC) // last day of a month
		if k == 0 {
			d = end
		}
		want[day(d)] = true
	}
	for k := range 75 {
		d := time.Date(end.Year()-k, 12, 31, 3, 0, 0, 0, time.UTC)
		if k == 0 {
			d = end
		}
		want[day(d)] = true
	}
	extra := 0
	for d := range weekly {
		want[d] = true
		if !daily[d] {
			extra++
		}
	}
	for d := range daily {
		want[d] = true
	}
	if extra != 4 {
		t.Fatalf("the calendar gives %d weekly snapshots beyond the dailies, restic says 4", extra)
	}
	ds := Policy{Daily: 7, Weekly: 5, Monthly: 12, Yearly: 75}.apply(items, end)
	kept := 0
	for i, d := range ds {
		if d.Keep {
			kept++
		}
		if d.Keep != want[day(items[i].Time)] {
			t.Errorf("%s: keep %v (%s), want %v", day(items[i].Time), d.Keep, strings.Join(d.Reasons, ", "), !d.Keep)
		}
	}
	if kept != len(want) {
		t.Errorf("kept %d snapshots, want %d", kept, len(want))
	}
}

func TestPolicyEmptyAndString(t *testing.T) {
	if !(Policy{}).Empty() || !(Policy{Last: 0, Daily: -1}).Empty() {
		t.Error("a policy without a positive rule is not empty")
	}
	for _, p := range []Policy{{Last: 1}, {Within: time.Hour}, {Tags: []string{"x"}}, {Yearly: 2}} {
		if p.Empty() {
			t.Errorf("%s: empty", p)
		}
	}
	p := Policy{Last: 2, Daily: 7, Within: 36 * time.Hour, Tags: []string{"keep-me"}}
	if got, want := p.String(), "last 2, daily 7, within 1d12h, tag keep-me"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseWithin(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"7d", 7 * 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"6m", 0, "months"},
		{"1y", 0, "months and years"},
		{"2y5m7d3h", 0, "months and years"},
		{"1h30m", 0, "months"},
		{"0d", 0, "positive"},
		{"", 0, "positive"},
		{"-3h", 0, "positive"},
		{"seven days", 0, "positive"},
	} {
		got, err := ParseWithin(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseWithin(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseWithin(%q) = %v, %v; want an error mentioning %q", tt.in, got, err, tt.err)
		}
		if err == nil && got%time.Hour == 0 {
			if back, err := ParseWithin(FormatWithin(got)); err != nil || back != got {
				t.Errorf("ParseWithin(FormatWithin(%v) = %q) = %v, %v", got, FormatWithin(got), back, err)
			}
		}
	}
}
