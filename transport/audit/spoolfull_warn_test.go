package audit

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSpoolFullWarnedEachOutage: the spool overflowing in an outage is
// logged at WARN ("audit spool full"), the only word the operator gets
// while the repository is down that the trail is losing events; a later
// outage that overflows it again is an overflow of its own, and is
// logged too, not only the first one the process ever had (a gateway
// runs as a service for months).
func TestSpoolFullWarnedEachOutage(t *testing.T) {
	p := demoPKI(t)
	var down atomic.Bool
	down.Store(true)
	r := &fhirRepo{status: func(int) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusCreated
	}}
	url := startFHIRRepo(t, p, r)
	var logs syncBuffer
	s := newSink(t, url, clientTLS(p), t.TempDir(), func(o *Options) {
		o.MaxSpoolBytes = 16 << 10
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, s)
	const warning = "audit spool full"
	n := 0
	overflow := func() {
		t.Helper()
		before := s.Stats().Dropped
		for s.Stats().Dropped == before {
			s.Record(exportN(n))
			n++
			waitStats(t, s, "spooled", func(st Stats) bool { return st.Spooled+st.Sent+st.Dropped >= uint64(n) })
		}
	}
	overflow()
	if c := strings.Count(logs.String(), warning); c != 1 {
		t.Fatalf("first outage: %d %q lines, want 1:\n%s", c, warning, logs.String())
	}
	down.Store(false)
	waitStats(t, s, "the spool sent, with the loss report", func(st Stats) bool {
		got, _ := r.count()
		return st.Pending == 0 && st.Connected && got > 0 && strings.Contains(logs.String(), "audit events were lost")
	})
	down.Store(true)
	overflow()
	if c := strings.Count(logs.String(), warning); c != 2 {
		t.Errorf("second outage: %d %q lines, want 2:\n%s", c, warning, logs.String())
	}
	shutdown(t, s)
}
