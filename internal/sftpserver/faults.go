package sftpserver

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// ConnFaults are faults injected at the connection level, by the in-process
// Server and by Proxy. Byte counts are of bytes received from the client.
type ConnFaults struct {
	// NeverSpeak accepts the TCP connection and never sends a byte: no SSH
	// banner, no handshake.
	NeverSpeak bool
	// DropAfterBytes closes the connection once this many bytes have been
	// received from the client (0: off).
	DropAfterBytes int64
	// StallAfterBytes stops reading from and writing to the connection once
	// this many bytes have been received, keeping it open (0: off).
	StallAfterBytes int64
	// Connections limits the faults above to the next N connections accepted
	// after they were set (0: every connection).
	Connections int
}

func (f ConnFaults) active() bool {
	return f.NeverSpeak || f.DropAfterBytes > 0 || f.StallAfterBytes > 0
}

// errDropped is what a faultConn returns once it dropped the connection.
var errDropped = errors.New("sftpserver: connection dropped by fault injection")

// connFaultState hands out the connection faults to accepted connections,
// counting down ConnFaults.Connections.
type connFaultState struct {
	mu     sync.Mutex
	faults ConnFaults
	left   int
}

func (s *connFaultState) set(f ConnFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.left = f.Connections
}

// next returns the faults for a newly accepted connection.
func (s *connFaultState) next() ConnFaults {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.faults.active() {
		return ConnFaults{}
	}
	if s.faults.Connections > 0 {
		if s.left == 0 {
			return ConnFaults{}
		}
		s.left--
	}
	return s.faults
}

// faultConn wraps a server-side connection and injects f.
type faultConn struct {
	net.Conn
	f ConnFaults

	received  atomic.Int64
	closeOnce sync.Once
	closed    chan struct{}
}

func newFaultConn(c net.Conn, f ConnFaults) *faultConn {
	return &faultConn{Conn: c, f: f, closed: make(chan struct{})}
}

func (c *faultConn) stalled() bool {
	return c.f.StallAfterBytes > 0 && c.received.Load() >= c.f.StallAfterBytes
}

// stall blocks until the connection is closed.
func (c *faultConn) stall() error {
	<-c.closed
	return net.ErrClosed
}

func (c *faultConn) Read(b []byte) (int, error) {
	n := c.received.Load()
	if c.f.DropAfterBytes > 0 && n >= c.f.DropAfterBytes {
		c.Close()
		return 0, errDropped
	}
	if c.stalled() {
		return 0, c.stall()
	}
	// Stop exactly at the threshold so the fault hits where it was asked to.
	for _, limit := range []int64{c.f.DropAfterBytes, c.f.StallAfterBytes} {
		if limit > 0 && int64(len(b)) > limit-n {
			b = b[:limit-n]
		}
	}
	m, err := c.Conn.Read(b)
	c.received.Add(int64(m))
	return m, err
}

func (c *faultConn) Write(b []byte) (int, error) {
	if c.stalled() {
		return 0, c.stall()
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
