package mllptls

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

// TestStaleAckBeforeOneWithoutControlID: a message whose MSH-10 is empty
// (a sender that leaves it so) on a kept connection, to a receiver that
// answers the connection's earlier messages again before the current
// one's (npm node-hl7-server 2.5.0, issue #102) and refuses it (AE). The
// message was not noted among those sent on the connection, so the one
// before it was taken for the one in flight: the stale AA of the earlier
// message was not known as such and, the message naming no control id to
// tell it by, counted as this message's answer, so a message the
// exchange refused was taken from the queue as delivered. It is skipped
// as for any message, and the refusal read after it decides.
func TestStaleAckBeforeOneWithoutControlID(t *testing.T) {
	p, srv := testPKI(t)
	addr := replayingExchange(t, srv, func(f []byte) string {
		if m, _ := hl7v2.Parse(f); m.ControlID() == "" {
			return "AE" // no control id: refused
		}
		return "AA"
	})
	s := newSink(t, p, addr)
	if err := s.Send(context.Background(), item(t, "N1", adtMsg("N1"))); err != nil {
		t.Fatal(err)
	}
	err := s.Send(context.Background(), item(t, "N2", adtMsg("")))
	var ae *AckError
	if !queue.IsPermanent(err) || !errors.As(err, &ae) || ae.Code != "AE" {
		t.Fatalf("a message without MSH-10 the exchange refused: %v, want its AE (a dead letter)", err)
	}
}
