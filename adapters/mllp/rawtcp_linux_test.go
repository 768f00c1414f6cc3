//go:build linux && !race

package mllp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// rawPair returns an accepted connection wrapped by rawConn and the
// client end of it.
func rawPair(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	srv = rawConn(a)
	if _, ok := srv.(*rawTCP); !ok {
		t.Fatalf("rawConn(%T) = %T, want *rawTCP", a, srv)
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// TestRawTCP: the raw connection reads and writes as net.Conn documents:
// short reads of what arrived, whole writes however slowly the peer reads
// (the socket's buffer fills and the write waits for room), io.EOF at the
// peer's FIN, CloseWrite, and deadlines and a closed connection as the
// errors callers test for (os.ErrDeadlineExceeded, a net.Error that times
// out, net.ErrClosed).
func TestRawTCP(t *testing.T) {
	srv, cli := rawPair(t)

	if _, err := cli.Write([]byte("\x0bMSH|^~\\&|\x1c\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, err := srv.Read(buf)
	if err != nil || string(buf[:n]) != "\x0bMSH|^~\\&|\x1c\r" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if n, err := srv.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}

	// 8 MB to a peer that reads in small pieces.
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10)
	done := make(chan error, 1)
	go func() {
		n, err := srv.Write(big)
		if err == nil && n != len(big) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	got := make([]byte, 0, len(big))
	small := make([]byte, 1000)
	for len(got) < len(big) {
		n, err := cli.Read(small)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, small[:n]...)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("the peer read other bytes than were written")
	}

	// A read deadline.
	if err := srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = srv.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !isTimeout(err) {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	if err := srv.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	// A write deadline, with the peer reading nothing.
	if err := srv.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Write(big); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past its deadline: %v, want a timeout", err)
	}

	// CloseWrite (promoted from *net.TCPConn), then the peer's FIN.
	cw, ok := srv.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the raw connection has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, cli); err != nil {
		t.Fatalf("the peer did not read to EOF after CloseWrite: %v", err)
	}
	cli.Close()
	if _, err := srv.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}

	srv.Close()
	if _, err := srv.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed connection: %v, want net.ErrClosed", err)
	}
	if _, err := srv.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write to a closed connection: %v, want net.ErrClosed", err)
	}
}

// TestRawTCPReset: a read of a connection the peer reset fails with the
// system's error once the reset arrives, and a write after it too, rather
// than hanging.
func TestRawTCPReset(t *testing.T) {
	srv, cli := rawPair(t)
	cli.(*net.TCPConn).SetLinger(0)
	cli.Close() // RST
	buf := make([]byte, 100)
	if _, err := srv.Read(buf); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read of a reset connection: %v, want ECONNRESET", err)
	}
	if _, err := srv.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a reset connection: %v, want EPIPE or ECONNRESET", err)
	}
}
