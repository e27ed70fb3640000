package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// trace is a set of jobs that note the order they ran in.
type trace struct {
	mu   sync.Mutex
	ran  []string
	fail map[string]error
}

func (tr *trace) job(name, after string) jobs.Job {
	return jobs.Job{Name: name, After: after, Run: func(context.Context, *slog.Logger) (any, error) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.ran = append(tr.ran, name)
		return nil, tr.fail[name]
	}}
}

func (tr *trace) Ran() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ran)
}

func TestRunOncePipelineOrder(t *testing.T) {
	noLeaks(t)
	tr := &trace{}
	js := []jobs.Job{tr.job("rotate", "sync"), tr.job("sync", "maildb"), tr.job("maildb", ""), tr.job("other", "")}
	dir := t.TempDir()
	recs, err := jobs.RunOnce(t.Context(), js, nil, jobs.LockFail, jobs.Options{StateDir: dir})
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if want := []string{"maildb", "sync", "rotate", "other"}; !slices.Equal(tr.Ran(), want) {
		t.Errorf("ran %v, want %v", tr.Ran(), want)
	}
	if len(recs) != 4 {
		t.Fatalf("records = %d, want 4", len(recs))
	}
	for _, r := range recs {
		if r.Trigger != jobs.TriggerManual || r.Outcome != jobs.OutcomeSuccess || !r.Scheduled.IsZero() {
			t.Errorf("record %+v: want a successful manual run", r)
		}
		if h := history(t, dir, r.Job); len(h) != 1 || h[0].ID != r.ID {
			t.Errorf("history of %s = %+v, want the returned record", r.Job, h)
		}
	}
}

func TestRunOnceFailedStepStopsThePipeline(t *testing.T) {
	noLeaks(t)
	logs := newLogCapture()
	boom := errors.New("ldap: connection refused")
	tr := &trace{fail: map[string]error{"maildb": boom}}
	js := []jobs.Job{tr.job("maildb", ""), tr.job("sync", "maildb"), tr.job("rotate", "sync"), tr.job("other", "")}
	recs, err := jobs.RunOnce(t.Context(), js, nil, jobs.LockFail, jobs.Options{StateDir: t.TempDir(), Logger: logs.Logger()})
	if want := []string{"maildb", "other"}; !slices.Equal(tr.Ran(), want) {
		t.Errorf("ran %v, want %v", tr.Ran(), want)
	}
	if len(recs) != 2 {
		t.Errorf("records = %d, want 2", len(recs))
	}
	var runErr *jobs.RunError
	if !errors.As(err, &runErr) || runErr.Job != "maildb" || runErr.Outcome != jobs.OutcomeFailure || !errors.Is(err, boom) {
		t.Fatalf("RunOnce error = %v, want a RunError for maildb wrapping the job's error", err)
	}
	if !errors.Is(err, jobs.ErrPipelineStopped) || !strings.Contains(err.Error(), "job sync not run") || !strings.Contains(err.Error(), "job rotate not run") {
		t.Errorf("RunOnce error = %v, want sync and rotate reported as not run", err)
	}
	if len(logs.Find("pipeline stopped", "job", "sync", "after", "maildb")) != 1 {
		logs.Dump(t)
		t.Errorf("pipeline stop not logged")
	}
}

func TestRunOnceNamedJobs(t *testing.T) {
	noLeaks(t)
	tr := &trace{}
	js := []jobs.Job{tr.job("maildb", ""), tr.job("sync", "maildb"), tr.job("rotate", "")}
	if _, err := jobs.RunOnce(t.Context(), js, []string{"rotate", "sync"}, jobs.LockFail, jobs.Options{StateDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"sync", "rotate"}; !slices.Equal(tr.Ran(), want) {
		t.Errorf("ran %v, want %v", tr.Ran(), want)
	}
	_, err := jobs.RunOnce(t.Context(), js, []string{"snyc"}, jobs.LockFail, jobs.Options{StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `unknown job "snyc"`) {
		t.Errorf("RunOnce with an unknown name = %v", err)
	}
}

func TestRunOnceCancelled(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	interrupted := errors.New("interrupted")
	tr := &trace{}
	js := []jobs.Job{
		{Name: "first", Run: func(ctx context.Context, _ *slog.Logger) (any, error) {
			cancel(interrupted) // SIGINT arrives while it runs
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		tr.job("second", ""),
	}
	recs, err := jobs.RunOnce(ctx, js, nil, jobs.LockFail, jobs.Options{StateDir: t.TempDir()})
	if len(recs) != 1 || recs[0].Outcome != jobs.OutcomeCanceled || !strings.Contains(recs[0].Error, "interrupted") {
		t.Fatalf("records = %+v, want first cancelled with the cause", recs)
	}
	if len(tr.Ran()) != 0 {
		t.Errorf("second ran after the cancel")
	}
	if !errors.Is(err, interrupted) {
		t.Errorf("RunOnce error = %v, want it to carry the cause", err)
	}
}

func TestRunOnceRetriesWithBackoff(t *testing.T) {
	noLeaks(t)
	synctest.Test(t, func(t *testing.T) {
		clock := newBubbleClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
		logs := newLogCapture()
		dir := t.TempDir()
		permanent := errors.New("host key mismatch")
		var attempts []time.Time
		flaky := func(failures int, err error) jobs.RunFunc {
			return func(context.Context, *slog.Logger) (any, error) {
				attempts = append(attempts, clock.Now().Round(0))
				if len(attempts) <= failures {
					return nil, err
				}
				return "done", nil
			}
		}
		opts := jobs.Options{StateDir: dir, Clock: clock, Logger: logs.Logger(),
			RetryDelay: time.Minute, MaxRetryDelay: 3 * time.Minute,
			Retryable: func(err error) bool { return !errors.Is(err, permanent) }}

		// Four failures, four retries: 1m, 2m, then capped at 3m.
		recs, err := jobs.RunOnce(t.Context(), []jobs.Job{{Name: "flaky", Retries: 4, Run: flaky(4, errors.New("connection reset"))}}, nil, jobs.LockFail, opts)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		var gaps []time.Duration
		for i := 1; i < len(attempts); i++ {
			gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
		}
		if want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute}; !slices.Equal(gaps, want) {
			t.Errorf("waits between attempts = %v, want %v", gaps, want)
		}
		if recs[0].Attempts != 5 || recs[0].Outcome != jobs.OutcomeSuccess || recs[0].Duration() != 9*time.Minute {
			t.Errorf("record = %+v, want success after 5 attempts over 9m", recs[0])
		}
		if n := len(logs.Find("attempt failed, retrying", "job", "flaky")); n != 4 {
			t.Errorf("retries logged = %d, want 4", n)
		}

		// Retries run out.
		attempts = nil
		recs, err = jobs.RunOnce(t.Context(), []jobs.Job{{Name: "down", Retries: 2, Run: flaky(10, errors.New("connection reset"))}}, nil, jobs.LockFail, opts)
		if err == nil || recs[0].Attempts != 3 || recs[0].Outcome != jobs.OutcomeFailure {
			t.Errorf("record = %+v, err %v: want failure after 3 attempts", recs[0], err)
		}

		// A permanent error is not retried.
		attempts = nil
		recs, _ = jobs.RunOnce(t.Context(), []jobs.Job{{Name: "perm", Retries: 5, Run: flaky(10, permanent)}}, nil, jobs.LockFail, opts)
		if recs[0].Attempts != 1 {
			t.Errorf("permanent error attempts = %d, want 1", recs[0].Attempts)
		}
	})
}
