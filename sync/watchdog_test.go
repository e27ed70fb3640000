package sync

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestWatchdog(t *testing.T) {
	const timeout = 80 * time.Millisecond
	fired := make(chan error, 1)
	w := newWatchdog(timeout, func(err error) { fired <- err })
	defer w.stop()

	// Nothing pending: never fires.
	w.begin()()
	select {
	case err := <-fired:
		t.Fatalf("fired with nothing pending: %v", err)
	case <-time.After(3 * timeout):
	}

	// Pending with steady progress: does not fire.
	end := w.begin()
	deadline := time.Now().Add(4 * timeout)
	for time.Now().Before(deadline) {
		w.progress()
		select {
		case err := <-fired:
			t.Fatalf("fired despite progress: %v", err)
		case <-time.After(timeout / 8):
		}
	}

	// Pending without progress: fires, with a timeout error.
	select {
	case err := <-fired:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("fired with %v, want a timeout", err)
		}
	case <-time.After(20 * timeout):
		t.Fatal("did not fire")
	}
	end()
}
