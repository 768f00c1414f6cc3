package mllptls

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestSequenceNumberNotForwarded: MSH-13 is the sequence number protocol
// of one link (v2.3 §2.23.1: sender and receiver count the messages
// between them, the receiver refusing one that is not the next), and
// ferry's listener takes part in it for the clinic's link. Forwarded as
// it was, the clinic's numbers reached the exchange out of their order
// (per-patient order only, several workers, retries, messages dead-
// lettered or left out on the way) and from several senders, so an
// exchange keeping the protocol refused them (AR with MSA-4, retried
// without end) and one tracking it saw gaps and repeats. On ferry's link
// to the exchange ferry is the sender, and it does not use the protocol:
// MSH-13 goes empty, the rest of the message as it was.
func TestSequenceNumberNotForwarded(t *testing.T) {
	p, srv := testPKI(t)
	var mu sync.Mutex
	var got []string
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		mu.Lock()
		got = append(got, string(f))
		mu.Unlock()
		return ackFor(f, "AA", "")
	})
	s := newSink(t, p, addr)
	sent := map[string]string{
		"S7":  strings.Replace(adtMsg("S7"), "|P|2.5.1\r", "|P|2.5.1|7\r", 1),
		"S41": strings.Replace(adtMsg("S41"), "|P|2.5.1\r", "|P|2.5.1|41||AL|NE\r", 1),
	}
	for _, ctrl := range []string{"S41", "S7"} {
		if err := s.Send(context.Background(), item(t, ctrl, sent[ctrl])); err != nil {
			t.Fatalf("%s: %v", ctrl, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("the exchange got %d messages, want 2", len(got))
	}
	for _, f := range got {
		m, err := hl7v2.Parse([]byte(f))
		if err != nil {
			t.Fatal(err)
		}
		ctrl := m.ControlID()
		if seq := m.Get("MSH-13"); seq != "" {
			t.Errorf("%s: forwarded with MSH-13 %q, the clinic link's sequence number", ctrl, seq)
		}
		want := strings.Replace(strings.Replace(sent[ctrl], "|7\r", "\r", 1), "|41||AL|NE\r", "|||AL|NE\r", 1)
		if f != want {
			t.Errorf("%s: forwarded\n%q\nwant\n%q", ctrl, f, want)
		}
	}
}
