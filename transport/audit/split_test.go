package audit

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// manyPatients is an Import of one batch file naming n patients: at 64,
// its XML (23 KB) is longer than one DTLS message (MaxDTLSMessage).
func manyPatients(n int) Event {
	x := Import{Sender: "EHR^CLINIC", SenderAddr: "10.1.2.3", Gateway: "ferry-clinic-1", GatewayAddr: "clinic-gw",
		Format: "hl7v2", MessageType: "ADT^A08", ControlID: "BATCH-1", Input: "sha256:" + fmt.Sprintf("%064d", 7), Time: time.Now()}
	for i := range n {
		x.PatientIDs = append(x.PatientIDs, PatientID{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: fmt.Sprintf("MRN-%06d", i)})
	}
	return ImportEvent(x)
}

// TestDTLSSplitsManyPatients: a DTLS message longer than 8192 octets
// with its record's overhead never reaches the repository (pion/dtls, as
// rsyslog's imdtls, reads a datagram into 8192 octets), though ferry
// counted it sent: an Import naming more than about 20 patients (a batch
// file; ferry names up to 64) was lost without a word. It now goes as
// several Imports of the same input, each whole and short enough, that
// together name every patient (DICOM PS3.15 A.5.3.5: "Multiple patients
// may be described in one event message"), each with the event's other
// objects; an event that cannot be split is cut to fit and counted.
func TestDTLSSplitsManyPatients(t *testing.T) {
	p := demoPKI(t)
	r, addr := startDTLSRepo(t, p)
	s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(manyPatients(64))
	// One that cannot be split is cut to what arrives, and counted.
	long := exportN(1)
	long.OutcomeDesc = strings.Repeat("x", 9000)
	s.Record(long)
	s.Record(exportN(2)) // behind them, so that all has arrived once this has
	seen := map[string]bool{}
	cut := 0
	for got := 0; ; {
		msgs := r.waitN(t, got+1)
		m := msgs[got]
		got++
		if len(m.msg) > MaxDTLSMessage {
			t.Fatalf("message of %d octets", len(m.msg))
		}
		if len(m.msg) == MaxDTLSMessage {
			cut++
			continue
		}
		a := parseAudit(t, m.msg) // fails the test on XML cut short
		if a.Event.ID.Code == "110106" {
			break
		}
		var input bool
		for _, o := range a.Objects {
			switch {
			case o.TypeCode == "1" && o.Role == "1":
				if seen[o.ID] {
					t.Errorf("patient %s named twice", o.ID)
				}
				seen[o.ID] = true
			case o.IDType == IDInput:
				input = true
			}
		}
		if !input || a.Event.ID.Code != "110107" || len(a.Participants) != 2 {
			t.Errorf("part of the import lacks its input or participants: %+v", a)
		}
	}
	if len(seen) != 64 {
		t.Errorf("%d of 64 patients named", len(seen))
	}
	if st := s.Stats(); cut != 1 || st.Truncated != 1 {
		t.Errorf("%d message(s) cut, stats %+v: want the long export's alone, cut and counted", cut, st)
	}
}
