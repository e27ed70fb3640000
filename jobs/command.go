package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for Command.
const (
	DefaultKillGrace  = 10 * time.Second
	DefaultStderrTail = 10
)

// maxLogLine is the longest output line logged as one record; longer
// lines are logged in pieces.
const maxLogLine = 16 << 10

// Command is a job that runs a program (kind = "command"). Use its Run
// method as the Job's RunFunc.
//
// The program runs in a process group of its own. When the job's context
// ends (timeout, shutdown) the group gets SIGTERM, and SIGKILL KillGrace
// later if it is still there. Each line the program writes is logged with
// the job's attributes and stream=stdout or stream=stderr. A non-zero exit
// is a *CommandError carrying the exit status and the last lines of
// stderr.
type Command struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH
	// if it has no slash.
	Argv []string
	// Dir is the working directory; empty means the daemon's.
	Dir string
	// Env is the environment; nil means the daemon's.
	Env []string
	// KillGrace is the time between SIGTERM and SIGKILL
	// (DefaultKillGrace if 0).
	KillGrace time.Duration
	// StderrTail is how many last lines of stderr a *CommandError keeps
	// (DefaultStderrTail if 0).
	StderrTail int
}

// CommandSummary is the summary a Command run records.
type CommandSummary struct {
	Argv     []string `json:"argv"`
	PID      int      `json:"pid"`
	ExitCode int      `json:"exit_code"`        // -1 when killed by a signal
	Signal   string   `json:"signal,omitempty"` // the signal that killed it
}

// CommandError is a command that did not exit with status 0.
type CommandError struct {
	Argv       []string
	ExitCode   int    // -1 when killed by a signal
	Signal     string // the signal that killed it, if any
	StderrTail []string
	Err        error // from exec.Cmd.Wait
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command %s: ", strings.Join(e.Argv, " "))
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	}
	if len(e.StderrTail) > 0 {
		fmt.Fprintf(&b, "; last stderr: %s", strings.Join(e.StderrTail, " | "))
	}
	return b.String()
}

// Unwrap returns the error from exec.Cmd.Wait.
func (e *CommandError) Unwrap() error { return e.Err }

// Run runs the command until it exits or ctx ends. It is a RunFunc.
func (c Command) Run(ctx context.Context, log *slog.Logger) (any, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return nil, errors.New("command job: no program to run")
	}
	grace := c.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	tail := c.StderrTail
	if tail <= 0 {
		tail = DefaultStderrTail
	}

	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout := &lineLogger{log: log, stream: "stdout"}
	stderr := &lineLogger{log: log, stream: "stderr", keep: tail}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	var (
		killMu sync.Mutex
		kill   *time.Timer
	)
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		log.Warn("stopping command", "signal", "SIGTERM", "pid", pgid,
			"reason", context.Cause(ctx), "kill_after", grace)
		killMu.Lock()
		kill = time.AfterFunc(grace, func() {
			if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
				log.Warn("command still running after SIGTERM, killed", "signal", "SIGKILL", "pid", pgid)
			}
		})
		killMu.Unlock()
		if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return os.ErrProcessDone
			}
			return fmt.Errorf("signal process group %d: %w", pgid, err)
		}
		return nil
	}
	// Go kills the leader and closes the pipes this long after ctx ends,
	// or after the leader exits while a child still holds its output.
	cmd.WaitDelay = grace

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start command %s: %w", strings.Join(c.Argv, " "), err)
	}
	sum := CommandSummary{Argv: c.Argv, PID: cmd.Process.Pid}
	log.Info("command started", "argv", c.Argv, "pid", sum.PID)
	waitErr := cmd.Wait()
	stdout.flush()
	stderr.flush()
	if ctx.Err() == nil {
		killMu.Lock()
		if kill != nil {
			kill.Stop()
		}
		killMu.Unlock()
	} // else let the timer SIGKILL whatever is left of the group

	ps := cmd.ProcessState
	sum.ExitCode = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sum.Signal = ws.Signal().String()
	}
	switch {
	case waitErr == nil:
		log.Info("command exited", "exit_code", sum.ExitCode, "pid", sum.PID)
		return sum, nil
	case ctx.Err() != nil && ps.Success():
		// It exited cleanly on SIGTERM, but did not finish its work.
		log.Warn("command stopped", "exit_code", sum.ExitCode, "pid", sum.PID, "reason", context.Cause(ctx))
		return sum, fmt.Errorf("command %s stopped: %w", strings.Join(c.Argv, " "), context.Cause(ctx))
	case errors.Is(waitErr, exec.ErrWaitDelay) && ps.Success():
		log.Warn("command exited, but a process it started kept its output open; closed it",
			"exit_code", sum.ExitCode, "pid", sum.PID)
		return sum, nil
	}
	log.Warn("command failed", "exit_code", sum.ExitCode, "signal", sum.Signal, "pid", sum.PID)
	return sum, &CommandError{
		Argv:       c.Argv,
		ExitCode:   sum.ExitCode,
		Signal:     sum.Signal,
		StderrTail: stderr.tail(),
		Err:        waitErr,
	}
}

// lineLogger logs what a command writes, one record per line.
type lineLogger struct {
	log    *slog.Logger
	stream string
	keep   int // last lines to keep, 0 for none

	mu   sync.Mutex
	buf  []byte
	last []string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	for len(l.buf) >= maxLogLine {
		l.emit(l.buf[:maxLogLine])
		l.buf = l.buf[maxLogLine:]
	}
	if len(l.buf) == 0 {
		l.buf = nil // let the backing array go
	}
	return len(p), nil
}

func (l *lineLogger) emit(line []byte) {
	s := strings.TrimSuffix(string(line), "\r")
	l.log.Info(s, "stream", l.stream)
	if l.keep > 0 {
		l.last = append(l.last, s)
		if len(l.last) > l.keep {
			l.last = l.last[len(l.last)-l.keep:]
		}
	}
}

// flush logs a last line without a newline.
func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineLogger) tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.last...)
}
