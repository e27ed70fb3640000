// Package jobs schedules and runs peoplesync's jobs: cron schedules that
// behave across DST (Schedule), a scheduler for the daemon (Scheduler) and
// run-once (RunOnce), per-job locks shared with other processes (LockJob),
// run history in the state directory (State, ReadStatus), command jobs
// (Command), sd_notify (Notifier) and Prometheus metrics (Metrics).
package jobs

// Why not robfig/cron's runner: cron.Cron cannot take an injected clock, its
// timers run on the monotonic clock only (a wall-clock jump or a suspend
// delays or bunches runs), its Stop does not cancel running jobs, its
// default chain recovers no panics, and Next would come from its SpecSchedule
// with the DST defects Schedule exists to fix. The loop below is small: it
// sleeps until the earliest next run or WakeInterval, whichever is sooner,
// then compares the wall clock with each job's next run time.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Scheduler runs jobs on their schedules and after each other, for the
// daemon. It never runs a job twice at once: a run due while the job still
// runs in this process is skipped and logged, and so is one whose lock
// file another process (run-once) holds.
//
// Create it with NewScheduler, then Start; Replace swaps the job set on
// SIGHUP; Stop shuts it down on SIGTERM.
type Scheduler struct {
	r     *runner
	clock Clock
	log   *slog.Logger

	runCtx     context.Context
	cancelRuns context.CancelCauseFunc

	stop     chan struct{} // closed by Stop
	poke     chan struct{} // wakes the loop after Replace
	loopDone chan struct{}
	wg       sync.WaitGroup // runs in flight, including jitter waits

	mu       sync.Mutex
	entries  map[string]*entry
	order    []string              // job names in pipeline order
	busy     map[string]*activeRun // jobs running in this process, by name
	started  bool
	stopping bool
	lastTick time.Time // from Clock.Now, with its monotonic reading
}

type entry struct {
	job      Job
	key      string    // the schedule's identity, to keep next across Replace
	next     time.Time // zero: not scheduled
	catchUp  bool      // a catch-up run is pending
	missedAt time.Time // the first slot the catch-up run makes up for
}

type activeRun struct {
	trigger Trigger
	since   time.Time
}

// NewScheduler checks the jobs and prepares a scheduler; it runs nothing
// until Start.
func NewScheduler(jobs []Job, opts Options) (*Scheduler, error) {
	r, err := newRunner(opts)
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	runCtx, cancel := context.WithCancelCause(context.Background())
	s := &Scheduler{
		r:          r,
		clock:      r.opts.Clock,
		log:        r.opts.Logger,
		runCtx:     runCtx,
		cancelRuns: cancel,
		stop:       make(chan struct{}),
		poke:       make(chan struct{}, 1),
		loopDone:   make(chan struct{}),
		busy:       map[string]*activeRun{},
	}
	if err := s.setJobs(jobs, time.Time{}); err != nil {
		cancel(nil)
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	return s, nil
}

func scheduleKey(s *Schedule) string {
	if s == nil {
		return ""
	}
	return s.String() + "\x00" + s.Location().String()
}

// setJobs validates jobs and installs them, keeping the next run time of
// jobs whose schedule did not change. A zero now leaves new next times to
// Start.
func (s *Scheduler) setJobs(jobs []Job, now time.Time) error {
	ordered, err := Order(jobs)
	if err != nil {
		return err
	}
	entries := make(map[string]*entry, len(ordered))
	order := make([]string, 0, len(ordered))
	for _, j := range ordered {
		e := &entry{job: j, key: scheduleKey(j.Schedule)}
		if old, ok := s.entries[j.Name]; ok && old.key == e.key {
			e.next, e.catchUp, e.missedAt = old.next, old.catchUp, old.missedAt
		} else if j.Schedule != nil && !now.IsZero() {
			e.next = j.Schedule.Next(now)
		}
		entries[j.Name] = e
		order = append(order, j.Name)
	}
	s.entries, s.order = entries, order
	return nil
}

// Start computes each job's next run, arranges the catch-up runs (see
// Job.CatchUp) and starts scheduling in a goroutine of its own.
func (s *Scheduler) Start() error {
	now := s.clock.Now().Round(0)
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("start scheduler: already started")
	}
	s.started = true
	s.lastTick = s.clock.Now()
	for _, name := range s.order {
		e := s.entries[name]
		if e.job.Schedule == nil {
			continue
		}
		e.next = e.job.Schedule.Next(now)
		if e.job.CatchUp {
			s.checkCatchUp(e, now)
		}
	}
	s.mu.Unlock()
	go s.loop()
	s.r.opts.OnChange()
	return nil
}

