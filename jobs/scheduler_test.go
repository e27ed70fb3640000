package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// The scheduler tests run in synctest bubbles: time.Sleep moves the fake
// clock once every goroutine is blocked, so a simulated day takes
// milliseconds and no test depends on real timing.

// recorder is a RunFunc that notes the wall-clock time of each call.
type recorder struct {
	clock jobs.Clock
	mu    sync.Mutex
	at    []time.Time
}

func (r *recorder) Run(context.Context, *slog.Logger) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, r.clock.Now().Round(0))
	return map[string]int{"calls": len(r.at)}, nil
}

func (r *recorder) Times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

func (r *recorder) Between(from, to time.Time) []time.Time {
	var out []time.Time
	for _, t := range r.Times() {
		if !t.Before(from) && t.Before(to) {
			out = append(out, t)
		}
	}
	return out
}

func startScheduler(t *testing.T, js []jobs.Job, opts jobs.Options) *jobs.Scheduler {
	t.Helper()
	s, err := jobs.NewScheduler(js, opts)
	if err != nil {
		t.Fatalf("NewScheduler: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func stopScheduler(t *testing.T, s *jobs.Scheduler) {
	t.Helper()
	if err := s.Stop(time.Minute); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestSchedulerAcrossDST(t *testing.T) {
	noLeaks(t)
	tests := []struct {
		name    string
		zone    string
		day     string // the day of the change, in the zone
		expr    string
		wantDay []string // runs in the first 4 real hours of that day
	}{
		{"New York spring forward, fixed time in the gap", "America/New_York", "2026-03-08",
			"30 2 * * *", []string{"2026-03-08T03:00:00-04:00"}},
		{"New York spring forward, wildcard hour", "America/New_York", "2026-03-08",
			"0 * * * *", []string{"2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"New York fall back, fixed time repeated", "America/New_York", "2026-11-01",
			"30 1 * * *", []string{"2026-11-01T01:30:00-04:00"}},
		{"New York fall back, wildcard hour", "America/New_York", "2026-11-01",
			"0 * * * *", []string{"2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"Berlin spring forward", "Europe/Berlin", "2026-03-29",
			"30 2 * * *", []string{"2026-03-29T03:00:00+02:00"}},
		{"Berlin fall back", "Europe/Berlin", "2026-10-25",
			"30 2 * * *", []string{"2026-10-25T02:30:00+02:00"}},
		{"Sydney fall back (April)", "Australia/Sydney", "2026-04-05",
			"30 2 * * *", []string{"2026-04-05T02:30:00+11:00"}},
		{"Sydney spring forward (October), seconds field", "Australia/Sydney", "2026-10-04",
			"10 30 2 * * *", []string{"2026-10-04T03:00:00+11:00"}},
		{"Lord Howe 30-minute spring forward", "Australia/Lord_Howe", "2026-10-04",
			"15 2 * * *", []string{"2026-10-04T02:30:00+11:00"}},
		{"Lord Howe 30-minute fall back", "Australia/Lord_Howe", "2026-04-05",
			"45 1 * * *", []string{"2026-04-05T01:45:00+11:00"}},
		{"Lord Howe fall back, every 20 minutes", "Australia/Lord_Howe", "2026-04-05",
			"*/20 1 * * *", []string{"2026-04-05T01:00:00+11:00", "2026-04-05T01:20:00+11:00", "2026-04-05T01:40:00+11:00",
				"2026-04-05T01:40:00+10:30"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := mustLoad(t, tc.zone)
			d, err := time.ParseInLocation(time.DateOnly, tc.day, loc)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Test(t, func(t *testing.T) {
				clock := newBubbleClock(d.Add(-12 * time.Hour))
				rec := &recorder{clock: clock}
				dir := t.TempDir()
				s := startScheduler(t, []jobs.Job{{Name: "j", Schedule: mustParse(t, tc.expr, loc), Run: rec.Run}},
					jobs.Options{StateDir: dir, Clock: clock})
				time.Sleep(36 * time.Hour)
				stopScheduler(t, s)

				var got []string
				for _, r := range rec.Between(d, d.Add(4*time.Hour)) {
					got = append(got, r.In(loc).Format(time.RFC3339))
				}
				if !slices.Equal(got, tc.wantDay) {
					t.Errorf("runs = %v, want %v", got, tc.wantDay)
				}
				// Every run is recorded with its slot, on time.
				for _, r := range history(t, dir, "j") {
					if r.Trigger != jobs.TriggerSchedule || !r.Start.Equal(r.Scheduled) || r.Outcome != jobs.OutcomeSuccess {
						t.Errorf("record %+v: want a successful scheduled run started at its slot", r)
					}
					if string(r.Summary) == "" {
						t.Errorf("record %s has no summary", r.ID)
					}
				}
			})
		})
	}
}

func TestSchedulerNoOverlap(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		logs := newLogCapture()
		release := make(chan struct{})
		var running, maxRunning, runs atomic.Int32
		job := jobs.Job{Name: "slow", Schedule: mustParse(t, "@every 1m", time.UTC),
			Run: func(ctx context.Context, _ *slog.Logger) (any, error) {
				n := running.Add(1)
				defer running.Add(-1)
				if n > maxRunning.Load() {
					maxRunning.Store(n)
				}
				if runs.Add(1) == 1 {
					<-release
				}
				return nil, nil
			}}
		s := startScheduler(t, []jobs.Job{job}, jobs.Options{StateDir: t.TempDir(), Clock: clock, Logger: logs.Logger()})
		time.Sleep(4*time.Minute + 30*time.Second) // slots at 1m (runs), 2m, 3m, 4m (skipped)
		synctest.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("runs while the first one blocks = %d, want 1", got)
		}
		skipped := logs.Find("run skipped", "job", "slow", "reason", "still running")
		if len(skipped) != 3 {
			logs.Dump(t)
			t.Fatalf("skipped runs logged = %d, want 3", len(skipped))
		}
		if !s.Jobs()[0].Running || !strings.HasPrefix(s.StatusLine(), "running: slow; next: slow at ") {
			t.Errorf("while running: Jobs = %+v, StatusLine = %q", s.Jobs(), s.StatusLine())
		}
		close(release)
		time.Sleep(time.Minute) // the 5m slot runs
		stopScheduler(t, s)
		if got := runs.Load(); got != 2 {
			t.Errorf("runs = %d, want 2", got)
		}
		if got := maxRunning.Load(); got != 1 {
			t.Errorf("at most %d runs at once, want 1", got)
		}
	})
}

func TestSchedulerSkipsWhenAnotherProcessHoldsTheLock(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		logs := newLogCapture()
		dir := t.TempDir()
		rec := &recorder{clock: clock}
		// flock locks belong to an open file: a second open in this
		// process conflicts exactly like another process.
		lock, err := jobs.LockJob(t.Context(), dir, "x", jobs.LockFail)
		if err != nil {
			t.Fatal(err)
		}
		s := startScheduler(t, []jobs.Job{{Name: "x", Schedule: mustParse(t, "@every 1m", time.UTC), Run: rec.Run}},
			jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger()})
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		skipped := logs.Find("run skipped", "job", "x")
		if len(skipped) != 1 || !strings.Contains(skipped[0].Attrs["reason"], jobs.LockPath(dir, "x")) {
			logs.Dump(t)
			t.Fatalf("want one skipped run naming the lock file, got %v", skipped)
		}
		if err := lock.Unlock(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		stopScheduler(t, s)
		if n := len(rec.Times()); n != 1 {
			t.Fatalf("runs = %d, want 1 (after the lock was released)", n)
		}
	})
}

