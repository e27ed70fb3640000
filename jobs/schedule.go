package jobs

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser parses the expressions ParseSchedule accepts. Time zone
// prefixes are stripped before it sees them (see ParseSchedule).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// searchYears bounds the search for the next run: a schedule with no match
// in that many years (such as "0 0 30 2 *") never runs. February 29 on a
// given weekday recurs within 28 years.
const searchYears = 30

// Schedule is a parsed cron expression together with the time zone it is
// evaluated in. Its Next method, not robfig/cron's, decides when a job runs,
// because robfig/cron v3.0.1 skips or doubles fixed-time jobs across DST
// changes.
//
// Across a daylight-saving change Schedule follows cronie's documented rule
// (cron(8)):
//
//   - A fixed-time job, none of whose second, minute and hour fields starts
//     with '*' ("30 2 * * *", "0 0,12 * * *", "15 1-3 * * *", "@daily"),
//     runs each matching wall-clock time once: a time skipped by a
//     spring-forward change runs right after the jump, and a time that
//     occurs twice runs at its first occurrence only.
//   - A wildcard job (one of those fields starts with '*': "*/15 * * * *",
//     "0 */2 * * *", "@hourly") follows real time: it runs at every instant
//     whose wall-clock time matches, so it does not run in a skipped
//     interval and runs in both passes of a repeated one.
//   - "@every D" runs D after the previous run's scheduled time, in real
//     time, independent of any zone.
//
// A Schedule is immutable and safe for concurrent use.
type Schedule struct {
	expr  string
	loc   *time.Location
	every time.Duration // > 0 for "@every D"
	spec  *cron.SpecSchedule
	// domStar and dowStar follow cronie: a day field that starts with '*'
	// (or '?') makes the day match an AND of both day fields; otherwise a
	// day matches when either field does.
	domStar, dowStar bool
	fixed            bool
}

// ParseSchedule parses a cron expression evaluated in loc (nil means UTC).
//
// It accepts five fields (minute hour day-of-month month day-of-week), six
// with a leading seconds field, the descriptors @yearly, @annually,
// @monthly, @weekly, @daily, @midnight and @hourly, "@every DURATION"
// (a whole number of seconds, at least 1s), and a leading "CRON_TZ=Zone " or
// "TZ=Zone " prefix that overrides loc. Month and weekday names (jan, mon)
// are accepted; day of week runs from 0 (Sunday) to 7 (Sunday again), as
// in crontab(5).
func ParseSchedule(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	rest := strings.TrimSpace(expr)
	if rest == "" {
		return nil, errors.New("parse schedule: empty expression")
	}
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if !strings.HasPrefix(rest, prefix) {
			continue
		}
		zone, tail, _ := strings.Cut(rest[len(prefix):], " ")
		if zone == "" {
			return nil, fmt.Errorf("parse schedule %q: empty time zone after %s", expr, prefix)
		}
		l, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("parse schedule %q: time zone %q: %w", expr, zone, err)
		}
		loc = l
		rest = strings.TrimSpace(tail)
		if rest == "" {
			return nil, fmt.Errorf("parse schedule %q: nothing after the time zone", expr)
		}
		break
	}

	s := &Schedule{expr: strings.TrimSpace(expr), loc: loc}
	if strings.HasPrefix(rest, "@every") {
		d, err := parseEvery(rest)
		if err != nil {
			return nil, fmt.Errorf("parse schedule %q: %w", expr, err)
		}
		s.every = d
		return s, nil
	}

	if !strings.HasPrefix(rest, "@") {
		if f := strings.Fields(rest); len(f) == 5 || len(f) == 6 {
			f[len(f)-1] = sundaySeven(f[len(f)-1])
			rest = strings.Join(f, " ")
		}
	}
	parsed, err := cronParser.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", expr, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("parse schedule %q: unsupported schedule type %T", expr, parsed)
	}
	s.spec = spec

	if strings.HasPrefix(rest, "@") {
		// Descriptors: everything but @hourly is a fixed time of day.
		s.fixed = rest != "@hourly"
		s.domStar = true
		s.dowStar = true
		return s, nil
	}
	fields := strings.Fields(rest)
	if len(fields) == 5 {
		fields = append([]string{"0"}, fields...)
	}
	// The parser validated the field count: 6 fields now.
	// cronie's "wildcard" job has a minute or hour field starting with '*'.
	s.fixed = !startsWithStar(fields[0]) && !startsWithStar(fields[1]) && !startsWithStar(fields[2])
	s.domStar = startsWithStar(fields[3])
	s.dowStar = startsWithStar(fields[5])
	// Any date recurs within 28 years: a schedule with no match in 30
	// (such as "0 0 30 2 *") never runs, which is a mistake.
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if s.nextCivil(ref, ref.AddDate(searchYears, 0, 0)).IsZero() {
		return nil, fmt.Errorf("parse schedule %q: no date matches the day and month fields, so it never runs", expr)
	}
	return s, nil
}

// sundaySeven rewrites a day-of-week field in which 7 means Sunday, as
// crontab(5) allows ("7", "5-7", "1-7/2"), into the 0-6 that robfig's
// parser takes ("0", "5-6,0", "1,3,5,0"). Anything else is left for the
// parser to accept or refuse.
func sundaySeven(field string) string {
	if !strings.Contains(field, "7") {
		return field
	}
	parts := strings.Split(field, ",")
	for i, part := range parts {
		rng, step, hasStep := strings.Cut(part, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		switch {
		case !isRange && lo == "7":
			parts[i] = "0" // "7", and "7/N", which is 7 alone
		case isRange && hi == "7":
			from, err1 := dayNumber(lo)
			by, err2 := 1, error(nil)
			if hasStep {
				by, err2 = strconv.Atoi(step)
			}
			if err1 != nil || err2 != nil || by < 1 || from > 7 {
				continue
			}
			var days []string
			for d := from; d <= 7; d += by {
				days = append(days, strconv.Itoa(d%7))
			}
			parts[i] = strings.Join(days, ",")
		}
	}
	return strings.Join(parts, ",")
}

// dayNumber is a day of week as a number ("3") or a name ("wed").
func dayNumber(s string) (int, error) {
	for i, name := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		if strings.EqualFold(s, name) {
			return i, nil
		}
	}
	return strconv.Atoi(s)
}

func parseEvery(rest string) (time.Duration, error) {
	arg, ok := strings.CutPrefix(rest, "@every ")
	if !ok {
		return 0, fmt.Errorf("want \"@every DURATION\", got %q", rest)
	}
	d, err := time.ParseDuration(strings.TrimSpace(arg))
	if err != nil {
		return 0, fmt.Errorf("@every: %w", err)
	}
	if d < time.Second {
		return 0, fmt.Errorf("@every %s: the interval must be at least 1s", d)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("@every %s: the interval must be a whole number of seconds", d)
	}
	return d, nil
}

func startsWithStar(field string) bool {
	return strings.HasPrefix(field, "*") || strings.HasPrefix(field, "?")
}

// String returns the expression as given to ParseSchedule.
func (s *Schedule) String() string { return s.expr }

// Location returns the time zone the schedule is evaluated in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Every returns the interval of an "@every" schedule and true, or 0 and
// false for a calendar schedule.
func (s *Schedule) Every() (time.Duration, bool) { return s.every, s.every > 0 }

// FixedTime reports whether the schedule runs at fixed wall-clock times
// (see Schedule for what that changes across DST).
func (s *Schedule) FixedTime() bool { return s.fixed }

