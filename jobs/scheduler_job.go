package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RunFunc does a job's work. It must return when ctx is done (timeout or
// shutdown). log carries the job's attributes (job, run_id); use it for
// everything the job logs. The summary (files sent per server, entries
// stripped, ...) is stored as JSON in the run's Record; it may be nil.
//
// A panic in RunFunc itself is recovered and counted as a failed run; a
// panic in a goroutine RunFunc starts cannot be recovered and crashes the
// process.
type RunFunc func(ctx context.Context, log *slog.Logger) (summary any, err error)

// Job is one schedulable unit of work.
type Job struct {
	// Name identifies the job in logs, state and lock files: letters,
	// digits, '_', '.' and '-', starting with a letter or digit.
	Name string
	// Schedule, if set, runs the job on its own; its Location is the
	// job's time zone. A job without one runs only after another job
	// (After) or by run-once.
	Schedule *Schedule
	// After names a job whose success triggers this one. When that job
	// fails, this one does not run and the pipeline stop is logged.
	After string
	// CatchUp runs the job once soon after the scheduler starts when the
	// state shows a scheduled run was missed while it was down (like
	// systemd's Persistent=true). A job that never ran is not caught up.
	CatchUp bool
	// Timeout, if positive, cancels each attempt's context after that
	// long; the context's cause then wraps context.DeadlineExceeded. The
	// context carries the deadline, measured by the runtime's timers
	// rather than Options.Clock.
	Timeout time.Duration
	// Jitter, if positive, delays each scheduled or catch-up run by a
	// random duration in [0, Jitter), like systemd's RandomizedDelaySec.
	// Runs after another job and run-once start at once.
	Jitter time.Duration
	// Retries is how many times a failed attempt is retried, with
	// exponential backoff (Options.RetryDelay, doubling up to
	// Options.MaxRetryDelay). Panics and cancellations are not retried.
	Retries int
	// Run does the work.
	Run RunFunc
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func validName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("invalid job name %q: use up to 64 letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// ErrCycle is wrapped by the error Validate returns for jobs that run
// after each other in a circle.
var ErrCycle = errors.New("jobs run after each other in a cycle")

// Validate checks a set of jobs: valid unique names, a Run function,
// After naming another existing job without cycles, and no negative
// durations or retries. It reports every problem it finds.
func Validate(jobs []Job) error {
	var errs []error
	byName := make(map[string]*Job, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		if err := validName(j.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := byName[j.Name]; dup {
			errs = append(errs, fmt.Errorf("job %s: defined twice", j.Name))
			continue
		}
		byName[j.Name] = j
		if j.Run == nil {
			errs = append(errs, fmt.Errorf("job %s: no run function", j.Name))
		}
		if j.Timeout < 0 || j.Jitter < 0 {
			errs = append(errs, fmt.Errorf("job %s: negative timeout or jitter", j.Name))
		}
		if j.Retries < 0 {
			errs = append(errs, fmt.Errorf("job %s: negative retries", j.Name))
		}
	}
	for _, j := range byName {
		if j.After == "" {
			continue
		}
		if j.After == j.Name {
			errs = append(errs, fmt.Errorf("job %s: runs after itself", j.Name))
			continue
		}
		if _, ok := byName[j.After]; !ok {
			errs = append(errs, fmt.Errorf("job %s: runs after unknown job %q (jobs: %s)", j.Name, j.After, strings.Join(sortedNames(byName), ", ")))
		}
	}
	if len(errs) == 0 {
		if cycle := findCycle(byName); cycle != nil {
			errs = append(errs, fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycle, " -> ")))
		}
	}
	return errors.Join(errs...)
}

func sortedNames(byName map[string]*Job) []string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// findCycle returns a cycle of After links (each job has at most one),
// or nil.
func findCycle(byName map[string]*Job) []string {
	for _, start := range sortedNames(byName) {
		seen := map[string]int{}
		var path []string
		for n := start; n != ""; n = byName[n].After {
			if i, ok := seen[n]; ok {
				return append(path[i:], n)
			}
			seen[n] = len(path)
			path = append(path, n)
		}
	}
	return nil
}

// Order returns jobs in pipeline order: each job right after the job it
// runs after (depth first), otherwise in the order given. With names, only those jobs (each once),
// still in pipeline order; an unknown name is an error. This is the order
// run-once uses.
func Order(jobs []Job, names ...string) ([]Job, error) {
	if err := Validate(jobs); err != nil {
		return nil, err
	}
	byName := make(map[string]int, len(jobs))
	for i, j := range jobs {
		byName[j.Name] = i
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			all := make([]string, len(jobs))
			for i, j := range jobs {
				all[i] = j.Name
			}
			return nil, fmt.Errorf("unknown job %q (configured: %s)", n, strings.Join(all, ", "))
		}
		want[n] = true
	}
	// Each job has at most one predecessor, so the jobs form a forest:
	// walk it depth first, roots and children in input order, so that each
	// pipeline's steps stay together.
	children := map[string][]Job{}
	var roots []Job
	for _, j := range jobs {
		if j.After == "" {
			roots = append(roots, j)
		} else {
			children[j.After] = append(children[j.After], j)
		}
	}
	ordered := make([]Job, 0, len(jobs))
	var walk func(j Job)
	walk = func(j Job) {
		if len(names) == 0 || want[j.Name] {
			ordered = append(ordered, j)
		}
		for _, c := range children[j.Name] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return ordered, nil
}
