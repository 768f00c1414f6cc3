package audit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
)

// TestShutdownSendsEventsOfADialNotBegun: a gateway whose start fails at
// once (its MLLP port taken) records its Application Start and Stop and
// stops, all within a moment; on a loaded machine the sender's first dial
// had not begun when the stop came, so the dial ended with the stop, no
// repository was asked, and both events waited in the spool for the next
// start, which in a restart loop (the port still taken) never sends them:
// the repository heard nothing of a gateway failing over and over. A
// dial the stop came before is made once at the stop, bounded by
// Shutdown's context, as for a connection let go for no failure; a
// repository that was asked and failed, or never answered, is still not
// waited for.
func TestShutdownSendsEventsOfADialNotBegun(t *testing.T) {
	r, addr := startUDPRepo(t)
	s := newSink(t, "udp://"+addr, configtls.ClientConfig{}, filepath.Join(t.TempDir(), "spool"), nil)
	dialBegins = func(ctx context.Context) { <-ctx.Done() } // the stop comes first
	t.Cleanup(func() { dialBegins = func(context.Context) {} })
	start(t, s)
	s.Record(exportN(0))
	waitStats(t, s, "the event spooled", func(st Stats) bool { return st.Spooled >= 1 })
	shutdown(t, s)
	if st := s.Stats(); st.Sent != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v: the event was left in the spool", st)
	}
	wantOrder(t, bundleOrder(t, r.waitN(t, 1)), 0, 1)
}
