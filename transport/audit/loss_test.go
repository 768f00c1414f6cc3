package audit

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLossReported: events the sink had to drop (the spool full during a
// long outage) are a gap in the trail that only ferry knows of; counting
// them in ferry status is not enough, since the repository is where the
// trail is reviewed. Once the repository is back and the surviving events
// are sent, it receives a DICOM Security Alert "Audit Recording Stopped"
// (110113 / 110133) that says how many were lost.
func TestLossReported(t *testing.T) {
	p := demoPKI(t)
	addr := reserveAddr(t)
	dir := filepath.Join(t.TempDir(), "spool")
	s := newSink(t, "tls://"+addr, clientTLS(p), dir, func(o *Options) { o.MaxSpoolBytes = 16 << 10 })
	start(t, s)
	const n = 200
	for i := range n {
		s.Record(exportN(i))
		waitStats(t, s, "spooled", func(st Stats) bool { return st.Spooled >= uint64(i+1) })
	}
	st := s.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	r, _ := startTLSRepo(t, p, addr)
	msgs := r.waitN(t, st.Pending+1)
	a := parseAudit(t, msgs[st.Pending].msg)
	if a.Event.ID.Code != "110113" || len(a.Event.Type) != 1 || a.Event.Type[0].Code != "110133" || a.Event.Outcome == "0" {
		t.Fatalf("after the spooled events: %+v, want a Security Alert / Audit Recording Stopped", a.Event)
	}
	m, _ := Parse(msgs[st.Pending].msg)
	if !strings.Contains(string(m.Msg), strconv.FormatUint(st.Dropped, 10)+" audit events") {
		t.Errorf("the alert does not say %d events were lost:\n%s", st.Dropped, m.Msg)
	}
	if a.Source.ID != "ferry-clinic-1" {
		t.Errorf("audit source %q", a.Source.ID)
	}
	shutdown(t, s)
}
