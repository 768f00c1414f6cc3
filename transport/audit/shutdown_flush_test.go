package audit

import (
	"path/filepath"
	"testing"
)

// TestShutdownSendsLastEvents: the last event before Shutdown (the
// gateway's Application Stop) reaches a connected repository at once,
// even when it went to the spool in the moment before (behind a batch
// being drained, or while a dial ran); left there it would reach the
// repository only at the next start. It races by construction, so it is
// repeated.
func TestShutdownSendsLastEvents(t *testing.T) {
	for i := range 100 {
		r, addr := startUDPRepo(t)
		dir := t.TempDir()
		s, err := New(Options{URL: "udp://" + addr, SourceID: "ferry-clinic-1", SpoolDir: filepath.Join(dir, "spool")})
		if err != nil {
			t.Fatal(err)
		}
		start(t, s)
		s.Record(exportN(0))
		r.waitN(t, 1)
		s.Record(exportN(1))
		shutdown(t, s)
		if st := s.Stats(); st.Sent != 2 || st.Pending != 0 {
			t.Fatalf("round %d: stats %+v: the last event was left in the spool", i, st)
		}
	}
}
