package mllp

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport/neterr"
)

// TestIsConnReset: a connection its peer resets (as a load balancer's
// health check or a scanner may end one) reads as reset on every system.
// On Windows the read fails with WSAECONNRESET (wsarecv, 10054), which
// syscall.ECONNRESET does not match there, so such a connection counted
// as a TLS authentication attempt: an ATNA alert and a WARN each.
func TestIsConnReset(t *testing.T) {
	// The error the net package returns for a reset here.
	err := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError(resetCall, resetErrno)}
	if !neterr.ConnReset(err) || !handshakeNotStarted(err) {
		t.Errorf("%v: isConnReset %v, handshakeNotStarted %v; want both", err, neterr.ConnReset(err), handshakeNotStarted(err))
	}

	// A real one (Wine reports it as EOF, which is no handshake either).
	ln, err2 := net.Listen("tcp", "127.0.0.1:0")
	if err2 != nil {
		t.Fatal(err2)
	}
	defer ln.Close()
	c, err2 := net.Dial("tcp", ln.Addr().String())
	if err2 != nil {
		t.Fatal(err2)
	}
	s, err2 := ln.Accept()
	if err2 != nil {
		t.Fatal(err2)
	}
	defer s.Close()
	c.(*net.TCPConn).SetLinger(0) // close with RST
	c.Close()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err2 = s.Read(make([]byte, 1)); !handshakeNotStarted(err2) {
		t.Errorf("read of a reset connection: %v (%T) counts as a handshake started", err2, err2)
	}
}
