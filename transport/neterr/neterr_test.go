package neterr

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestAsReturned: the errors as the net package wraps them for a failed
// call, with this system's numbers (Winsock's on Windows: see the
// errno*_test.go files).
func TestAsReturned(t *testing.T) {
	op := func(call string, errno error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError(call, errno)}
	}
	for _, c := range []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"reset", op(testCall, testReset), ConnReset},
		{"refused", op("connect", testRefused), ConnRefused},
		{"in use", op("bind", testInUse), AddrInUse},
		{"unreachable", op("connect", testUnreach), Unreachable},
		{"denied", op("bind", testDenied), AccessDenied},
		{"not available", op("bind", testNotAvail), AddrNotAvail},
		{"aborted", op(testCall, testAborted), ConnAborted},
		{"timed out", op(testCall, testTimedOut), TimedOut},
		{"accept short of buffers", op(testAcceptCall, testNoBuffers), AcceptRetry},
		{"accept reset", op(testAcceptCall, testReset), AcceptRetry},
	} {
		if !c.is(c.err) {
			t.Errorf("%s: %v not matched", c.name, c.err)
		}
	}
	for _, err := range []error{nil, errors.New("other"), net.ErrClosed} {
		if ConnReset(err) || ConnRefused(err) || AddrInUse(err) || Unreachable(err) || AccessDenied(err) || AddrNotAvail(err) || ConnAborted(err) || TimedOut(err) || AcceptRetry(err) {
			t.Errorf("%v matched", err)
		}
	}
}

// TestRealSocketErrors makes the errors for real on loopback, so the
// test checks what this system's net package returns, not a number
// written into the test.
func TestRealSocketErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// The address another socket holds.
	if _, err := net.Listen("tcp", ln.Addr().String()); !AddrInUse(err) {
		t.Errorf("second listen on %s: %v; AddrInUse false", ln.Addr(), err)
	}

	// A reset: the peer closes with linger 0. Wine (the CI's Windows)
	// reports it as EOF now and then, so only elsewhere.
	if runtime.GOOS != "windows" {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.Read(make([]byte, 1)); !ConnReset(err) {
			t.Errorf("read of a reset connection: %v (%T); ConnReset false", err, err)
		}
	}

	// Nothing listens: a port just freed.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); !ConnRefused(err) {
		t.Errorf("dial %s with nothing listening: %v; ConnRefused false", addr, err)
	}

	// An address this machine does not have (TEST-NET-1, RFC 5737).
	if _, err := net.Listen("tcp", "192.0.2.1:0"); !AddrNotAvail(err) {
		t.Errorf("listen on 192.0.2.1: %v; AddrNotAvail false", err)
	}
}
