package mllptls

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestMismatchedRefusalIsRetried: an AE or CE that names another
// message's control id is no verdict on the message in flight (HL7
// v2.5.1 §2.9: MSA-2 identifies the message being acknowledged); like
// any mismatch it is retried on a new connection, not dead-lettered for
// an error the exchange found in some other message.
func TestMismatchedRefusalIsRetried(t *testing.T) {
	for _, code := range []string{"AE", "CE"} {
		t.Run(code, func(t *testing.T) {
			p, srv := testPKI(t)
			addr := fakeExchange(t, srv, func(f []byte) []byte { return ackFor(f, code, "SOMEONE-ELSE") })
			s := newSink(t, p, addr)
			err := s.Send(context.Background(), item(t, "m", adtMsg("M1")))
			var ae *AckError
			if !errors.As(err, &ae) || !ae.Mismatch || queue.IsPermanent(err) {
				t.Fatalf("%s for another message: %v (permanent %v), want a retried mismatch", code, err, queue.IsPermanent(err))
			}
			if err := s.Send(context.Background(), item(t, "n", adtMsg("M2"))); err == nil {
				t.Fatal("second send accepted")
			}
			if d := s.dialCount(); d != 2 {
				t.Errorf("%d dials, want 2: the connection of a mismatch is not kept", d)
			}
		})
	}
}
