package jobs_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peoplesync/peoplesync/jobs"
)

// notifySocket listens where systemd would and points NOTIFY_SOCKET at it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierMessages(t *testing.T) {
	noLeaks(t)
	conn := notifySocket(t)
	n := jobs.NewNotifier(nil)
	steps := []struct {
		send func() error
		want *regexp.Regexp
	}{
		{n.Ready, regexp.MustCompile(`^READY=1$`)},
		{func() error { return n.Status("next: maildb at 2026-03-08T03:00:00-04:00\nsecond line") },
			regexp.MustCompile(`^STATUS=next: maildb at 2026-03-08T03:00:00-04:00 second line$`)},
		{n.Reloading, regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`)},
		{n.Ready, regexp.MustCompile(`^READY=1$`)},
		{n.Stopping, regexp.MustCompile(`^STOPPING=1$`)},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, conn); !s.want.MatchString(got) {
			t.Errorf("received %q, want %v", got, s.want)
		}
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	noLeaks(t)
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := jobs.NewNotifier(nil)
	for _, f := range []func() error{n.Ready, n.Reloading, n.Stopping, func() error { return n.Status("x") }} {
		if err := f(); err != nil {
			t.Errorf("without NOTIFY_SOCKET: %v", err)
		}
	}
	if err := n.Watchdog(t.Context(), nil, nil); err != nil {
		t.Errorf("Watchdog without WATCHDOG_USEC = %v, want nil at once", err)
	}
	// A watchdog meant for another process is not ours.
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getppid()))
	if d, err := n.WatchdogInterval(); d != 0 || err != nil {
		t.Errorf("WatchdogInterval for another PID = %v, %v", d, err)
	}
	// A broken socket path is reported.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	if err := n.Ready(); err == nil {
		t.Errorf("Ready to a missing socket = nil, want an error")
	}
}

func TestNotifierWatchdog(t *testing.T) {
	noLeaks(t)
	conn := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "40000") // 40ms: pings every 20ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := jobs.NewNotifier(nil)
	if d, err := n.WatchdogInterval(); d != 20*time.Millisecond || err != nil {
		t.Fatalf("WatchdogInterval = %v, %v; want half of WATCHDOG_USEC", d, err)
	}
	// The first two health checks fail: no ping for them.
	var checks atomic.Int32
	healthy := func() error {
		if checks.Add(1) <= 2 {
			return errors.New("scheduler loop last ran 5m ago")
		}
		return nil
	}
	errs := make(chan error, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Watchdog(ctx, healthy, func(err error) { errs <- err }) }()
	for range 3 {
		if got := receive(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("received %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watchdog returned %v, want context.Canceled", err)
	}
	if c := checks.Load(); c < 5 {
		t.Errorf("3 pings after %d health checks, want at least 5 (2 unhealthy)", c)
	}
	close(errs)
	var reported int
	for err := range errs {
		reported++
		if !regexpMatch(`not pinging: scheduler loop last ran`, err.Error()) {
			t.Errorf("reported %v", err)
		}
	}
	if reported != 2 {
		t.Errorf("reported %d errors, want 2", reported)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