func TestSchedulerRecoversPanics(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		logs := newLogCapture()
		dir := t.TempDir()
		var calls atomic.Int32
		job := jobs.Job{Name: "fragile", Schedule: mustParse(t, "@every 1m", time.UTC), Retries: 3,
			Run: func(context.Context, *slog.Logger) (any, error) {
				if calls.Add(1) == 1 {
					panic("boom")
				}
				return nil, nil
			}}
		s := startScheduler(t, []jobs.Job{job}, jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger()})
		time.Sleep(2*time.Minute + time.Second)
		stopScheduler(t, s)
		runs := history(t, dir, "fragile")
		if len(runs) != 2 {
			t.Fatalf("runs = %d, want 2: %+v", len(runs), runs)
		}
		if runs[0].Outcome != jobs.OutcomePanic || !strings.Contains(runs[0].Error, "boom") || runs[0].Attempts != 1 {
			t.Errorf("first run = %+v, want a panic with the value, not retried", runs[0])
		}
		if runs[1].Outcome != jobs.OutcomeSuccess {
			t.Errorf("second run = %+v, want success", runs[1])
		}
		panics := logs.Find("job panicked", "job", "fragile", "panic", "boom")
		if len(panics) != 1 || !strings.Contains(panics[0].Attrs["stack"], "scheduler_test.go") {
			logs.Dump(t)
			t.Fatalf("want one panic logged with a stack through the job, got %v", panics)
		}
		if len(logs.Find("job failed", "job", "fragile", "outcome", "panic")) != 1 {
			t.Errorf("the panic is not logged as a failed run")
		}
	})
}

