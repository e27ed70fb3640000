package sync

import (
	"errors"
	"fmt"
	"net"
	gosync "sync"
	"sync/atomic"
	"time"
)

// maxBuffered bounds the bytes a conn holds for writing before Write waits.
const maxBuffered = 256 * 1024

// conn is the client's TCP connection to a server. Every read and write
// has a deadline: the connect deadline during the handshake, then the io
// timeout from the moment it starts, so a peer that stops answering fails
// the connection instead of hanging it.
//
// Writes are batched: Write appends to a buffer and a goroutine writes what
// accumulated in one system call. x/crypto/ssh writes (and flushes) every
// SSH packet on its own, and an SFTP upload of many small files sends tens
// of thousands of small packets; batching them saves most of those system
// calls without delaying any packet. A write error is returned by the next
// Write, Read sees the connection closed.
type conn struct {
	nc        net.Conn
	ioTimeout time.Duration
	fixed     atomic.Int64 // handshake deadline, unix nanoseconds; 0 after it

	mu      gosync.Mutex
	cond    gosync.Cond
	buf     []byte
	spare   []byte
	err     error // the first error: why the connection failed
	closed  bool
	flushed chan struct{} // closed when the writer goroutine ends
}

func newConn(nc net.Conn, ioTimeout time.Duration, handshakeDeadline time.Time) *conn {
	c := &conn{nc: nc, ioTimeout: ioTimeout, flushed: make(chan struct{})}
	c.cond.L = &c.mu
	c.fixed.Store(handshakeDeadline.UnixNano())
	go c.writeLoop()
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
		err = fmt.Errorf("no progress for %v (io timeout): %w", c.ioTimeout, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
}

// abort fails the connection with err as its cause and closes it.
func (c *conn) abort(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
	c.mu.Unlock()
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

func (c *conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.buf) >= maxBuffered {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, b...)
	c.cond.Broadcast()
	return len(b), nil
}

// writeLoop writes whatever accumulated, until the connection fails or is
// closed.
func (c *conn) writeLoop() {
	defer close(c.flushed)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.buf) == 0 && c.err == nil {
			c.cond.Wait()
		}
		if c.err != nil {
			return
		}
		out := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		c.nc.SetWriteDeadline(c.deadline())
		_, err := c.nc.Write(out)
		c.mu.Lock()
		if cap(out) <= 2*maxBuffered {
			c.spare = out[:0]
		}
		if err != nil && c.err == nil {
			c.mu.Unlock()
			c.fail(err)
			c.nc.Close() // unblock the reader
			c.mu.Lock()
		}
		c.cond.Broadcast()
	}
}

// Close closes the connection and waits for the writer goroutine.
func (c *conn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	var err error
	if first {
		err = c.nc.Close()
	}
	<-c.flushed
	return err
}

func (c *conn) LocalAddr() net.Addr                { return c.nc.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr               { return c.nc.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error      { return c.nc.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.nc.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }
