package jobs_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo

	"github.com/peoplesync/peoplesync/jobs"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, expr string, loc *time.Location) *jobs.Schedule {
	t.Helper()
	s, err := jobs.ParseSchedule(expr, loc)
	if err != nil {
		t.Fatalf("ParseSchedule(%q): %v", expr, err)
	}
	return s
}

// runsBetween lists the run times of s in (from, to] by iterating Next.
func runsBetween(s *jobs.Schedule, from, to time.Time) []time.Time {
	var out []time.Time
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		out = append(out, t)
	}
	return out
}

func TestParseSchedule(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		expr      string
		wantErr   string
		fixed     bool
		every     time.Duration
		zone      string
		firstFrom string // RFC 3339, in ny unless the expression sets a zone
		first     string // RFC 3339
	}{
		{expr: "30 2 * * *", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-05T02:30:00-05:00"},
		{expr: "  0 0,12 * * mon-fri ", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-03T13:00:00-05:00", first: "2026-01-05T00:00:00-05:00"}, // Saturday -> Monday
		{expr: "15 30 2 * * *", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-05T02:30:15-05:00"},
		{expr: "*/10 * * * * *", zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:05-05:00", first: "2026-01-05T00:00:10-05:00"},
		{expr: "*/15 * * * *", zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-05T00:15:00-05:00"},
		{expr: "0 1-3 * * *", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T01:00:00-05:00", first: "2026-01-05T02:00:00-05:00"},
		{expr: "@yearly", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2027-01-01T00:00:00-05:00"},
		{expr: "@annually", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2027-01-01T00:00:00-05:00"},
		{expr: "@monthly", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-02-01T00:00:00-05:00"},
		{expr: "@weekly", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-11T00:00:00-05:00"},
		{expr: "@daily", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-06T00:00:00-05:00"},
		{expr: "@midnight", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-06T00:00:00-05:00"},
		{expr: "@hourly", zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-05T01:00:00-05:00"},
		{expr: "@every 90m", every: 90 * time.Minute, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00.5-05:00", first: "2026-01-05T01:30:00-05:00"},
		{expr: "CRON_TZ=Europe/Berlin 0 3 * * *", fixed: true, zone: "Europe/Berlin",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-06T03:00:00+01:00"},
		{expr: "TZ=Asia/Kolkata @daily", fixed: true, zone: "Asia/Kolkata",
			firstFrom: "2026-01-05T00:00:00+05:30", first: "2026-01-06T00:00:00+05:30"},
		// Day-of-month and day-of-week: either matches unless one starts with '*'.
		{expr: "0 0 13 * 5", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-09T00:00:00-05:00"}, // Friday 9th
		{expr: "0 0 */2 * 5", fixed: true, zone: "America/New_York", // odd Fridays (cronie: '*' first => AND)
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-09T00:00:00-05:00"},
		{expr: "0 0 */2 * 5", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-09T00:00:00-05:00", first: "2026-01-23T00:00:00-05:00"},
		{expr: "0 0 29 2 *", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2028-02-29T00:00:00-05:00"},
		// 7 is Sunday too, as in crontab(5); 2026-01-05 is a Monday.
		{expr: "0 2 * * 7", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-11T02:00:00-05:00"},
		{expr: "0 2 * * 6-7", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-10T03:00:00-05:00", first: "2026-01-11T02:00:00-05:00"},
		{expr: "0 2 * * 2-7/2", fixed: true, zone: "America/New_York", // tue, thu, sat
			firstFrom: "2026-01-08T03:00:00-05:00", first: "2026-01-10T02:00:00-05:00"},
		{expr: "0 2 * * fri-7", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T00:00:00-05:00", first: "2026-01-09T02:00:00-05:00"},
		{expr: "0 2 * * mon,7", fixed: true, zone: "America/New_York",
			firstFrom: "2026-01-05T03:00:00-05:00", first: "2026-01-11T02:00:00-05:00"},

		{expr: "", wantErr: "empty expression"},
		{expr: "* * * *", wantErr: "expected 5 to 6 fields"},
		{expr: "* * * * * * *", wantErr: "expected 5 to 6 fields"},
		{expr: "60 * * * *", wantErr: "above maximum"},
		{expr: "* 24 * * *", wantErr: "above maximum"},
		{expr: "* * * * 8", wantErr: "above maximum"},
		{expr: "* * * * 8-7", wantErr: "8"},
		{expr: "@fortnightly", wantErr: "unrecognized descriptor"},
		{expr: "@every", wantErr: "@every DURATION"},
		{expr: "@every 500ms", wantErr: "at least 1s"},
		{expr: "@every 1.5s", wantErr: "whole number of seconds"},
		{expr: "@every soon", wantErr: "invalid duration"},
		{expr: "CRON_TZ=Mars/Olympus 0 2 * * *", wantErr: "Mars/Olympus"},
		{expr: "CRON_TZ=UTC", wantErr: "nothing after the time zone"},
		{expr: "TZ= 0 2 * * *", wantErr: "empty time zone"},
		{expr: "0 0 30 2 *", wantErr: "never runs"},
		{expr: "0 0 31 4,6,9,11 *", wantErr: "never runs"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := jobs.ParseSchedule(tc.expr, ny)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSchedule(%q) error = %v, want one containing %q", tc.expr, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tc.expr, err)
			}
			if got := s.FixedTime(); got != tc.fixed {
				t.Errorf("FixedTime() = %v, want %v", got, tc.fixed)
			}
			if got, _ := s.Every(); got != tc.every {
				t.Errorf("Every() = %v, want %v", got, tc.every)
			}
			if got := s.Location().String(); got != tc.zone {
				t.Errorf("Location() = %s, want %s", got, tc.zone)
			}
			if got := s.String(); got != strings.TrimSpace(tc.expr) {
				t.Errorf("String() = %q, want %q", got, strings.TrimSpace(tc.expr))
			}
			from, err := time.Parse(time.RFC3339Nano, tc.firstFrom)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Next(from)
			if got.Format(time.RFC3339) != tc.first {
				t.Errorf("Next(%s) = %s, want %s", tc.firstFrom, got.Format(time.RFC3339), tc.first)
			}
			if got.Location() != s.Location() {
				t.Errorf("Next returned a time in %s, want the schedule's zone %s", got.Location(), s.Location())
			}
		})
	}
}

func TestParseScheduleNilLocationIsUTC(t *testing.T) {
	s := mustParse(t, "0 2 * * *", nil)
	if s.Location() != time.UTC {
		t.Fatalf("Location() = %v, want UTC", s.Location())
	}
}

// TestScheduleIssueExamples checks the examples the issue spells out.
func TestScheduleIssueExamples(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		expr string
		day  time.Time
		want []string
	}{
		{"30 2 * * *", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), []string{"2026-03-08T03:00:00-04:00"}},
		{"30 1 * * *", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), []string{"2026-11-01T01:30:00-04:00"}},
		// robfig/cron v3.0.1 gets both of these wrong (none and two runs).
		{"0 2 * * *", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), []string{"2026-03-08T03:00:00-04:00"}},
		{"0 1 * * *", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), []string{"2026-11-01T01:00:00-04:00"}},
		// Wildcard hours follow real time.
		{"30 * * * *", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), []string{
			"2026-03-08T00:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
		{"30 * * * *", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), []string{
			"2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"}},
		{"0,30 1,2 * * *", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), []string{
			"2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"}},
		{"@every 1h", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), []string{
			"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.expr+" on "+tc.day.Format(time.DateOnly), func(t *testing.T) {
			s := mustParse(t, tc.expr, ny)
			from := tc.day
			if _, ok := s.Every(); !ok {
				from = from.Add(-time.Nanosecond) // include midnight itself
			}
			to := tc.day.Add(3 * time.Hour) // real time: covers 02:59 wall clock either way
			var got []string
			for _, r := range runsBetween(s, from, to) {
				got = append(got, r.Format(time.RFC3339))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("runs of %q from %s:\n got %v\nwant %v", tc.expr, tc.day, got, tc.want)
			}
		})
	}
}

// minute is one real minute of a simulated year with its wall-clock time in
// the zone under test.
type minute struct {
	at    time.Time // the instant
	civil int64     // wall-clock time as Unix seconds of the same fields in UTC
	f     fields
}

type fields struct{ mon, dom, hour, min, dow int }

// simulateYear returns every real minute from start for a year (and a day),
// with its wall-clock time in loc.
// It reuses buf's storage.
func simulateYear(buf []minute, start time.Time, loc *time.Location) []minute {
	n := 366*24*60 + 24*60
	out := buf[:0]
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute).In(loc)
		y, mo, d := at.Date()
		h, mi, _ := at.Clock()
		c := time.Date(y, mo, d, h, mi, 0, 0, time.UTC).Unix()
		out = append(out, minute{at: at, civil: c, f: fields{int(mo), d, h, mi, int(at.Weekday())}})
	}
	return out
}

// TestScheduleYearAgainstOracle simulates a whole year of real minutes in
// several zones and compares the runs Next produces with an oracle written
// from cronie's rule, independently of Schedule:
//
//   - fixed-time jobs: each matching wall-clock time c runs once, at the
//     first real minute whose wall clock reads c or later (so a skipped c
//     runs right after the jump and a repeated c only in the first pass);
//   - other jobs: every real minute whose wall clock matches runs.
//
// That is the "no double run, no lost run" check, over every DST change of
// the year.
func TestScheduleYearAgainstOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a year per zone")
	}
	specs := []struct {
		expr  string
		fixed bool
		match func(f fields) bool
	}{
		{"30 2 * * *", true, func(f fields) bool { return f.hour == 2 && f.min == 30 }},
		{"30 1 * * *", true, func(f fields) bool { return f.hour == 1 && f.min == 30 }},
		{"0 0 * * *", true, func(f fields) bool { return f.hour == 0 && f.min == 0 }},
		{"45 23 * * *", true, func(f fields) bool { return f.hour == 23 && f.min == 45 }},
		{"0,20,40 1,2 * * *", true, func(f fields) bool { return (f.hour == 1 || f.hour == 2) && f.min%20 == 0 }},
		{"10 3 * * 0", true, func(f fields) bool { return f.hour == 3 && f.min == 10 && f.dow == 0 }},
		{"0 2 1,15 * *", true, func(f fields) bool { return f.hour == 2 && f.min == 0 && (f.dom == 1 || f.dom == 15) }},
		{"*/15 * * * *", false, func(f fields) bool { return f.min%15 == 0 }},
		{"30 * * * *", false, func(f fields) bool { return f.min == 30 }},
		{"0 */2 * * *", false, func(f fields) bool { return f.min == 0 && f.hour%2 == 0 }},
		{"15 1-3 * * *", true, func(f fields) bool { return f.min == 15 && f.hour >= 1 && f.hour <= 3 }},
		{"*/20 1-3 * * *", false, func(f fields) bool { return f.min%20 == 0 && f.hour >= 1 && f.hour <= 3 }},
		{"0-59/30 2 * * *", true, func(f fields) bool { return f.min%30 == 0 && f.hour == 2 }},
		{"* 2 * * 0", false, func(f fields) bool { return f.hour == 2 && f.dow == 0 }},
	}
	zones := []struct {
		name string
		year int
	}{
		{"America/New_York", 2026},
		{"Europe/Berlin", 2026},
		{"Europe/London", 2026},       // changes at 01:00 UTC, wall clock 01:00 <-> 02:00
		{"Australia/Sydney", 2026},    // southern hemisphere: forward in October, back in April
		{"Australia/Lord_Howe", 2026}, // 30-minute DST
		{"America/Sao_Paulo", 2018},   // DST started at midnight: 00:00 did not exist
		{"America/Havana", 2026},      // changes at midnight (00:00 -> 01:00, 01:00 -> 00:00)
		{"Pacific/Apia", 2011},        // skipped all of 2011-12-30
		{"Asia/Kolkata", 2026},        // no DST
		{"UTC", 2026},
	}
	var (
		year     = make([]minute, 0, 367*24*60)
		calendar = make([]civilMinute, 0, 368*24*60)
	)
	for _, z := range zones {
		t.Run(z.name, func(t *testing.T) {
			loc := mustLoad(t, z.name)
			start := time.Date(z.year, 1, 1, 0, 0, 0, 0, loc)
			year = simulateYear(year, start, loc)
			calendar = calendarOf(calendar, year)
			first, last := year[0].at, year[len(year)-1].at
			for _, sp := range specs {
				s := mustParse(t, sp.expr, loc)
				if s.FixedTime() != sp.fixed {
					t.Fatalf("%q: FixedTime() = %v, want %v", sp.expr, s.FixedTime(), sp.fixed)
				}
				want := oracleRuns(year, calendar, sp.fixed, sp.match)
				got := runsBetween(s, first.Add(-time.Nanosecond), last)
				if err := compareRuns(got, want); err != "" {
					t.Errorf("%s %q: %s", z.name, sp.expr, err)
				}
			}
		})
	}
}

// civilMinute is one minute of the wall-clock calendar, whether or not it
// occurs in real time.
type civilMinute struct {
	civil int64
	f     fields
}

// calendarOf lists the wall-clock minutes the simulated year spans.
// It reuses buf's storage.
func calendarOf(buf []civilMinute, year []minute) []civilMinute {
	out := buf[:0]
	c0 := time.Unix(year[0].civil, 0).UTC()
	end := time.Unix(year[len(year)-1].civil, 0).UTC()
	for day := c0; !day.After(end); day = day.AddDate(0, 0, 1) {
		f := fields{mon: int(day.Month()), dom: day.Day(), dow: int(day.Weekday())}
		for m := range 24 * 60 {
			f.hour, f.min = m/60, m%60
			c := day.Unix() + int64(m)*60
			if c > end.Unix() {
				break
			}
			out = append(out, civilMinute{c, f})
		}
	}
	return out
}

func oracleRuns(year []minute, calendar []civilMinute, fixed bool, match func(fields) bool) []time.Time {
	var want []time.Time
	if !fixed {
		for i := range year {
			if match(year[i].f) {
				want = append(want, year[i].at)
			}
		}
		return want
	}
	// Matching wall-clock times of the calendar, ascending.
	var civils []int64
	for i := range calendar {
		if match(calendar[i].f) {
			civils = append(civils, calendar[i].civil)
		}
	}
	// Sweep real minutes: each wall-clock time is due at the first minute
	// whose wall clock reaches it.
	next := 0
	for i := range year {
		due := false
		for next < len(civils) && civils[next] <= year[i].civil {
			due = true
			next++
		}
		if due {
			want = append(want, year[i].at)
		}
	}
	return want
}

func compareRuns(got, want []time.Time) string {
	gi, wi := 0, 0
	var diffs []string
	for (gi < len(got) || wi < len(want)) && len(diffs) < 6 {
		switch {
		case wi == len(want) || (gi < len(got) && got[gi].Before(want[wi])):
			diffs = append(diffs, "extra run "+got[gi].Format(time.RFC3339))
			gi++
		case gi == len(got) || want[wi].Before(got[gi]):
			diffs = append(diffs, "missing run "+want[wi].Format(time.RFC3339))
			wi++
		default:
			gi++
			wi++
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return strings.Join(diffs, "; ") + " (" + itoa(len(got)) + " runs, want " + itoa(len(want)) + ")"
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestScheduleSecondsAcrossDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	// Every 20 seconds in minute 30 of every hour: wildcard, follows real time.
	s := mustParse(t, "*/20 30 * * * *", ny)
	from := time.Date(2026, 11, 1, 1, 0, 0, 0, ny) // 01:00 EDT, first pass
	got := s.NextN(from, 6)
	want := []string{
		"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:20-04:00", "2026-11-01T01:30:40-04:00",
		"2026-11-01T01:30:00-05:00", "2026-11-01T01:30:20-05:00", "2026-11-01T01:30:40-05:00",
	}
	for i, g := range got {
		if g.Format(time.RFC3339) != want[i] {
			t.Fatalf("run %d = %s, want %s (all: %v)", i, g.Format(time.RFC3339), want[i], got)
		}
	}
	// A fixed second in a skipped minute runs right after the jump, once.
	s = mustParse(t, "45 30 2 * * *", ny)
	runs := runsBetween(s, time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny))
	if len(runs) != 1 || runs[0].Format(time.RFC3339) != "2026-03-08T03:00:00-04:00" {
		t.Fatalf("runs on 2026-03-08 = %v, want one at 03:00 EDT", runs)
	}
}

func TestScheduleEveryFollowsRealTime(t *testing.T) {
	lh := mustLoad(t, "Australia/Lord_Howe")
	s := mustParse(t, "@every 30m", lh)
	from := time.Date(2026, 10, 4, 0, 0, 0, 0, lh) // DST starts 02:00 -> 02:30
	runs := s.NextN(from, 8)
	for i, r := range runs {
		prev := from
		if i > 0 {
			prev = runs[i-1]
		}
		if d := r.Sub(prev); d != 30*time.Minute {
			t.Fatalf("run %d at %s is %s after the previous one, want 30m", i, r, d)
		}
		if r.Location() != lh {
			t.Fatalf("run %d in %s, want %s", i, r.Location(), lh)
		}
	}
	// Sub-second start times round down to the second.
	got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 999_000_000, time.UTC))
	if want := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next = %s, want %s", got, want)
	}
}

// TestScheduleFarFuture checks zones whose rules continue past the last
// transition listed in the database (Go extends them with the POSIX rule).
func TestScheduleFarFuture(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s := mustParse(t, "30 2 * * *", ny)
	runs := runsBetween(s, time.Date(2099, 3, 8, 0, 0, 0, 0, ny), time.Date(2099, 3, 9, 0, 0, 0, 0, ny))
	if len(runs) != 1 || runs[0].Format(time.RFC3339) != "2099-03-08T03:00:00-04:00" {
		t.Fatalf("runs on 2099-03-08 = %v, want one at 03:00 EDT", runs)
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	ny := mustLoad(b, "America/New_York")
	s := mustParse(b, "30 2 * * *", ny)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, ny)
	for b.Loop() {
		t = s.Next(t)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{"30 2 * * *", "@every 1h", "CRON_TZ=Europe/Berlin 0 3 * * *", "*/5 1-3 * jan mon-fri", "0 0 30 2 *", "TZ="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := jobs.ParseSchedule(expr, time.UTC)
		if err != nil {
			return
		}
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		prev := from
		for _, r := range s.NextN(from, 3) {
			if !r.After(prev) {
				t.Fatalf("%q: run %s not after %s", expr, r, prev)
			}
			prev = r
		}
		again, err := jobs.ParseSchedule(s.String(), time.UTC)
		if err != nil {
			t.Fatalf("%q: parse of String() %q failed: %v", expr, s.String(), err)
		}
		if !slices.EqualFunc(again.NextN(from, 3), s.NextN(from, 3), time.Time.Equal) {
			t.Fatalf("%q: String() round trip changed the runs", expr)
		}
	})
}

// TestScheduleSundaySeven: 7 and 0 are both Sunday, alone, in ranges and
// with steps, as in crontab(5).
func TestScheduleSundaySeven(t *testing.T) {
	from := time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC) // a Sunday, after 02:00
	week := from.AddDate(0, 0, 7)
	for expr, want := range map[string][]time.Weekday{
		"0 2 * * 7":     {time.Sunday},
		"0 2 * * 0,7":   {time.Sunday},
		"0 2 * * 5-7":   {time.Friday, time.Saturday, time.Sunday},
		"0 2 * * 0-7":   {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday},
		"0 2 * * 1-7/3": {time.Monday, time.Thursday, time.Sunday},
		"0 2 * * 7/2":   {time.Sunday},
	} {
		var got []time.Weekday
		for _, r := range runsBetween(mustParse(t, expr, time.UTC), from, week) {
			got = append(got, r.Weekday())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q runs on %v in a week, want %v", expr, got, want)
		}
	}
}