func TestSchedulerTimeoutCancelsTheJob(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		dir := t.TempDir()
		causes := make(chan error, 4)
		job := jobs.Job{Name: "hang", Schedule: mustParse(t, "@every 1m", time.UTC), Timeout: 30 * time.Second,
			Run: func(ctx context.Context, _ *slog.Logger) (any, error) {
				if _, ok := ctx.Deadline(); !ok {
					return nil, errors.New("no deadline on the job's context")
				}
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return nil, ctx.Err()
			}}
		s := startScheduler(t, []jobs.Job{job}, jobs.Options{StateDir: dir, Clock: clock})
		time.Sleep(2*time.Minute + 45*time.Second) // two runs, each cut at 30s
		stopScheduler(t, s)
		runs := history(t, dir, "hang")
		if len(runs) != 2 {
			t.Fatalf("runs = %d, want 2 (a timed-out job runs again next time)", len(runs))
		}
		for _, r := range runs {
			if r.Outcome != jobs.OutcomeTimeout || !strings.Contains(r.Error, "timeout of 30s exceeded") {
				t.Errorf("run %+v: want outcome timeout naming the timeout", r)
			}
			if d := r.Duration(); d != 30*time.Second {
				t.Errorf("run lasted %s on the fake clock, want 30s", d)
			}
		}
		if cause := <-causes; !errors.Is(cause, context.DeadlineExceeded) {
			t.Errorf("context cause = %v, want one wrapping DeadlineExceeded", cause)
		}
	})
}

func TestSchedulerJitter(t *testing.T) {
	noLeaks(t)
	t.Run("bounds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newBubbleClock(time.Date(2026, 1, 5, 0, 30, 0, 0, time.UTC))
			dir := t.TempDir()
			rec := &recorder{clock: clock}
			const jitter = 10 * time.Minute
			s := startScheduler(t, []jobs.Job{{Name: "j", Schedule: mustParse(t, "0 * * * *", time.UTC), Jitter: jitter, Run: rec.Run}},
				jobs.Options{StateDir: dir, Clock: clock})
			time.Sleep(48 * time.Hour)
			stopScheduler(t, s)
			runs := history(t, dir, "j")
			if len(runs) != 48 {
				t.Fatalf("runs = %d, want 48", len(runs))
			}
			delayed := 0
			for _, r := range runs {
				d := r.Start.Sub(r.Scheduled)
				if d < 0 || d >= jitter {
					t.Errorf("run scheduled %s started %s later, want within [0, %s)", r.Scheduled, d, jitter)
				}
				if d > 0 {
					delayed++
				}
			}
			if delayed == 0 {
				t.Errorf("no run was delayed: jitter not applied")
			}
		})
	})
	t.Run("injected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newBubbleClock(time.Date(2026, 1, 5, 0, 30, 0, 0, time.UTC))
			dir := t.TempDir()
			var asked []time.Duration
			opts := jobs.Options{StateDir: dir, Clock: clock, Jitter: func(max time.Duration) time.Duration {
				asked = append(asked, max)
				return max - time.Second
			}}
			rec := &recorder{clock: clock}
			s := startScheduler(t, []jobs.Job{
				{Name: "j", Schedule: mustParse(t, "0 * * * *", time.UTC), Jitter: 5 * time.Minute, Run: rec.Run},
				{Name: "after", After: "j", Jitter: 5 * time.Minute, Run: rec.Run}, // no jitter after another job
			}, opts)
			time.Sleep(time.Hour)
			stopScheduler(t, s)
			if r := history(t, dir, "j"); len(r) != 1 || r[0].Start.Sub(r[0].Scheduled) != 5*time.Minute-time.Second {
				t.Fatalf("runs = %+v, want one started 4m59s after its slot", r)
			}
			if r := history(t, dir, "after"); len(r) != 1 || !r[0].Start.Equal(history(t, dir, "j")[0].End) {
				t.Fatalf("after-run = %+v, want it started as soon as j ended", r)
			}
			if !slices.Equal(asked, []time.Duration{5 * time.Minute}) {
				t.Errorf("jitter asked for %v, want [5m]", asked)
			}
		})
	})
}

func TestSchedulerPipeline(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC))
		logs := newLogCapture()
		dir := t.TempDir()
		var fail atomic.Bool
		var order []string
		var mu sync.Mutex
		step := func(name string, failable bool) jobs.RunFunc {
			return func(context.Context, *slog.Logger) (any, error) {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				if failable && fail.Load() {
					return nil, errors.New("source unavailable")
				}
				return nil, nil
			}
		}
		s := startScheduler(t, []jobs.Job{
			{Name: "rotate", After: "sync", Run: step("rotate", false)},
			{Name: "sync", After: "maildb", Run: step("sync", false)},
			{Name: "maildb", Schedule: mustParse(t, "0 2 * * *", time.UTC), Run: step("maildb", true)},
		}, jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger()})
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(order)
		mu.Unlock()
		if !slices.Equal(got, []string{"maildb", "sync", "rotate"}) {
			t.Fatalf("day 1 ran %v, want maildb, sync, rotate", got)
		}
		for _, name := range []string{"sync", "rotate"} {
			if r := history(t, dir, name); len(r) != 1 || r[0].Trigger != jobs.TriggerAfter {
				t.Errorf("%s runs = %+v, want one triggered by after", name, r)
			}
		}

		fail.Store(true)
		time.Sleep(24 * time.Hour)
		stopScheduler(t, s)
		mu.Lock()
		got = slices.Clone(order)
		mu.Unlock()
		if !slices.Equal(got, []string{"maildb", "sync", "rotate", "maildb"}) {
			t.Fatalf("day 2 ran %v, want only maildb (which failed)", got)
		}
		if stopped := logs.Find("pipeline stopped", "job", "sync", "after", "maildb"); len(stopped) != 1 || stopped[0].Level != slog.LevelError {
			logs.Dump(t)
			t.Fatalf("want the pipeline stop logged as an error once, got %v", stopped)
		}
	})
}

