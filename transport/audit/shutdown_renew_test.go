package audit

import (
	"path/filepath"
	"testing"
)

// TestShutdownSendsLastEventsAfterRenewal: the gateway's last events (its
// Application Stop) come after a quiet spell, so the connection they
// would go on has been let go, not for a failure: a dtls:// association
// past its idle time, a tls:// connection the repository (or a load
// balancer) ended while idle. Shutdown opens a new one for them, as the
// next event would have, instead of leaving them in the spool until the
// next start (never, for a gateway being replaced), which leaves the
// repository a run with no stop: a crash, to whoever reads the trail.
func TestShutdownSendsLastEventsAfterRenewal(t *testing.T) {
	p := demoPKI(t)
	t.Run("dtls idle", func(t *testing.T) {
		r, addr := startDTLSRepo(t, p)
		clock := &fakeClock{}
		s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
		s.dialer.now = clock.now
		start(t, s)
		s.Record(exportN(0))
		r.waitN(t, 1)
		waitStats(t, s, "sent", func(st Stats) bool { return st.Sent == 1 })
		clock.advance(DefaultDTLSMaxIdle)
		s.Record(exportN(1))
		shutdown(t, s)
		if st := s.Stats(); st.Sent != 2 || st.Pending != 0 {
			t.Fatalf("stats %+v: the last event was left in the spool", st)
		}
		wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
	})
	t.Run("tls closed idle", func(t *testing.T) {
		r, addr := startClosingTLSRepo(t, p)
		s := newSink(t, "tls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
		start(t, s)
		s.Record(exportN(0))
		r.waitN(t, 1)
		waitStats(t, s, "the closed connection let go", func(st Stats) bool { return st.Sent == 1 && !st.Connected })
		s.Record(exportN(1))
		shutdown(t, s)
		if st := s.Stats(); st.Sent != 2 || st.Pending != 0 {
			t.Fatalf("stats %+v: the last event was left in the spool", st)
		}
		wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
	})
}
