package audit

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestSteadyLoadGoesLiveAfterOutage: once the repository is back and its
// spooled events are sent, a steady stream of events goes straight to it
// again. Spooling each live event behind the spool's last batch kept the
// spool from ever emptying under steady load, so every event of the day
// after an outage cost its share of an fsync.
func TestSteadyLoadGoesLiveAfterOutage(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	s := newSink(t, "tls://"+addr, clientTLS(p), t.TempDir(), nil)
	start(t, s)
	for i := range 50 {
		s.Record(exportN(i))
	}
	waitStats(t, s, "the outage's events spooled", func(st Stats) bool { return st.Spooled == 50 })

	var stop atomic.Bool
	done := make(chan struct{})
	// The gateway's steady load: an event every 100 µs, slowed down
	// while the sender falls behind (a loaded machine, the race
	// detector), so that the load stays one it keeps up with: the
	// test is of what it does with live events, not of its speed.
	every := 100 * time.Microsecond
	if raceEnabled {
		every = 2 * time.Millisecond
	}
	go func() {
		defer close(done)
		next := time.Now()
		for i := 50; !stop.Load(); i++ {
			s.Record(exportN(i))
			if i%100 == 0 && s.Stats().Pending > 200 && every < 10*time.Millisecond {
				every *= 2
			}
			for next = next.Add(every); time.Now().Before(next); {
				runtime.Gosched()
			}
		}
	}()
	defer func() { stop.Store(true); <-done }()
	startTLSRepo(t, p, addr)
	waitStats(t, s, "the spool sent", func(st Stats) bool { return st.Sent >= 50 && st.Pending == 0 })
	before := s.Stats()
	waitStats(t, s, "2000 more sent", func(st Stats) bool { return st.Sent >= before.Sent+2000 })
	if after := s.Stats(); after.Spooled > before.Spooled+5 {
		t.Errorf("with the repository back, %d of %d live events still went through the spool", after.Spooled-before.Spooled, after.Sent-before.Sent)
	}
}
