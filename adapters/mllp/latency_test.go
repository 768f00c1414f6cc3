package mllp

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	var l latency
	if len(l.counts) != len(AckBuckets)+1 {
		t.Fatalf("%d counters for %d buckets", len(l.counts), len(AckBuckets))
	}
	for _, d := range []time.Duration{100 * time.Microsecond, 250 * time.Microsecond, 3 * time.Millisecond, time.Minute} {
		l.observe(d)
	}
	h := l.snapshot()
	if h.Count() != 4 || h.Counts[0] != 2 || h.Counts[4] != 1 || h.Counts[len(AckBuckets)] != 1 {
		t.Fatalf("counts %v", h.Counts)
	}
	if want := 100*time.Microsecond + 250*time.Microsecond + 3*time.Millisecond + time.Minute; h.Sum != want {
		t.Fatalf("sum %v, want %v", h.Sum, want)
	}
}

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