// Next returns the first run time strictly after t, in the schedule's time
// zone. Runs fall on whole seconds. It returns the zero Time only when no
// run is found within 30 years, which ParseSchedule rules out.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.Round(0) // drop the monotonic reading: schedules are wall-clock
	if s.every > 0 {
		return t.Truncate(time.Second).Add(s.every).In(s.loc)
	}
	t = t.In(s.loc)
	limit := civil(t).AddDate(searchYears, 0, 0)

	// Walk the zone's periods of constant UTC offset. Within one period,
	// wall-clock time and real time map one to one.
	cur := t
	for range 4 * searchYears * 2 {
		start, end := cur.ZoneBounds()
		_, off := cur.Zone()
		prevOff := off
		if !start.IsZero() {
			_, prevOff = start.Add(-time.Second).Zone()
		}
		newPeriod := !start.IsZero() && start.After(t) // cur == start

		// A forward jump at the start of this period skipped the
		// wall-clock interval [start at prevOff, start at off). A fixed
		// job due in it runs right after the jump, at start.
		if s.fixed && newPeriod && off > prevOff {
			from := civilAt(start, prevOff)
			if c := s.nextCivil(from, limit); !c.IsZero() && c.Before(civilAt(start, off)) {
				return start
			}
		}

		var from time.Time
		if newPeriod {
			from = civilAt(start, off)
		} else {
			from = civil(t).Truncate(time.Second).Add(time.Second)
		}
		// A backward jump at the start of this period repeats the
		// wall-clock interval [start at off, start at prevOff). A fixed
		// job ran there in the first pass already.
		if s.fixed && !start.IsZero() && prevOff > off {
			if seen := civilAt(start, prevOff); from.Before(seen) {
				from = seen
			}
		}
		c := s.nextCivil(from, limit)
		if c.IsZero() {
			return time.Time{}
		}
		at := time.Unix(c.Unix()-int64(off), 0).In(s.loc)
		if end.IsZero() || at.Before(end) {
			return at
		}
		cur = end
	}
	return time.Time{}
}

// NextN returns the next n run times after t (fewer if the schedule ends).
func (s *Schedule) NextN(t time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// civil returns t's wall-clock time in its own location as a UTC time: a
// calendar with no DST, where arithmetic is safe.
func civil(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// civilAt returns the wall-clock time of instant t at UTC offset off
// (seconds east), as a UTC time.
func civilAt(t time.Time, off int) time.Time {
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// nextCivil returns the first wall-clock time at or after from (a civil
// time, see civil) that matches the schedule's fields, or the zero Time if
// there is none before limit.
func (s *Schedule) nextCivil(from, limit time.Time) time.Time {
	sp := s.spec
	t := from
	if t.Nanosecond() != 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	for !t.After(limit) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		if sp.Month&(1<<uint(mo)) == 0 {
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if nh, ok := nextBit(sp.Hour, h, 23); !ok {
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
			continue
		} else if nh != h {
			t = time.Date(y, mo, d, nh, 0, 0, 0, time.UTC)
			continue
		}
		if nm, ok := nextBit(sp.Minute, mi, 59); !ok {
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
			continue
		} else if nm != mi {
			t = time.Date(y, mo, d, h, nm, 0, 0, time.UTC)
			continue
		}
		if ns, ok := nextBit(sp.Second, sec, 59); !ok {
			t = time.Date(y, mo, d, h, mi+1, 0, 0, time.UTC)
			continue
		} else if ns != sec {
			t = time.Date(y, mo, d, h, mi, ns, 0, time.UTC)
			continue
		}
		return t
	}
	return time.Time{}
}

// dayMatches applies cron's day rule: when either day field starts with
// '*', both must match; otherwise either may.
func (s *Schedule) dayMatches(t time.Time) bool {
	domMatch := s.spec.Dom&(1<<uint(t.Day())) != 0
	dowMatch := s.spec.Dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

// nextBit returns the smallest set bit of mask in [from, max].
func nextBit(mask uint64, from, max int) (int, bool) {
	m := mask &^ (1<<uint(from) - 1)
	if m == 0 {
		return 0, false
	}
	b := bits.TrailingZeros64(m)
	if b > max {
		return 0, false
	}
	return b, true
}
