package mllptls

import (
	"bufio"
	"context"
	"crypto/tls"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp"
)

// TestExchangeThatClosesAfterEachAnswer: a receiver that takes one
// message per connection answers it and closes the connection, but its
// close may reach ferry only after ferry wrote the next message into the
// kept connection (here, in the limit, it closes when that message
// arrives). Each such message was an unknown outcome, retried only after
// unknown_outcome_delay (30 s by default): every second message of the
// feed waited so. The first such close now tells the sink that the
// exchange does this, and each message after it gets a connection of its
// own.
func TestExchangeThatClosesAfterEachAnswer(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var got []string
	frames := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				f, err := rd.ReadFrame()
				if err != nil {
					return
				}
				frames <- string(f)
				if _, err := c.Write(ackFor(f, "AA", "")); err != nil {
					return
				}
				rd.ReadFrame() // the next message: closed unanswered
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	failed := 0
	for i := range 6 {
		if err := s.Send(context.Background(), item(t, "m", adtMsg("K"+string(rune('0'+i))))); err != nil {
			failed++
			t.Logf("message %d: %v", i, err)
		}
	}
	for len(frames) > 0 {
		got = append(got, <-frames)
	}
	if failed != 1 {
		t.Errorf("%d of 6 messages failed, want only the first written into a kept connection", failed)
	}
	if len(got) != 5 {
		t.Errorf("the exchange answered %d messages, want 5", len(got))
	}
}