// checkCatchUp marks a catch-up run when the job's last run is older than
// a slot that has passed.
func (s *Scheduler) checkCatchUp(e *entry, now time.Time) {
	last, ok, err := s.r.state.Last(e.job.Name)
	if err != nil {
		s.log.Error("catch-up: cannot read the job's history", "job", e.job.Name, "err", err)
		return
	}
	if !ok {
		return // never ran: nothing was missed
	}
	ref := last.Start
	if last.Scheduled.After(ref) {
		ref = last.Scheduled
	}
	missed := e.job.Schedule.Next(ref)
	if missed.IsZero() || missed.After(now) {
		return
	}
	e.catchUp = true
	e.missedAt = missed
	s.log.Info("catch-up: a scheduled run was missed while the daemon was down, running once now",
		"job", e.job.Name, "missed", missed, "last_run", last.Start)
}

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	for {
		wait := s.tick()
		t := s.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-s.poke:
			t.Stop()
		case <-s.stop:
			t.Stop()
			return
		}
	}
}

// tick starts the runs that are due and returns how long to sleep.
func (s *Scheduler) tick() time.Duration {
	nowMono := s.clock.Now()
	now := nowMono.Round(0)
	changed := false
	s.mu.Lock()
	s.lastTick = nowMono
	wait := s.r.opts.WakeInterval
	if !s.stopping {
		for _, name := range s.order {
			e := s.entries[name]
			if e.catchUp {
				e.catchUp = false
				s.dispatchLocked(e.job, TriggerCatchUp, e.missedAt, true)
				changed = true
			}
			if e.next.IsZero() {
				continue
			}
			if !now.Before(e.next) {
				slot := e.next
				next := e.job.Schedule.Next(slot)
				if !next.IsZero() && !next.After(now) {
					// Slots passed while we did not look (suspend, a
					// wall-clock jump): run once, not once per slot.
					s.log.Warn("scheduled runs were missed (suspend or clock change), running once",
						"job", name, "first_missed", slot)
					next = e.job.Schedule.Next(now)
				}
				e.next = next
				s.dispatchLocked(e.job, TriggerSchedule, slot, true)
				changed = true
			}
			if !e.next.IsZero() {
				wait = min(wait, e.next.Sub(now))
			}
		}
	}
	s.mu.Unlock()
	if changed {
		s.r.opts.OnChange()
	}
	return max(wait, 0)
}

// dispatchLocked starts a run of j unless it is already running here.
// s.mu must be held.
func (s *Scheduler) dispatchLocked(j Job, trig Trigger, slot time.Time, jitter bool) {
	if s.stopping {
		return
	}
	if a, ok := s.busy[j.Name]; ok {
		args := []any{"job", j.Name, "trigger", trig, "reason", "still running",
			"running_since", a.since, "running_trigger", a.trigger}
		if !slot.IsZero() {
			args = append(args, "scheduled", slot)
		}
		s.log.Warn("run skipped", args...)
		s.r.opts.Metrics.runSkipped(j.Name, "still running")
		return
	}
	s.busy[j.Name] = &activeRun{trigger: trig, since: s.clock.Now().Round(0)}
	s.wg.Add(1)
	go s.run(j, trig, slot, jitter)
}

// run is one dispatched run: jitter, then the run under the job's lock,
// then the jobs that run after it.
func (s *Scheduler) run(j Job, trig Trigger, slot time.Time, jitter bool) {
	defer s.wg.Done()
	if jitter && j.Jitter > 0 {
		d := s.r.opts.Jitter(j.Jitter)
		s.log.Debug("delaying run by jitter", "job", j.Name, "delay", d)
		if !s.r.sleep(s.runCtx, d, s.stop) {
			s.log.Info("run not started: stopping", "job", j.Name, "trigger", trig)
			s.release(j.Name)
			return
		}
	}
	rec, _, err := s.r.execute(s.runCtx, j, trig, slot, LockFail, s.stop)
	s.release(j.Name)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			s.log.Warn("run skipped", "job", j.Name, "trigger", trig, "reason", err.Error())
			s.r.opts.Metrics.runSkipped(j.Name, "locked")
		} else {
			s.log.Error("run not started", "job", j.Name, "trigger", trig, "err", err)
		}
		return
	}
	s.afterRun(j.Name, rec)
}

func (s *Scheduler) release(name string) {
	s.mu.Lock()
	delete(s.busy, name)
	s.mu.Unlock()
	s.r.opts.OnChange()
}

