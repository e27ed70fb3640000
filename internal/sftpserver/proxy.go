package sftpserver

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from 127.0.0.1 to another server (a real
// sshd, say) and injects connection faults on the way, so the fault tests can
// run against servers other than this package's.
type Proxy struct {
	target string
	ln     net.Listener
	faults connFaultState

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to target (host:port) on a free loopback port.
func NewProxy(target string, f ConnFaults) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sftpserver: proxy listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.faults.set(f)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's address, 127.0.0.1:PORT.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetFaults replaces the faults for connections accepted afterwards.
func (p *Proxy) SetFaults(f ConnFaults) { p.faults.set(f) }

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers c to be closed by Close; false when already closed.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		fc := newFaultConn(c, p.faults.next())
		if !p.track(fc) {
			fc.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(fc)
	}
}

func (p *Proxy) serve(client *faultConn) {
	defer p.wg.Done()
	if client.f.NeverSpeak {
		io.Copy(io.Discard, client)
		p.untrack(client)
		return
	}
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(upstream) {
		p.untrack(client, upstream)
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	<-done // one direction ended: end both
	p.untrack(client, upstream)
	<-done
}