func TestSchedulerCatchUp(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		now := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
		clock := newBubbleClock(now)
		logs := newLogCapture()
		dir := t.TempDir()
		st, err := jobs.OpenState(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		ranAt := func(job string, slot time.Time) {
			t.Helper()
			err := st.Append(jobs.Record{ID: "old-" + job, Job: job, Trigger: jobs.TriggerSchedule, Scheduled: slot,
				Start: slot, End: slot.Add(time.Minute), Outcome: jobs.OutcomeSuccess, Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
		}
		down := time.Date(2026, 1, 7, 2, 0, 0, 0, time.UTC)
		ranAt("missed", down)                                           // slots on 8, 9, 10 January passed
		ranAt("uptodate", time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC)) // nothing missed
		ranAt("nocatchup", down)                                        // missed, but CatchUp is off
		daily := mustParse(t, "0 2 * * *", time.UTC)
		recs := map[string]*recorder{}
		var js []jobs.Job
		for _, name := range []string{"missed", "uptodate", "nocatchup", "never"} {
			recs[name] = &recorder{clock: clock}
			js = append(js, jobs.Job{Name: name, Schedule: daily, CatchUp: name != "nocatchup", Run: recs[name].Run})
		}
		opts := jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger()}
		s := startScheduler(t, js, opts)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		for name, want := range map[string]int{"missed": 1, "uptodate": 0, "nocatchup": 0, "never": 0} {
			if got := len(recs[name].Times()); got != want {
				t.Errorf("%s ran %d times after start, want %d", name, got, want)
			}
		}
		runs := history(t, dir, "missed")
		if last := runs[len(runs)-1]; last.Trigger != jobs.TriggerCatchUp || !last.Scheduled.Equal(down.AddDate(0, 0, 1)) || !last.Start.Equal(now) {
			t.Errorf("catch-up record = %+v, want trigger catch-up for the 8 January slot, started at once", last)
		}
		if len(logs.Find("catch-up", "job", "missed")) != 1 {
			t.Errorf("catch-up not logged once")
		}
		stopScheduler(t, s)

		// A restart soon after does not catch up again.
		s = startScheduler(t, js, opts)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := len(recs["missed"].Times()); got != 1 {
			t.Errorf("after a restart, missed ran %d times in all, want still 1", got)
		}
		// The schedule goes on as usual.
		time.Sleep(time.Date(2026, 1, 11, 2, 0, 30, 0, time.UTC).Sub(clock.Now()))
		stopScheduler(t, s)
		for name, want := range map[string]int{"missed": 2, "uptodate": 1, "nocatchup": 1, "never": 1} {
			if got := len(recs[name].Times()); got != want {
				t.Errorf("%s ran %d times by the next slot, want %d", name, got, want)
			}
		}
	})
}

func TestSchedulerReplaceWhileRunning(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		dir := t.TempDir()
		every := mustParse(t, "@every 1m", time.UTC)
		release := make(chan struct{})
		var v1Err atomic.Value
		v1 := func(ctx context.Context, _ *slog.Logger) (any, error) {
			<-release
			v1Err.Store(fmt.Sprint(ctx.Err()))
			return "v1", nil
		}
		v2 := &recorder{clock: clock}
		removed := &recorder{clock: clock}
		added := &recorder{clock: clock}
		s := startScheduler(t, []jobs.Job{
			{Name: "a", Schedule: every, Run: v1},
			{Name: "gone", Schedule: every, Run: removed.Run},
		}, jobs.Options{StateDir: dir, Clock: clock})
		time.Sleep(time.Minute + time.Second) // a (v1) runs and blocks; gone ran once
		synctest.Wait()

		if err := s.Replace([]jobs.Job{{Name: "a", Schedule: every, Run: v2.Run}, {Name: "b", After: "nope", Run: added.Run}}); err == nil {
			t.Fatal("Replace accepted a job after an unknown job")
		}
		if err := s.Replace([]jobs.Job{{Name: "a", Schedule: every, Run: v2.Run}, {Name: "b", Schedule: every, Run: added.Run}}); err != nil {
			t.Fatalf("Replace: %v", err)
		}
		var names []string
		for _, j := range s.Jobs() {
			names = append(names, j.Job)
		}
		if !slices.Equal(names, []string{"a", "b"}) {
			t.Errorf("jobs after Replace = %v, want [a b]", names)
		}
		time.Sleep(30 * time.Second)
		close(release) // the old run ends normally
		time.Sleep(time.Minute)
		stopScheduler(t, s)

		if got := v1Err.Load(); got != "<nil>" {
			t.Errorf("the running job's context was %v during Replace, want not cancelled", got)
		}
		runs := history(t, dir, "a")
		if len(runs) < 2 || runs[0].Outcome != jobs.OutcomeSuccess || string(runs[0].Summary) != `"v1"` {
			t.Fatalf("runs of a = %+v, want the v1 run to finish successfully, then v2 runs", runs)
		}
		if len(v2.Times()) == 0 || len(added.Times()) == 0 {
			t.Errorf("new definitions did not run: a(v2) %d, b %d", len(v2.Times()), len(added.Times()))
		}
		if n := len(removed.Times()); n != 1 {
			t.Errorf("removed job ran %d times, want 1 (before Replace)", n)
		}
	})
}

