package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier speaks the sd_notify protocol to systemd for a Type=notify
// service, through github.com/coreos/go-systemd/v22/daemon. systemd passes
// the socket in NOTIFY_SOCKET (and the watchdog in WATCHDOG_USEC and
// WATCHDOG_PID); without NOTIFY_SOCKET every method does nothing and
// returns nil, so the daemon runs the same outside systemd.
//
// The daemon's sequence: Ready once the scheduler runs; Status whenever
// the next run changes; Reloading, then Ready, around a SIGHUP reload;
// Stopping on SIGTERM; Watchdog in a goroutine for the daemon's lifetime.
type Notifier struct {
	clock Clock
}

// NewNotifier returns a Notifier; clock times the watchdog pings (nil:
// SystemClock).
func NewNotifier(clock Clock) *Notifier {
	if clock == nil {
		clock = SystemClock()
	}
	return &Notifier{clock: clock}
}

func (n *Notifier) send(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.ReplaceAll(strings.TrimSpace(state), "\n", " "), err)
	}
	return nil
}

// Ready sends READY=1: start-up, or a reload, is complete.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Status sends STATUS=s, shown by systemctl status (newlines become
// spaces).
func (n *Notifier) Status(s string) error {
	return n.send("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// Reloading sends RELOADING=1 with MONOTONIC_USEC, which systemd requires
// for Type=notify-reload and accepts otherwise. Send Ready when the reload
// is done, whether it succeeded or not.
func (n *Notifier) Reloading() error {
	return n.send(daemon.SdNotifyReloading + "\n" + strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"))
}

// Stopping sends STOPPING=1: shutdown has begun.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// WatchdogInterval returns how often Watchdog pings: half of
// WATCHDOG_USEC, or 0 when systemd does not watch this process.
func (n *Notifier) WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("sd_notify watchdog: %w", err)
	}
	return d / 2, nil
}

// Watchdog sends WATCHDOG=1 every half of WATCHDOG_USEC until ctx is done,
// skipping a ping while healthy (if not nil) returns an error, so that
// systemd restarts a daemon whose scheduler is stuck. It returns nil at
// once when the watchdog is not enabled, and ctx's error when ctx ends. A
// failed ping is reported to onError (if not nil) and pinging goes on.
func (n *Notifier) Watchdog(ctx context.Context, healthy func() error, onError func(error)) error {
	interval, err := n.WatchdogInterval()
	if err != nil || interval <= 0 {
		return err
	}
	report := func(err error) {
		if err != nil && onError != nil {
			onError(err)
		}
	}
	for {
		if healthy == nil {
			report(n.send(daemon.SdNotifyWatchdog))
		} else if err := healthy(); err != nil {
			report(fmt.Errorf("sd_notify watchdog: not pinging: %w", err))
		} else {
			report(n.send(daemon.SdNotifyWatchdog))
		}
		t := n.clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
	}
}
