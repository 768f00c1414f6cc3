package mllptls

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestStaleCheckDelayedPastItsDeadline: the check before reusing a kept
// connection read it with a deadline probeWindow (200 µs) away; a
// goroutine delayed past that deadline (a loaded machine) got a timeout
// without the socket being read, so a connection the exchange had closed
// looked open, the next message went into it and became an unknown
// outcome. The hook delays the check past its deadline, as the scheduler
// may: the close must still be seen, and the message sent on a new
// connection.
func TestStaleCheckDelayedPastItsDeadline(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	closed := make(chan struct{}, 4)
	release := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { c.Close(); closed <- struct{}{} }()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				f, err := rd.ReadFrame()
				if err != nil {
					return
				}
				c.Write(ackFor(f, "AA", ""))
				// Closed once the sink has read the answer (and kept
				// the connection), as by an exchange restarting.
				<-release
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	if err := s.Send(context.Background(), item(t, "1", adtMsg("L1"))); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-closed
	probeDelay = func(nc net.Conn, deadline time.Time) {
		for time.Now().Before(deadline) {
			runtime.Gosched()
		}
		// The runtime's deadline timer has fired by the time a
		// delayed goroutine runs again: set anew now that it has
		// passed, the deadline counts as expired at once, as then.
		nc.SetReadDeadline(deadline)
	}
	t.Cleanup(func() { probeDelay = nil })
	if err := s.Send(context.Background(), item(t, "2", adtMsg("L2"))); err != nil {
		t.Fatalf("after the exchange closed the kept connection: %v", err)
	}
	if d := s.dialCount(); d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
	if s.closesAfterAnswer.Load() {
		t.Error("the sink took the exchange for one that takes one message per connection")
	}
}
