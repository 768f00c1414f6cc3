package mllp

import (
	"runtime"
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
	// Windows' monotonic clock moves in steps of up to 15.6 ms (go.dev/issue/8687):
	// there three fast round trips may well sum to 0.
	if h.Count() != 3 || h.Sum <= 0 && runtime.GOOS != "windows" {
		t.Fatalf("ack latency %+v after 3 messages", h)
	}
}
