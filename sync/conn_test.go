package sync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	gosync "sync"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	must(t, err)
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestConnWritesInOrder(t *testing.T) {
	nc, peer := tcpPair(t)
	c := newConn(nc, time.Minute, time.Time{})
	c.endHandshake()
	var want bytes.Buffer
	for i := range 20_000 {
		fmt.Fprintf(&want, "packet %d;", i)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	// Writes come from one goroutine at a time (x/crypto/ssh serializes
	// them), in bursts larger than the buffer.
	data := want.Bytes()
	for len(data) > 0 {
		n := min(len(data), 1000)
		if _, err := c.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	// Close drops what is still queued: wait (with a deadline) until the
	// writer has nothing queued and is not in the middle of a write.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.w.mu.Lock()
		idle := len(c.w.buf) == 0 && !c.w.writing
		c.w.mu.Unlock()
		if idle || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond) // poll with a deadline
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d in order", len(b), want.Len())
	}
}

func TestConnIOTimeout(t *testing.T) {
	nc, _ := tcpPair(t)
	c := newConn(nc, 100*time.Millisecond, time.Time{})
	c.endHandshake()
	defer c.Close()
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read from a silent peer: %v, want a timeout", err)
	}
	if !errors.Is(c.firstErr(), os.ErrDeadlineExceeded) {
		t.Errorf("firstErr = %v", c.firstErr())
	}
}

func TestConnWriteStallFails(t *testing.T) {
	nc, _ := tcpPair(t) // the peer never reads
	c := newConn(nc, 200*time.Millisecond, time.Time{})
	c.endHandshake()
	defer c.Close()
	chunk := make([]byte, 64*1024)
	var err error
	for i := 0; i < 100_000 && err == nil; i++ {
		_, err = c.Write(chunk)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("writing to a peer that never reads: %v, want a timeout", err)
	}
}

func TestConnCloseUnblocksWriters(t *testing.T) {
	nc, _ := tcpPair(t)
	c := newConn(nc, time.Hour, time.Time{})
	c.endHandshake()
	var wg gosync.WaitGroup
	wg.Go(func() {
		chunk := make([]byte, 64*1024)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	// Wait until the writer is blocked on a full buffer, then close.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.w.mu.Lock()
		full := len(c.w.buf) >= maxBuffered
		c.w.mu.Unlock()
		if full || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond) // poll with a deadline
	}
	c.Close()
	wg.Wait()
}
