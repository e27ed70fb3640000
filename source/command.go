package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/peoplesync/peoplesync/nidump"
)

// Command runs a program whose standard output is the dump, such as
// `nidump aliases /mail` or `ssh niserver nidump aliases /mail`.
type Command struct {
	PasswdArgv  []string
	AliasesArgv []string
	// Timeout bounds each run; 0 means no limit but the context's.
	Timeout time.Duration
	// Grace is how long a timed-out command has between SIGTERM and
	// SIGKILL (default 5s).
	Grace time.Duration
	// Format is the commands' output form (default Nidump; Raw for
	// `nidump -r /users DOMAIN` and `nidump -r /aliases DOMAIN`).
	Format Format
}

var _ Source = Command{}

// Passwd implements Source.
func (c Command) Passwd(ctx context.Context, fn func(nidump.PasswdEntry) error) error {
	return c.run(ctx, c.PasswdArgv, func(r io.Reader, name string) error { return c.Format.readPasswd(ctx, r, name, fn) })
}

// Aliases implements Source.
func (c Command) Aliases(ctx context.Context, fn func(nidump.Alias) error) error {
	return c.run(ctx, c.AliasesArgv, func(r io.Reader, name string) error { return c.Format.readAliases(ctx, r, name, fn) })
}

func (c Command) String() string {
	return fmt.Sprintf("commands %q and %q", strings.Join(c.PasswdArgv, " "), strings.Join(c.AliasesArgv, " "))
}

// stderrKeep bounds how much of a command's standard error is kept.
const stderrKeep = 4096

func (c Command) run(ctx context.Context, argv []string, read func(io.Reader, string) error) error {
	if len(argv) == 0 {
		return errors.New("no command configured")
	}
	name := strings.Join(argv, " ")
	runCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	grace := c.Grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = grace
	stderr := &tailBuffer{max: stderrKeep}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w: check [source] %s in the config", name, err, "*_command")
	}
	readErr := read(stdout, name)
	if readErr != nil {
		// Stop the command: its output is not wanted any more.
		cmd.Process.Signal(syscall.SIGTERM)
		io.Copy(io.Discard, stdout)
	}
	waitErr := cmd.Wait()
	switch {
	case runCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		return fmt.Errorf("%s: timed out after %v and was stopped%s: check that it can reach the domain, or raise [source] timeout", name, c.Timeout, stderr.suffix())
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", name, ctx.Err())
	case readErr != nil:
		return readErr
	case waitErr != nil:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			return fmt.Errorf("%s: %v%s", name, ee.ProcessState, stderr.suffix())
		}
		return fmt.Errorf("%s: %w%s", name, waitErr, stderr.suffix())
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) suffix() string {
	s := string(bytes.TrimSpace(t.buf))
	if s == "" {
		return " (no output on stderr)"
	}
	return ": stderr: " + s
}
