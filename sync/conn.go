package sync

import (
	"errors"
	"fmt"
	"io"
	"net"
	gosync "sync"
	"sync/atomic"
	"time"
)

// maxBuffered bounds the bytes a batchWriter holds before Write waits.
const maxBuffered = 256 * 1024

// batchWriter queues writes and has a goroutine pass on whatever
// accumulated in one call. Under load many small writes become one; a
// lone write goes out at once. A write error fails the writer: it is
// returned by the next Write.
//
// It is used twice on an SFTP connection. pkg/sftp writes every request
// (a write request in two parts) to the session channel on its own, and
// each such write is an SSH packet the server must decrypt and route;
// batched, dozens of requests travel in one packet. And x/crypto/ssh
// flushes every SSH packet to the socket with its own system call; batched,
// the packets of a burst share one.
type batchWriter struct {
	write func([]byte) error
	fail  func(error) // called with the write error, if any

	mu      gosync.Mutex
	cond    gosync.Cond
	buf     []byte
	spare   []byte
	writing bool // a batch taken from buf is being written
	err     error
	done    chan struct{} // closed when the goroutine ends
}

func newBatchWriter(write func([]byte) error, fail func(error)) *batchWriter {
	b := &batchWriter{write: write, fail: fail, done: make(chan struct{})}
	b.cond.L = &b.mu
	go b.loop()
	return b
}

// Write queues p; it waits while maxBuffered bytes are queued.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && len(b.buf) >= maxBuffered {
		b.cond.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	b.cond.Broadcast()
	return len(p), nil
}

func (b *batchWriter) loop() {
	defer close(b.done)
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for len(b.buf) == 0 && b.err == nil {
			b.cond.Wait()
		}
		if b.err != nil {
			return
		}
		out := b.buf
		b.buf = b.spare[:0]
		b.writing = true
		b.mu.Unlock()
		err := b.write(out)
		b.mu.Lock()
		b.writing = false
		if cap(out) <= 2*maxBuffered {
			b.spare = out[:0]
		}
		if err != nil && b.err == nil {
			b.err = err
			b.mu.Unlock()
			if b.fail != nil {
				b.fail(err)
			}
			b.mu.Lock()
		}
		b.cond.Broadcast()
	}
}

// stop makes further writes fail with err (what is queued is dropped) and
// waits for the goroutine.
func (b *batchWriter) stop(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	<-b.done
}

// channelWriter batches writes to an SSH channel (the SFTP session's
// stdin); Close stops it and closes the channel's input.
type channelWriter struct {
	*batchWriter
	wc io.WriteCloser
}

func newChannelWriter(wc io.WriteCloser) *channelWriter {
	return &channelWriter{
		batchWriter: newBatchWriter(func(p []byte) error { _, err := wc.Write(p); return err }, nil),
		wc:          wc,
	}
}

func (w *channelWriter) Close() error {
	w.stop(io.ErrClosedPipe)
	return w.wc.Close()
}

// conn is the client's TCP connection to a server. Every read and write
// has a deadline: the connect deadline during the handshake, then the io
// timeout from the moment it starts, so a peer that stops answering fails
// the connection instead of hanging it. Writes are batched (batchWriter).
// The first error is kept as the reason the connection failed.
type conn struct {
	nc        net.Conn
	ioTimeout time.Duration
	fixed     atomic.Int64 // handshake deadline, unix nanoseconds; 0 after it
	w         *batchWriter

	mu     gosync.Mutex
	err    error
	closed bool
}

func newConn(nc net.Conn, ioTimeout time.Duration, handshakeDeadline time.Time) *conn {
	c := &conn{nc: nc, ioTimeout: ioTimeout}
	c.fixed.Store(handshakeDeadline.UnixNano())
	c.w = newBatchWriter(func(p []byte) error {
		c.nc.SetWriteDeadline(c.deadline())
		_, err := c.nc.Write(p)
		return err
	}, func(err error) {
		c.fail(err)
		c.nc.Close() // unblock the reader
	})
	return c
}

// endHandshake switches from the handshake deadline to the io timeout.
func (c *conn) endHandshake() { c.fixed.Store(0) }

func (c *conn) deadline() time.Time {
	if f := c.fixed.Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Now().Add(c.ioTimeout)
}

// fail records err as the connection's failure if it is the first.
func (c *conn) fail(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && c.fixed.Load() == 0 {
		var se *stallError
		if !errors.As(err, &se) {
			err = fmt.Errorf("no progress for %v (io timeout): %w", c.ioTimeout, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// abort fails the connection with err as its cause and closes it.
func (c *conn) abort(err error) {
	c.fail(err)
	c.nc.Close()
}

// firstErr returns why the connection failed, or nil.
func (c *conn) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *conn) Read(b []byte) (int, error) {
	c.nc.SetReadDeadline(c.deadline())
	n, err := c.nc.Read(b)
	if err != nil {
		c.fail(err)
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Close closes the connection and waits for the writer goroutine.
func (c *conn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	var err error
	if first {
		err = c.nc.Close()
	}
	c.w.stop(net.ErrClosed)
	return err
}

func (c *conn) LocalAddr() net.Addr                { return c.nc.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr               { return c.nc.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error      { return c.nc.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.nc.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }
