package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// silentServer accepts connections and never answers (a fax mailbox's
// IMAP server that hangs mid-handshake); the connections it took come out
// of the channel, for the test to close when it is done.
func silentServer(t *testing.T) (string, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String(), conns
}

// TestShutdownStopsEverySourceAtOnce: a stop closes every listener at
// once. The sources were stopped one after the other, each waited for,
// the MLLP listeners (first in the list) last: while a fax mailbox's poll
// finished (here a server that hangs mid-handshake, which ends only when
// the stop's deadline does), the MLLP listener went on accepting and
// acknowledging new messages, up to 30 seconds into "sources stop taking
// input" (README), and was then left none of the deadline for the
// messages it had in flight.
func TestShutdownStopsEverySourceAtOnce(t *testing.T) {
	addr, polls := silentServer(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap.pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - {name: t, listen: "127.0.0.1:0"}
  mailboxes:
    - {name: efax, address: %q, username: fax, password_file: %q, poll: 1h, source_id: 1.3.6.1.4.1.21367.2026.9}
`, filepath.Join(dir, "data"), addr, pw)
	gw := runGateway(t, cfg)
	mllpAddr := gw.MLLPAddr("t").String()
	var poll net.Conn
	select {
	case poll = <-polls: // the mailbox's first poll is connected, and hangs
	case <-time.After(20 * time.Second):
		t.Fatal("the mailbox did not poll")
	}

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stopped <- gw.Shutdown(ctx)
	}()
	<-gw.Done()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", mllpAddr)
		if err != nil {
			break // refused: the listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			poll.Close() // the poll ends, and the stop with it
			<-stopped
			t.Fatal("the MLLP listener still accepted connections 10 s into the stop, while the fax mailbox's poll was finishing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("the stop ended before the mailbox's poll did: %v", err)
	default:
	}
	poll.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestServiceStopWithErrorsIsNoFailure: a stop the service manager asked
// for ends the service as stopped, even when the gateway's shutdown had
// something to report (here a fax mailbox's poll of a hung server, cut at
// the deadline). program.Stop returned that error to kardianos/service,
// which on Windows then reports SERVICE_STOPPED with service-specific exit
// code 2; the recovery actions `ferry install` and the MSI set apply "if
// it enters the SERVICE_STOPPED state but the dwWin32ExitCode member of
// the SERVICE_STATUS structure is not ERROR_SUCCESS" (SetRecoveryActionsOnNonCrashFailures),
// so the Service Control Manager started again, 5 s later, the service an
// administrator had just stopped (to restore a backup, or the MSI to
// upgrade it). The error is logged; the stop succeeds.
func TestServiceStopWithErrorsIsNoFailure(t *testing.T) {
	old := stopTimeout
	stopTimeout = 200 * time.Millisecond
	t.Cleanup(func() { stopTimeout = old })
	addr, polls := silentServer(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap.pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
status: {listen: ""}
sources:
  mailboxes:
    - {name: efax, address: %q, username: fax, password_file: %q, poll: 1h, source_id: 1.3.6.1.4.1.21367.2026.9}
`, filepath.Join(dir, "data"), addr, pw)
	var logs lockedBuffer
	p := &program{cfg: cfg, log: newLogger(&logs, "info"), exit: func(int) { t.Error("the service exited") }}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	var poll net.Conn
	select {
	case poll = <-polls: // the first poll is connected, and hangs
	case <-time.After(20 * time.Second):
		p.Stop(nil)
		t.Fatal("the mailbox did not poll")
	}
	// Held until the stop is over: a server connection dropped here is
	// closed by its finalizer at the next collection, and, with the
	// client's ClientHello unread, resets the poll before the stop's
	// deadline cuts it (seen under -race).
	defer poll.Close()
	if err := p.Stop(nil); err != nil {
		t.Fatalf("a stop the service manager asked for failed, for it to restart the service: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "ferry stopped with an error") || !strings.Contains(l, "mailbox/efax") {
		t.Fatalf("the shutdown's error is not in the log:\n%s", l)
	}
}
