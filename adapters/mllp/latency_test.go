package mllp

import (
	"testing"
)

// TestSourceAckLatencyCounted: every ACK written is in the histogram.
func TestSourceAckLatencyCounted(t *testing.T) {
	s := start(t, Config{}, &recorder{})
	c := dial(t, s)
	for _, id := range []string{"L1", "L2", "L3"} {
		c.roundTrip(t, msg(id))
	}
	h := s.Stats().AckLatency
	if h.Count() != 3 || h.Sum <= 0 {
		t.Fatalf("ack latency %+v after 3 messages", h)
	}
}
