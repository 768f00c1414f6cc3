package mllp

import (
	"sync/atomic"
	"time"
)

// AckBuckets are the upper bounds of the ACK latency histogram: from a
// frame read to its ACK written, which is mostly the wait for the fsync.
// They span a lone sender on a fast disk (sub-millisecond) to a stalled
// disk or a very large message (seconds).
var AckBuckets = []time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// AckLatency is a snapshot of the histogram: Counts[i] is how many ACKs
// took at most AckBuckets[i] (not cumulative), Counts[len(AckBuckets)]
// how many took longer; Sum is their total time.
type AckLatency struct {
	Counts []int64
	Sum    time.Duration
}

// Count is the number of ACKs observed.
func (h AckLatency) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// latency counts ACK latencies without locks: one atomic add per bucket
// hit, so it costs the ACK path nothing measurable.
type latency struct {
	counts [15]atomic.Int64 // len(AckBuckets)+1
	sum    atomic.Int64     // nanoseconds
}

func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(AckBuckets) && d > AckBuckets[i] {
		i++
	}
	l.counts[i].Add(1)
	l.sum.Add(int64(d))
}

func (l *latency) snapshot() AckLatency {
	h := AckLatency{Counts: make([]int64, len(l.counts)), Sum: time.Duration(l.sum.Load())}
	for i := range l.counts {
		h.Counts[i] = l.counts[i].Load()
	}
	return h
}
