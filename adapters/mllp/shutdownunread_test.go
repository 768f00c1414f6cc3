package mllp

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestShutdownCutsUnreadAck: a sender that writes its messages and never
// reads their ACKs (its receive window full) left the listener blocked
// writing an ACK, and Shutdown waited for that write until read_timeout
// (30 s by default, the gateway's whole stop), leaving delivery and the
// audit trail no time. The message was stored before its ACK; after
// stopGrace the connection is closed, and the sender, which never heard
// the ACK, sends it again to a duplicate check.
func TestShutdownCutsUnreadAck(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	stopGrace = 50 * time.Millisecond
	rec := &recorder{}
	s, logs := startLogged(t, Config{ReadTimeout: time.Hour}, rec)
	c := dial(t, s)
	// Send until the listener stops reading: it is then stuck writing an
	// ACK this sender does not read (the consumer answers at once). Two
	// writes timed out in a row with the connection handling a message
	// and nothing counted between them say so.
	frame := AppendFrame(nil, msg("UNREAD"))
	stuck, last := 0, int64(-1)
	for stuck < 2 {
		_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Write(frame)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
		n := s.Stats().Accepted
		if err == nil || !handling(s) || n != last {
			stuck, last = 0, n
			continue
		}
		stuck++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown waited for an ACK the sender does not read until its context ended: %v", err)
	}
	if st := s.Stats(); st.Open != 0 || st.Accepted == 0 {
		t.Errorf("stats after shutdown: %+v", st)
	}
	if !strings.Contains(logs.String(), "storing=1") {
		t.Errorf("log lacks what the stop waited for:\n%s", logs.String())
	}
}

// handling reports whether a connection of s has read a message whole and
// is storing or answering it.
func handling(s *Source) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.busy && c.handling {
			return true
		}
	}
	return false
}
