package sync

import (
	"fmt"
	"io"
	gosync "sync"
	"time"
)

// watchdog fails a connection when operations are pending on it and none
// made progress for the io timeout. The connection's own deadlines and
// keepalives catch a dead or silent peer; the watchdog catches a server
// whose SSH side still answers keepalives while its SFTP server or a
// special hangs (on a dead NFS mount, say).
type watchdog struct {
	timeout time.Duration
	fire    func(error)

	mu      gosync.Mutex
	pending int
	last    time.Time // last start, end or progress of an operation
	timer   *time.Timer
	fired   bool
}

func newWatchdog(timeout time.Duration, fire func(error)) *watchdog {
	w := &watchdog{timeout: timeout, fire: fire}
	w.timer = time.AfterFunc(timeout, w.check)
	w.timer.Stop()
	return w
}

// begin marks an operation started; call the returned func when it ends.
func (w *watchdog) begin() (end func()) {
	w.mu.Lock()
	w.pending++
	w.touchLocked()
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.pending--
		w.touchLocked()
		if w.pending == 0 {
			w.timer.Stop()
		}
	}
}

// progress notes that a pending operation moved on.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending > 0 {
		w.touchLocked()
	}
}

func (w *watchdog) touchLocked() {
	w.last = time.Now()
	w.timer.Reset(w.timeout)
}

func (w *watchdog) check() {
	w.mu.Lock()
	if w.pending == 0 || w.fired {
		w.mu.Unlock()
		return
	}
	if idle := time.Since(w.last); idle < w.timeout {
		w.timer.Reset(w.timeout - idle) // progress raced with the timer
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.fire(&stallError{w.timeout})
}

// stop disarms the watchdog for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fired = true
	w.timer.Stop()
}

// stallError is the failure a watchdog reports; it is a timeout, and
// transient.
type stallError struct{ d time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("the server made no progress for %v (io timeout)", e.d)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// progressReader reports progress on every read.
type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.w.progress()
	return n, err
}

// progressWriter reports progress on every write.
type progressWriter struct {
	wr io.Writer
	w  *watchdog
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.w.progress()
	return p.wr.Write(b)
}