func TestSchedulerStop(t *testing.T) {
	noLeaks(t)
	t.Run("grace then cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
			logs := newLogCapture()
			dir := t.TempDir()
			every := mustParse(t, "@every 1h", time.UTC)
			causes := make(chan error, 1)
			s := startScheduler(t, []jobs.Job{
				{Name: "quick", Schedule: every, Run: func(ctx context.Context, _ *slog.Logger) (any, error) {
					select {
					case <-time.After(10 * time.Second): // finishes within the grace period
						return nil, nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}},
				{Name: "stubborn", Schedule: every, Run: func(ctx context.Context, _ *slog.Logger) (any, error) {
					<-ctx.Done()
					causes <- context.Cause(ctx)
					return nil, ctx.Err()
				}},
				{Name: "jittery", Schedule: every, Jitter: 30 * time.Minute, Run: func(context.Context, *slog.Logger) (any, error) {
					return nil, errors.New("must not start once Stop was called")
				}},
			}, jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger(), Jitter: func(max time.Duration) time.Duration { return max - 1 }})
			time.Sleep(time.Hour + time.Second)
			synctest.Wait()
			start := time.Now()
			err := s.Stop(time.Minute)
			if err == nil || !strings.Contains(err.Error(), "stubborn") || strings.Contains(err.Error(), "quick") {
				t.Fatalf("Stop = %v, want an error naming only the cancelled job", err)
			}
			if d := time.Since(start); d != time.Minute {
				t.Errorf("Stop took %s on the fake clock, want the grace period", d)
			}
			if cause := <-causes; !errors.Is(cause, jobs.ErrStopping) {
				t.Errorf("cancelled job's cause = %v, want ErrStopping", cause)
			}
			if r := history(t, dir, "quick"); len(r) != 1 || r[0].Outcome != jobs.OutcomeSuccess {
				t.Errorf("quick = %+v, want it to finish during the grace period", r)
			}
			if r := history(t, dir, "stubborn"); len(r) != 1 || r[0].Outcome != jobs.OutcomeCanceled {
				t.Errorf("stubborn = %+v, want it cancelled", r)
			}
			if r := history(t, dir, "jittery"); len(r) != 0 {
				t.Errorf("jittery = %+v, want no run: it was still waiting for its jitter", r)
			}
			if s.Healthy() == nil {
				t.Errorf("Healthy after Stop = nil, want an error")
			}
			if err := s.Replace(nil); err == nil {
				t.Errorf("Replace after Stop succeeded")
			}
			if err := s.Stop(time.Minute); err != nil {
				t.Errorf("second Stop = %v, want nil", err)
			}
		})
	})
	t.Run("idle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
			s := startScheduler(t, []jobs.Job{{Name: "x", Schedule: mustParse(t, "@daily", time.UTC), Run: (&recorder{clock: clock}).Run}},
				jobs.Options{StateDir: t.TempDir(), Clock: clock})
			if err := s.Stop(time.Hour); err != nil {
				t.Fatalf("Stop = %v", err)
			}
		})
	})
	t.Run("never started", func(t *testing.T) {
		s, err := jobs.NewScheduler(nil, jobs.Options{StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(time.Second); err != nil {
			t.Fatalf("Stop = %v", err)
		}
	})
}

func TestSchedulerWallClockJumps(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 30, 0, 0, time.UTC))
		logs := newLogCapture()
		rec := &recorder{clock: clock}
		s := startScheduler(t, []jobs.Job{{Name: "hourly", Schedule: mustParse(t, "0 * * * *", time.UTC), Run: rec.Run}},
			jobs.Options{StateDir: t.TempDir(), Clock: clock, Logger: logs.Logger()})
		time.Sleep(10*time.Minute + 30*time.Second)
		// The wall clock jumps 3h forward (resume from suspend, NTP step):
		// the 11:00, 12:00 and 13:00 slots passed unseen. One run, within
		// the wake interval, not three.
		clock.Shift(3 * time.Hour)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(rec.Times()); n != 1 {
			t.Fatalf("runs after a 3h jump = %d, want 1", n)
		}
		if len(logs.Find("missed", "job", "hourly")) != 1 {
			t.Errorf("missed slots not logged")
		}
		time.Sleep(20 * time.Minute) // 14:01:30 wall: the 14:00 slot ran
		synctest.Wait()
		if n := len(rec.Times()); n != 2 {
			t.Fatalf("runs by 14:01 = %d, want 2", n)
		}
		// The wall clock steps 2h back: 12:01:30. The 13:00 and 14:00
		// slots are not run again; the next run is at 15:00 wall-clock time.
		clock.Shift(-2 * time.Hour)
		time.Sleep(2*time.Hour + 58*time.Minute) // 14:59:30 wall
		synctest.Wait()
		if n := len(rec.Times()); n != 2 {
			t.Fatalf("runs after stepping back = %d, want still 2", n)
		}
		time.Sleep(2 * time.Minute)
		stopScheduler(t, s)
		times := formatTimes(rec.Times())
		if want := []string{"2026-01-05T13:41:00Z", "2026-01-05T14:00:00Z", "2026-01-05T15:00:00Z"}; !slices.Equal(times, want) {
			t.Errorf("runs at %v, want %v", times, want)
		}
	})
}

