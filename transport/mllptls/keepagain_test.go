package mllptls

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestKeptConnectionsAgainAfterRestart: an exchange that keeps
// connections, restarted while a message was in flight on a kept one,
// closes it without an answer, which is what a receiver that takes one
// message per connection does too. The sink then gave each message a
// connection of its own (a TLS handshake each) until ferry itself was
// restarted. A connection left open by the exchange after its answer now
// shows that it keeps connections after all, and they are kept again.
func TestKeptConnectionsAgainAfterRestart(t *testing.T) {
	p, srv := testPKI(t)
	var mu sync.Mutex
	crashed := false
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		if !crashed && controlID(f) == "CRASH" {
			crashed = true
			return nil // the exchange goes down with the message unanswered
		}
		return ackFor(f, "AA", "")
	})
	s := newSink(t, p, addr)
	s.closeWatch = 50 * time.Millisecond
	send := func(ctrl string) error {
		return s.Send(context.Background(), item(t, ctrl, adtMsg(ctrl)))
	}
	if err := send("A"); err != nil {
		t.Fatal(err)
	}
	if err := send("CRASH"); err == nil {
		t.Fatal("a message whose connection dropped unanswered was taken as delivered")
	}
	if !s.closesAfterAnswer.Load() {
		t.Fatal("the sink did not take the unanswered close for a receiver of one message per connection")
	}
	if err := send("CRASH"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.closesAfterAnswer.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := s.dialCount()
	for _, c := range []string{"B", "C", "D", "E", "F"} {
		if err := send(c); err != nil {
			t.Fatal(err)
		}
	}
	if d := s.dialCount() - before; d > 0 {
		t.Errorf("%d new connections for 5 messages to an exchange that keeps them again, want 0", d)
	}
}
