package latency

import (
	"sync"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	if len(h.counts) != len(Buckets)+1 {
		t.Fatalf("%d counters for %d buckets", len(h.counts), len(Buckets))
	}
	for i := 1; i < len(Buckets); i++ {
		if Buckets[i] <= Buckets[i-1] {
			t.Fatalf("bounds not increasing at %d", i)
		}
	}
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 51 * time.Microsecond, 700 * time.Microsecond, time.Minute} {
		h.Observe(d)
	}
	s := h.Snapshot()
	// 0 and exactly the first bound fall in bucket 0; 51 µs in bucket 1
	// (≤ 100 µs); 700 µs in bucket 4 (≤ 1 ms); a minute past every bound.
	if s.Count() != 5 || s.Counts[0] != 2 || s.Counts[1] != 1 || s.Counts[4] != 1 || s.Counts[len(Buckets)] != 1 {
		t.Fatalf("counts %v", s.Counts)
	}
	if want := 101*time.Microsecond + 700*time.Microsecond + time.Minute; s.Sum != want {
		t.Fatalf("sum %v, want %v", s.Sum, want)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				h.Observe(300 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count() != 8000 || s.Counts[3] != 8000 {
		t.Fatalf("counts %v", s.Counts)
	}
}