func TestSchedulerStatus(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 30, 0, 0, time.UTC))
		var (
			changes atomic.Int32
			s       *jobs.Scheduler
			err     error
		)
		s, err = jobs.NewScheduler([]jobs.Job{
			{Name: "b", Schedule: mustParse(t, "0 12 * * *", time.UTC), Run: (&recorder{clock: clock}).Run},
			{Name: "a", Schedule: mustParse(t, "0 11 * * *", time.UTC), Run: (&recorder{clock: clock}).Run},
			{Name: "c", After: "a", Run: (&recorder{clock: clock}).Run},
		}, jobs.Options{StateDir: t.TempDir(), Clock: clock, OnChange: func() {
			_ = s.StatusLine() // as the daemon does for STATUS=: no lock is held
			changes.Add(1)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Healthy(); err == nil {
			t.Errorf("Healthy before Start = nil")
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil {
			t.Errorf("second Start succeeded")
		}
		if err := s.Healthy(); err != nil {
			t.Errorf("Healthy = %v", err)
		}
		got := s.Jobs()
		want := []jobs.ScheduledJob{
			{Job: "b", Next: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)},
			{Job: "a", Next: time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC)},
			{Job: "c"},
		}
		if !slices.EqualFunc(got, want, func(a, b jobs.ScheduledJob) bool { return a.Job == b.Job && a.Next.Equal(b.Next) && !a.Running }) {
			t.Errorf("Jobs = %+v, want %+v", got, want)
		}
		if line := s.StatusLine(); line != "next: a at 2026-01-05T11:00:00Z" {
			t.Errorf("StatusLine = %q", line)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if line := s.StatusLine(); line != "next: b at 2026-01-05T12:00:00Z" {
			t.Errorf("StatusLine = %q", line)
		}
		stopScheduler(t, s)
		if changes.Load() == 0 {
			t.Errorf("OnChange never called")
		}
	})
}

func TestNewSchedulerRejectsBadJobs(t *testing.T) {
	run := func(context.Context, *slog.Logger) (any, error) { return nil, nil }
	if _, err := jobs.NewScheduler([]jobs.Job{{Name: "a", Run: run}, {Name: "a", Run: run}}, jobs.Options{StateDir: t.TempDir()}); err == nil {
		t.Errorf("duplicate names accepted")
	}
	if _, err := jobs.NewScheduler(nil, jobs.Options{}); err == nil {
		t.Errorf("missing state directory accepted")
	}
}
