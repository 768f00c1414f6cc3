package audit

import (
	"encoding/xml"
	"testing"
	"time"
)

// TestImportByOperatorOneRequestor: DICOM PS3.15 A.5.3.5 (Data Import):
// "A single user (either local or remote) shall be identified as the
// requestor, i.e., UserIsRequestor with a value of true". An input fed in
// by hand (ferry backfill) names the person who ran it; they are the
// requestor, and the sender whose file it was is not.
func TestImportByOperatorOneRequestor(t *testing.T) {
	ev := ImportEvent(Import{Sender: "folder/ehr", Gateway: "gw", GatewayAddr: "host", Format: "ccda", Input: "sha256:00",
		Operator: &Operator{UserID: "alice", AltUserID: "1000", Address: "host"}, Time: time.Now()})
	ev.AuditSourceID = "gw"
	b, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Participants []struct {
			UserID    string `xml:"UserID,attr"`
			Requestor string `xml:"UserIsRequestor,attr"`
		} `xml:"ActiveParticipant"`
	}
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var requestors []string
	for _, p := range m.Participants {
		if p.Requestor == "true" {
			requestors = append(requestors, p.UserID)
		}
	}
	if len(requestors) != 1 || requestors[0] != "alice" {
		t.Errorf("requestors %q, want only the operator\n%s", requestors, b)
	}

	// Without an operator the sender is the requestor, as before.
	ev = ImportEvent(Import{Sender: "LAB^FAC", SenderAddr: "10.0.0.5", Gateway: "gw", Format: "hl7v2", Time: time.Now()})
	if !ev.Participants[0].Requestor || ev.Participants[1].Requestor {
		t.Errorf("live import participants %+v", ev.Participants)
	}
}
