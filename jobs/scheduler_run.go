package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"runtime/debug"
	"time"
)

// Defaults for Options.
const (
	DefaultWakeInterval  = time.Minute
	DefaultRetryDelay    = 30 * time.Second
	DefaultMaxRetryDelay = 10 * time.Minute
)

// Options configure a Scheduler and RunOnce.
type Options struct {
	// StateDir holds run history (history/JOB.json) and lock files
	// (locks/JOB.lock). Required.
	StateDir string
	// History is how many runs per job are kept (DefaultHistory if 0).
	History int
	// Logger receives everything the scheduler and the jobs log; nil
	// discards. Records carry the attributes job and run_id.
	Logger *slog.Logger
	// Clock is the time source (SystemClock if nil).
	Clock Clock
	// WakeInterval is the longest the scheduler sleeps before it looks at
	// the wall clock again, so that clock jumps and suspend delay a run by
	// at most this much (DefaultWakeInterval if 0).
	WakeInterval time.Duration
	// RetryDelay is the wait before the first retry; each further retry
	// waits twice as long, up to MaxRetryDelay (defaults
	// DefaultRetryDelay, DefaultMaxRetryDelay).
	RetryDelay, MaxRetryDelay time.Duration
	// Retryable decides whether a failed attempt may be retried; nil
	// retries every error. Panics and cancellations are never retried.
	// Pass the sync package's permanent-error test here, for example.
	Retryable func(error) bool
	// Jitter returns a random delay in [0, max); nil uses math/rand/v2.
	Jitter func(max time.Duration) time.Duration
	// Metrics, if set, records runs (see Metrics).
	Metrics *Metrics
	// OnChange, if set, is called after the set of running jobs or the
	// next run times change (to update sd_notify STATUS=, for example).
	// It is called from the scheduler's goroutines, without locks held.
	OnChange func()
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.WakeInterval <= 0 {
		o.WakeInterval = DefaultWakeInterval
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.Retryable == nil {
		o.Retryable = func(error) bool { return true }
	}
	if o.Jitter == nil {
		o.Jitter = func(max time.Duration) time.Duration { return mathrand.N(max) }
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	return o
}

// ErrStopping is the cause of the context of jobs the Scheduler cancels
// when its Stop grace period is over.
var ErrStopping = errors.New("scheduler stopping")

// ErrPipelineStopped is wrapped by the error for a job that did not run
// because the job it runs after failed.
var ErrPipelineStopped = errors.New("pipeline stopped")

// RunError is a run that did not succeed.
type RunError struct {
	Job     string
	RunID   string
	Outcome Outcome
	Err     error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("job %s (run %s): %s: %v", e.Job, e.RunID, e.Outcome, e.Err)
}

// Unwrap returns the job's error.
func (e *RunError) Unwrap() error { return e.Err }

// runner runs one job: lock, attempts with timeout, retries, panic
// recovery, history and metrics. The Scheduler and RunOnce share it.
type runner struct {
	opts  Options
	state *State
}

func newRunner(opts Options) (*runner, error) {
	opts = opts.withDefaults()
	st, err := OpenState(opts.StateDir, opts.History)
	if err != nil {
		return nil, err
	}
	return &runner{opts: opts, state: st}, nil
}

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// execute runs a job once (with retries) under its lock and records the
// run. It returns the record and the last attempt's error (nil on
// success), or, when the run did not start, an error from taking the lock
// (*LockedError when it is held elsewhere). abort, if not nil, ends a
// retry backoff early (scheduler stopping).
func (r *runner) execute(ctx context.Context, j Job, trig Trigger, slot time.Time, mode LockMode, abort <-chan struct{}) (rec Record, runErr error, lockErr error) {
	lock, err := LockJob(ctx, r.opts.StateDir, j.Name, mode)
	if err != nil {
		return Record{}, nil, err
	}
	defer func() {
		if err := lock.Unlock(); err != nil {
			r.opts.Logger.Error("release job lock", "job", j.Name, "err", err)
		}
	}()

	rec = Record{ID: newRunID(), Job: j.Name, Trigger: trig, Scheduled: slot}
	log := r.opts.Logger.With("job", j.Name, "run_id", rec.ID)
	startMono := r.opts.Clock.Now()
	rec.Start = startMono.Round(0)
	args := []any{"trigger", trig}
	if !slot.IsZero() {
		args = append(args, "scheduled", slot)
	}
	log.Info("job started", args...)
	r.opts.Metrics.runStarted(j.Name)

	var (
		summary any
		outcome Outcome
	)
	for attempt := 1; ; attempt++ {
		rec.Attempts = attempt
		summary, outcome, runErr = r.attempt(ctx, j, log)
		if outcome == OutcomeSuccess || outcome == OutcomePanic || outcome == OutcomeCanceled ||
			attempt > j.Retries || !r.opts.Retryable(runErr) {
			break
		}
		delay := r.backoff(attempt)
		log.Warn("attempt failed, retrying", "attempt", attempt, "of", j.Retries+1, "retry_in", delay, "err", runErr)
		if !r.sleep(ctx, delay, abort) {
			log.Warn("retries abandoned", "reason", "stopping")
			break
		}
	}
	end := r.opts.Clock.Now()
	rec.End = end.Round(0)
	rec.Outcome = outcome
	if runErr != nil {
		rec.Error = runErr.Error()
	}
	if summary != nil {
		data, err := json.Marshal(summary)
		if err != nil {
			log.Warn("job summary is not JSON, not recorded", "err", err)
		} else {
			rec.Summary = data
		}
	}
	duration := end.Sub(startMono)
	r.opts.Metrics.runFinished(j.Name, outcome, duration, rec.End)
	if err := r.state.Append(rec); err != nil {
		log.Error("record run", "err", err)
	}
	if outcome == OutcomeSuccess {
		log.Info("job succeeded", "duration", duration, "attempts", rec.Attempts)
	} else {
		log.Error("job failed", "outcome", outcome, "duration", duration, "attempts", rec.Attempts, "err", runErr)
	}
	return rec, runErr, nil
}

// attempt calls the job's Run once, with its timeout, recovering a panic.
func (r *runner) attempt(parent context.Context, j Job, log *slog.Logger) (summary any, outcome Outcome, err error) {
	ctx, cancel := context.WithCancel(parent)
	if j.Timeout > 0 {
		cause := fmt.Errorf("job %s: timeout of %s exceeded: %w", j.Name, j.Timeout, context.DeadlineExceeded)
		ctx, cancel = context.WithTimeoutCause(parent, j.Timeout, cause)
	}
	defer cancel()

	panicked := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked = true
				log.Error("job panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = fmt.Errorf("job %s panicked: %v", j.Name, p)
			}
		}()
		summary, err = j.Run(ctx, log)
	}()
	switch {
	case panicked:
		return nil, OutcomePanic, err
	case err == nil:
		return summary, OutcomeSuccess, nil
	case parent.Err() != nil:
		return summary, OutcomeCanceled, fmt.Errorf("%w (cancelled: %w)", err, context.Cause(parent))
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout of %s exceeded: %w", j.Timeout, err)
		} else {
			err = fmt.Errorf("%w (after the timeout of %s)", err, j.Timeout)
		}
		return summary, OutcomeTimeout, err
	default:
		return summary, OutcomeFailure, err
	}
}

