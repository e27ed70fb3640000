package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

func sh(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	return p
}

func TestCommandLogsOutputLineByLine(t *testing.T) {
	noLeaks(t)
	logs := newLogCapture()
	log := logs.Logger().With("job", "rotate", "run_id", "r1")
	c := jobs.Command{Argv: []string{sh(t), "-c", `echo one; echo two >&2; printf 'three\r\nfour'; echo "$GREETING from $(pwd)"`},
		Dir: "/", Env: []string{"GREETING=hello"}}
	sum, err := c.Run(t.Context(), log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, want := range []struct{ msg, stream string }{
		{"one", "stdout"}, {"two", "stderr"}, {"three", "stdout"}, {"fourhello from /", "stdout"},
	} {
		got := logs.Find(want.msg, "stream", want.stream, "job", "rotate", "run_id", "r1")
		if len(got) != 1 || got[0].Msg != want.msg {
			logs.Dump(t)
			t.Fatalf("want one %s line %q with the job's attributes, got %v", want.stream, want.msg, got)
		}
	}
	s, ok := sum.(jobs.CommandSummary)
	if !ok || s.ExitCode != 0 || s.PID == 0 || s.Signal != "" {
		t.Errorf("summary = %#v", sum)
	}
	if _, err := json.Marshal(sum); err != nil {
		t.Errorf("summary is not JSON: %v", err)
	}
}

func TestCommandExitStatus(t *testing.T) {
	noLeaks(t)
	logs := newLogCapture()
	c := jobs.Command{Argv: []string{sh(t), "-c", `for i in 1 2 3 4; do echo "err $i" >&2; done; exit 3`}, StderrTail: 2}
	_, err := c.Run(t.Context(), logs.Logger())
	var ce *jobs.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v, want a *CommandError", err)
	}
	if ce.ExitCode != 3 || ce.Signal != "" || !slices.Equal(ce.StderrTail, []string{"err 3", "err 4"}) {
		t.Errorf("CommandError = %+v", ce)
	}
	if msg := err.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "last stderr: err 3 | err 4") {
		t.Errorf("message %q lacks the status or the last stderr lines", msg)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("CommandError does not wrap *exec.ExitError")
	}

	if _, err := (jobs.Command{Argv: []string{"/nonexistent/program"}}).Run(t.Context(), logs.Logger()); err == nil || !strings.Contains(err.Error(), "/nonexistent/program") {
		t.Errorf("missing program: %v", err)
	}
	if _, err := (jobs.Command{}).Run(t.Context(), logs.Logger()); err == nil {
		t.Errorf("empty argv accepted")
	}
}

// TestCommandTermThenKill: a child that traps SIGTERM gets SIGKILL after
// the grace period; its whole process group goes.
func TestCommandTermThenKill(t *testing.T) {
	noLeaks(t)
	logs := newLogCapture()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := jobs.Command{
		Argv:      []string{sh(t), "-c", `trap 'echo got TERM >&2' TERM; echo ready; while :; do sleep 0.05; done`},
		KillGrace: 200 * time.Millisecond,
	}
	type result struct {
		sum any
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := c.Run(ctx, logs.Logger())
		done <- result{sum, err}
	}()
	waitFor(t, "the command to start", func() bool { return len(logs.Find("ready", "stream", "stdout")) == 1 })
	cancel()
	r := <-done
	var ce *jobs.CommandError
	if !errors.As(r.err, &ce) || ce.Signal != "killed" || ce.ExitCode != -1 {
		logs.Dump(t)
		t.Fatalf("Run = %v, want a CommandError: killed by SIGKILL", r.err)
	}
	if len(logs.Find("got TERM", "stream", "stderr")) == 0 {
		t.Errorf("the command never saw SIGTERM")
	}
	if len(logs.Find("stopping command", "signal", "SIGTERM")) != 1 {
		t.Errorf("SIGTERM not logged")
	}
	if s, ok := r.sum.(jobs.CommandSummary); !ok || s.Signal != "killed" {
		t.Errorf("summary = %#v, want the signal", r.sum)
	}
}

// TestCommandTimeoutThroughRunOnce: a command job with a timeout is
// terminated and the run recorded as timed out.
func TestCommandTimeoutThroughRunOnce(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	c := jobs.Command{Argv: []string{sh(t), "-c", `exec sleep 60`}, KillGrace: 5 * time.Second}
	recs, err := jobs.RunOnce(t.Context(), []jobs.Job{{Name: "slow", Timeout: 100 * time.Millisecond, Run: c.Run}}, nil, jobs.LockFail, jobs.Options{StateDir: dir})
	if err == nil || len(recs) != 1 {
		t.Fatalf("RunOnce = %+v, %v", recs, err)
	}
	r := recs[0]
	if r.Outcome != jobs.OutcomeTimeout || !strings.Contains(r.Error, "killed by signal terminated") || !strings.Contains(r.Error, "timeout of 100ms") {
		t.Errorf("record = %+v, want a timeout: SIGTERM ended it", r)
	}
	var sum jobs.CommandSummary
	if err := json.Unmarshal(r.Summary, &sum); err != nil || sum.Signal != "terminated" || sum.ExitCode != -1 {
		t.Errorf("recorded summary %s: %+v, %v", r.Summary, sum, err)
	}
}

// TestCommandCleanExitOnTerm: a command that exits 0 on SIGTERM was still
// stopped before finishing, which is an error.
func TestCommandCleanExitOnTerm(t *testing.T) {
	noLeaks(t)
	logs := newLogCapture()
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("daemon stopping")
	done := make(chan error, 1)
	c := jobs.Command{Argv: []string{sh(t), "-c", `trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done`}}
	go func() {
		_, err := c.Run(ctx, logs.Logger())
		done <- err
	}()
	waitFor(t, "the command to start", func() bool { return len(logs.Find("ready")) == 1 })
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("Run = %v, want an error carrying the cancel cause", err)
	}
}
