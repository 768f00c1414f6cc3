package mllp

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestShutdownCutsStalledFrame: a sender that stopped in the middle of a
// frame (its start block and part of a message sent, then nothing) held
// Shutdown for read_timeout, with nothing said meanwhile, and the
// gateway's stop shares one deadline: delivery and the audit trail were
// left none. Shutdown now says what it waits for, gives a frame being
// read stopGrace to complete, then closes the connection without an ACK
// (nothing was stored: the sender sends the message again), and returns
// without its context running out.
func TestShutdownCutsStalledFrame(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	stopGrace = 50 * time.Millisecond
	rec := &recorder{}
	s, logs := startLogged(t, Config{ReadTimeout: time.Hour, FrameTimeout: 2 * time.Hour}, rec)
	c := dial(t, s)
	m := msg("STALL1")
	if _, err := c.Write(append([]byte{StartBlock}, m[:20]...)); err != nil {
		t.Fatal(err)
	}
	waitBusy(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown waited for the stalled sender until its context ended: %v", err)
	}
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
		t.Errorf("the cut connection answered %q, %v; want a close without an ACK", b, err)
	}
	if got := rec.bodies(); len(got) != 0 {
		t.Errorf("the cut message was stored: %q", got)
	}
	l := logs.String()
	for _, want := range []string{"waiting for", "reading=1", "mllp message not complete when the listener stopped"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
}

// TestShutdownGraceLetsFrameFinish: a frame still arriving when Shutdown
// begins is read to its end within stopGrace, stored and acknowledged.
func TestShutdownGraceLetsFrameFinish(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	stopGrace = time.Minute
	rec := &recorder{}
	s, _ := startLogged(t, Config{}, rec)
	c := dial(t, s)
	m := msg("LATE1")
	if _, err := c.Write(append([]byte{StartBlock}, m[:20]...)); err != nil {
		t.Fatal(err)
	}
	waitBusy(t, s)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	for !s.stopping() {
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Write(append(m[20:], EndBlock, 0x0D)); err != nil {
		t.Fatal(err)
	}
	if code, id := msa(c.ack(t)); code != "AA" || id != "LATE1" {
		t.Fatalf("message completed during the grace: MSA %s %s", code, id)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitBusy waits until a connection of s is reading a frame.
func waitBusy(t *testing.T, s *Source) {
	t.Helper()
	for {
		s.mu.Lock()
		busy := false
		for c := range s.conns {
			busy = busy || c.busy
		}
		s.mu.Unlock()
		if busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
