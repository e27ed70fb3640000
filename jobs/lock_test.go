package jobs_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peoplesync/peoplesync/jobs"
)

// The helper process holds a job's lock for the cross-process tests, like
// a daemon running the job. It prints "locked", waits for its stdin to
// close, writes the marker file, then releases the lock.
const (
	helperEnv    = "PEOPLESYNC_LOCK_HELPER"
	helperDirEnv = "PEOPLESYNC_LOCK_HELPER_DIR"
)

func TestLockHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process for the lock tests")
	}
	dir, job := os.Getenv(helperDirEnv), os.Getenv(helperEnv)
	lock, err := jobs.LockJob(context.Background(), dir, job, jobs.LockFail)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := os.WriteFile(filepath.Join(dir, "released"), nil, 0o644); err != nil {
		os.Exit(1)
	}
	if err := lock.Unlock(); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// otherProcess starts the helper holding job's lock in dir and returns it
// once it holds the lock.
func otherProcess(t *testing.T, dir, job string) (cmd *exec.Cmd, stdin io.WriteCloser) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+job, helperDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper process said %q, %v", line, err)
	}
	return cmd, stdin
}

func TestLockAcrossProcesses(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	_, stdin := otherProcess(t, dir, "sync")

	// Refused at once, naming the job and the lock file.
	_, err := jobs.LockJob(t.Context(), dir, "sync", jobs.LockFail)
	var locked *jobs.LockedError
	if !errors.As(err, &locked) || locked.Job != "sync" || locked.Path != jobs.LockPath(dir, "sync") || !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("LockJob while another process holds it = %v, want a LockedError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "job sync is already running in another process") || !strings.Contains(msg, jobs.LockPath(dir, "sync")) {
		t.Errorf("message %q does not tell which job and lock file", msg)
	}
	// Another job is not affected.
	other, err := jobs.LockJob(t.Context(), dir, "maildb", jobs.LockFail)
	if err != nil {
		t.Fatalf("lock of another job: %v", err)
	}
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}

	// run-once without --wait refuses the job and runs nothing.
	ran := false
	js := []jobs.Job{{Name: "sync", Run: func(context.Context, *slog.Logger) (any, error) { ran = true; return nil, nil }}}
	recs, err := jobs.RunOnce(t.Context(), js, nil, jobs.LockFail, jobs.Options{StateDir: dir})
	if !errors.As(err, &locked) || ran || len(recs) != 0 {
		t.Fatalf("RunOnce(LockFail) = %v, %v (ran %v), want it refused", recs, err, ran)
	}

	// Waiting gives up when the context ends.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := jobs.LockJob(ctx, dir, "sync", jobs.LockWait); !errors.Is(err, context.Canceled) {
		t.Errorf("LockJob(LockWait) with a cancelled context = %v", err)
	}

	// run-once --wait runs the job once the other process lets go.
	type result struct {
		recs []jobs.Record
		err  error
	}
	done := make(chan result, 1)
	js[0].Run = func(context.Context, *slog.Logger) (any, error) {
		if _, err := os.Stat(filepath.Join(dir, "released")); err != nil {
			return nil, errors.New("ran while the other process held the lock")
		}
		return nil, nil
	}
	go func() {
		recs, err := jobs.RunOnce(t.Context(), js, nil, jobs.LockWait, jobs.Options{StateDir: dir})
		done <- result{recs, err}
	}()
	if err := stdin.Close(); err != nil { // the other process finishes its run
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.recs) != 1 || r.recs[0].Outcome != jobs.OutcomeSuccess {
		t.Fatalf("RunOnce(LockWait) = %+v, %v", r.recs, r.err)
	}
}

// TestLockReleasedWhenHolderDies: a crashed daemon leaves no stale lock.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	cmd, _ := otherProcess(t, dir, "sync")
	if _, err := jobs.LockJob(t.Context(), dir, "sync", jobs.LockFail); !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("LockJob = %v, want ErrLocked", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	lock, err := jobs.LockJob(t.Context(), dir, "sync", jobs.LockFail)
	if err != nil {
		t.Fatalf("LockJob after the holder died: %v", err)
	}
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.LockJob(t.Context(), dir, "../x", jobs.LockFail); err == nil {
		t.Errorf("LockJob accepted a path as a job name")
	}
}
