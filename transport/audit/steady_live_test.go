package audit

import (
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
	// The gateway's steady load, one the sender keeps up with: an event
	// whenever fewer than a batch are recorded and not yet sent. The
	// load follows the sender's pace, whatever the machine's (a loaded
	// one, the race detector), so the test is of what it does with live
	// events, not of its speed. (A rate that was halved while the
	// spool was sent after the outage and never raised again took
	// longer than waitStats allows for the 2000 events below on a
	// loaded machine: 2000 × 12.8 ms.)
	go func() {
		defer close(done)
		for i := 50; !stop.Load(); i++ {
			for st := s.Stats(); uint64(i) >= st.Sent+st.Dropped+batch; st = s.Stats() {
				if stop.Load() {
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
			s.Record(exportN(i))
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
