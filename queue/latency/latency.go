// Package latency is the lock-free latency histogram behind ferry's timing
// figures: the MLLP ACK (frame read to ACK written), the conversion of an
// input, and the queue's commit flush. Together they say where an ACK's
// time goes: a slow disk shows in the flush, a heavy message in the
// conversion, everything else in neither.
//
// Observing costs one atomic add per bucket hit and one for the sum, so it
// sits on the ACK path at no measurable cost. Snapshots are read without
// stopping observers; they may be off by the observations in flight.
package latency

import (
	"sync/atomic"
	"time"
)

// Buckets are the histograms' upper bounds: from a flush on a fast SSD
// (tens of microseconds) to a stalled disk or a 200 MB fax (seconds).
var Buckets = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// Histogram counts durations by bucket. The zero value is ready to use.
type Histogram struct {
	counts [17]atomic.Int64 // len(Buckets)+1: the last counts what exceeds every bound
	sum    atomic.Int64     // nanoseconds
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(Buckets) && d > Buckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot is a histogram's state: Counts[i] is how many durations were
// at most Buckets[i] and above the bound before it (not cumulative),
// Counts[len(Buckets)] how many exceeded every bound; Sum is their total.
type Snapshot struct {
	Counts []int64
	Sum    time.Duration
}

// Snapshot reads the histogram.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Counts: make([]int64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}

// Count is the number of durations observed.
func (s Snapshot) Count() int64 {
	var n int64
	for _, c := range s.Counts {
		n += c
	}
	return n
}
