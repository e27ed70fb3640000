package sync

import (
	"fmt"
	"io"
	gosync "sync"
	"sync/atomic"
	"time"
)

// watchdog fails a connection when operations are pending on it and none
// made progress for the io timeout. The connection's own deadlines and
// keepalives catch a dead or silent peer; the watchdog catches a server
// whose SSH side still answers keepalives while its SFTP server or a
// special hangs (on a dead NFS mount, say). Progress is one atomic store;
// a timer checks a few times per timeout while operations are pending.
type watchdog struct {
	timeout time.Duration
	fire    func(error)

	last    atomic.Int64 // unix nanoseconds of the last start, end or progress
	pending atomic.Int64

	mu      gosync.Mutex
	running bool // the check timer is armed
	stopped bool
	timer   *time.Timer
}

func newWatchdog(timeout time.Duration, fire func(error)) *watchdog {
	w := &watchdog{timeout: timeout, fire: fire}
	w.timer = time.AfterFunc(time.Hour, w.check)
	w.timer.Stop()
	return w
}

// begin marks an operation started; call the returned func when it ends.
func (w *watchdog) begin() (end func()) {
	w.progress()
	if w.pending.Add(1) == 1 {
		w.mu.Lock()
		if !w.running && !w.stopped {
			w.running = true
			w.timer.Reset(w.timeout / 4)
		}
		w.mu.Unlock()
	}
	return func() {
		w.progress()
		w.pending.Add(-1)
	}
}

// progress notes that a pending operation moved on.
func (w *watchdog) progress() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) check() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if w.pending.Load() == 0 {
		w.running = false
		w.mu.Unlock()
		return
	}
	if time.Since(time.Unix(0, w.last.Load())) < w.timeout {
		w.timer.Reset(w.timeout / 4)
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	w.fire(&stallError{w.timeout})
}

// stop disarms the watchdog for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
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