func (r *runner) backoff(attempt int) time.Duration {
	d := r.opts.RetryDelay
	for range attempt - 1 {
		d *= 2
		if d >= r.opts.MaxRetryDelay {
			return r.opts.MaxRetryDelay
		}
	}
	return min(d, r.opts.MaxRetryDelay)
}

// sleep waits d on the clock; it returns false if ctx is done or abort is
// closed first.
func (r *runner) sleep(ctx context.Context, d time.Duration, abort <-chan struct{}) bool {
	t := r.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	case <-abort:
		return false
	}
}

// RunOnce runs jobs now, as `peoplesync run-once [JOB...]` does: the named
// jobs (all jobs if names is empty) in pipeline order (see Order), without
// jitter, each under its lock. mode says what to do when another process
// runs a job: LockFail refuses that job with a *LockedError, LockWait waits.
//
// A job whose predecessor (After) failed or was refused in this call does
// not run; its error wraps ErrPipelineStopped. Other jobs still run.
// Cancelling ctx cancels the running job and skips the rest. It returns
// the records of the runs that started and the errors of all the jobs that
// did not succeed (*RunError, *LockedError, ...), joined.
func RunOnce(ctx context.Context, jobs []Job, names []string, mode LockMode, opts Options) ([]Record, error) {
	ordered, err := Order(jobs, names...)
	if err != nil {
		return nil, fmt.Errorf("run-once: %w", err)
	}
	r, err := newRunner(opts)
	if err != nil {
		return nil, fmt.Errorf("run-once: %w", err)
	}
	log := r.opts.Logger
	var (
		records []Record
		errs    []error
		failed  = map[string]bool{}
	)
	for _, j := range ordered {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("job %s not run: %w", j.Name, context.Cause(ctx)))
			failed[j.Name] = true
			continue
		}
		if j.After != "" && failed[j.After] {
			log.Error("pipeline stopped: job not run because the job it runs after failed", "job", j.Name, "after", j.After)
			errs = append(errs, fmt.Errorf("job %s not run: %w: %s failed", j.Name, ErrPipelineStopped, j.After))
			failed[j.Name] = true
			continue
		}
		rec, runErr, err := r.execute(ctx, j, TriggerManual, time.Time{}, mode, nil)
		if err != nil {
			errs = append(errs, err)
			failed[j.Name] = true
			continue
		}
		records = append(records, rec)
		if rec.Outcome != OutcomeSuccess {
			errs = append(errs, &RunError{Job: j.Name, RunID: rec.ID, Outcome: rec.Outcome, Err: runErr})
			failed[j.Name] = true
		}
	}
	return records, errors.Join(errs...)
}