// afterRun starts the jobs that run after name, or logs that the pipeline
// stopped.
func (s *Scheduler) afterRun(name string, rec Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.order {
		e := s.entries[n]
		if e.job.After != name {
			continue
		}
		if rec.Outcome != OutcomeSuccess {
			s.log.Error("pipeline stopped: job not run because the job it runs after failed",
				"job", n, "after", name, "after_run_id", rec.ID, "after_outcome", rec.Outcome)
			continue
		}
		if s.stopping {
			s.log.Info("pipeline stopped: job not run because the scheduler is stopping", "job", n, "after", name)
			continue
		}
		s.dispatchLocked(e.job, TriggerAfter, time.Time{}, false)
	}
}

// Replace swaps in a new set of jobs (SIGHUP reload) without interrupting
// running ones: a running job finishes with its old definition, and its
// next run uses the new one. A job whose schedule (expression and zone) is
// unchanged keeps its next run time; a new or changed one is scheduled
// from now. Removed jobs are not run again. An invalid set is rejected and
// the old one stays.
func (s *Scheduler) Replace(jobs []Job) error {
	now := s.clock.Now().Round(0)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errors.New("replace jobs: scheduler is stopping")
	}
	if !s.started {
		now = time.Time{}
	}
	err := s.setJobs(jobs, now)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("replace jobs: %w", err)
	}
	select {
	case s.poke <- struct{}{}:
	default:
	}
	s.r.opts.OnChange()
	return nil
}

// Stop stops scheduling, waits up to grace for running jobs, then cancels
// their contexts (cause ErrStopping) and waits for them to return. Runs
// still waiting for their jitter, and retry backoffs, end at once. It
// returns an error naming the jobs it had to cancel. Calling Stop again, or
// before Start, returns nil.
func (s *Scheduler) Stop(grace time.Duration) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil
	}
	s.stopping = true
	started := s.started
	close(s.stop)
	running := s.busyNamesLocked()
	s.mu.Unlock()
	defer s.cancelRuns(ErrStopping)
	if started {
		<-s.loopDone
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	if len(running) > 0 {
		s.log.Info("stopping: waiting for running jobs", "jobs", running, "grace", grace)
	}
	t := s.clock.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C():
	}
	s.mu.Lock()
	running = s.busyNamesLocked()
	s.mu.Unlock()
	s.log.Warn("stopping: grace period over, cancelling running jobs", "jobs", running, "grace", grace)
	s.cancelRuns(ErrStopping)
	<-done
	return fmt.Errorf("stop scheduler: cancelled running jobs after a grace period of %s: %s", grace, strings.Join(running, ", "))
}

func (s *Scheduler) busyNamesLocked() []string {
	names := make([]string, 0, len(s.busy))
	for n := range s.busy {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ScheduledJob is a job's state in a running Scheduler.
type ScheduledJob struct {
	Job          string
	Next         time.Time // zero: no schedule of its own
	Running      bool      // running, or waiting for its jitter
	RunningSince time.Time
	Trigger      Trigger // why the current run started
}

// Jobs returns each job's next run and whether it is running, in pipeline
// order.
func (s *Scheduler) Jobs() []ScheduledJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ScheduledJob, 0, len(s.order))
	for _, n := range s.order {
		sj := ScheduledJob{Job: n, Next: s.entries[n].next}
		if a, ok := s.busy[n]; ok {
			sj.Running, sj.RunningSince, sj.Trigger = true, a.since, a.trigger
		}
		out = append(out, sj)
	}
	return out
}

// StatusLine summarizes the scheduler in one line for sd_notify STATUS=:
// the running jobs and the next scheduled run, e.g.
// "running: maildb; next: rotate at 2026-03-08T00:00:00-05:00".
func (s *Scheduler) StatusLine() string {
	var running []string
	var next ScheduledJob
	for _, j := range s.Jobs() {
		if j.Running {
			running = append(running, j.Job)
		}
		if !j.Next.IsZero() && (next.Next.IsZero() || j.Next.Before(next.Next)) {
			next = j
		}
	}
	var parts []string
	if len(running) > 0 {
		parts = append(parts, "running: "+strings.Join(running, ", "))
	}
	if next.Job != "" {
		parts = append(parts, "next: "+next.Job+" at "+next.Next.Format(time.RFC3339))
	} else {
		parts = append(parts, "no scheduled jobs")
	}
	return strings.Join(parts, "; ")
}

// Healthy returns an error when the scheduling loop has not looked at the
// clock for three wake intervals (for /healthz and the systemd watchdog).
func (s *Scheduler) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.started:
		return errors.New("scheduler not started")
	case s.stopping:
		return errors.New("scheduler stopping")
	}
	if d := s.clock.Now().Sub(s.lastTick); d > 3*s.r.opts.WakeInterval {
		return fmt.Errorf("scheduler loop last ran %s ago", d.Round(time.Second))
	}
	return nil
}
