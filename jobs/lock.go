package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// LockMode says what LockJob does when another process holds a job's lock.
type LockMode int

const (
	// LockFail refuses at once with a *LockedError (what the daemon does
	// for a scheduled run, and run-once without --wait).
	LockFail LockMode = iota
	// LockWait waits until the lock is free or the context is done
	// (run-once --wait).
	LockWait
)

// lockPollInterval is how often LockWait retries a held lock. flock(2)
// cannot wait with a deadline, so waiting is polling.
const lockPollInterval = 250 * time.Millisecond

// ErrLocked is the error a *LockedError wraps: the job is running in
// another process.
var ErrLocked = errors.New("job is locked by another process")

// LockedError reports that a job could not start because another process
// (the daemon, or another run-once) holds its lock file.
type LockedError struct {
	Job  string // the job's name
	Path string // the lock file
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("job %s is already running in another process (lock file %s is held)", e.Job, e.Path)
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// JobLock is a held per-job lock: an exclusive flock(2) on
// STATE_DIR/locks/JOB.lock. The kernel releases it when the process exits,
// so a crash never leaves a job locked.
type JobLock struct {
	job string
	fl  *flock.Flock
}

// LockPath returns the lock file of a job in a state directory.
func LockPath(stateDir, job string) string {
	return filepath.Join(stateDir, "locks", job+".lock")
}

// LockJob takes the job's lock in stateDir. With LockFail it returns a
// *LockedError at once when another process holds it; with LockWait it
// waits until the lock is free or ctx is done.
//
// flock(2) locks belong to an open file, so two LockJob calls in one
// process also exclude each other.
func LockJob(ctx context.Context, stateDir, job string, mode LockMode) (*JobLock, error) {
	if err := validName(job); err != nil {
		return nil, err
	}
	path := LockPath(stateDir, job)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock job %s: %w", job, err)
	}
	fl := flock.New(path, flock.SetPermissions(0o644))
	var (
		ok  bool
		err error
	)
	switch mode {
	case LockWait:
		ok, err = fl.TryLockContext(ctx, lockPollInterval)
	default:
		ok, err = fl.TryLock()
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("wait for lock %s of job %s: %w", path, job, err)
		}
		return nil, fmt.Errorf("lock %s of job %s: %w", path, job, err)
	}
	if !ok {
		return nil, &LockedError{Job: job, Path: path}
	}
	return &JobLock{job: job, fl: fl}, nil
}

// Path returns the lock file.
func (l *JobLock) Path() string { return l.fl.Path() }

// Unlock releases the lock and closes the lock file. The file stays, so
// that every process locks the same inode.
func (l *JobLock) Unlock() error {
	if err := l.fl.Unlock(); err != nil {
		return fmt.Errorf("unlock %s of job %s: %w", l.fl.Path(), l.job, err)
	}
	return nil
}
