package audit

import (
	"encoding/xml"
	"testing"
	"time"
)

// TestNetworkAccessPointTypeIPv6Zone: an MLLP sender on an IPv6
// link-local address has a zone in its remote address (fe80::1%eth0,
// as Go's listener reports it and remoteHost keeps it); it is an IP
// address, NetworkAccessPointTypeCode 2 (DICOM PS3.15 A.5.2: "2" = IP
// Address), not a machine name.
func TestNetworkAccessPointTypeIPv6Zone(t *testing.T) {
	for _, addr := range []string{"fe80::1%eth0", "fe80::abcd%12", "10.0.0.5", "2001:db8::7"} {
		ev := ImportEvent(Import{Sender: "LAB^FAC", SenderAddr: addr, Gateway: "gw", Format: "hl7v2", Time: time.Now()})
		ev.AuditSourceID = "gw"
		b, err := ev.XML()
		if err != nil {
			t.Fatal(err)
		}
		var m xmlMessage
		if err := xml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if p := m.Participants[0]; p.NAPID != addr || p.NAPTypeCode != "2" {
			t.Errorf("%s: NetworkAccessPointID %q type %q, want type 2 (IP address)", addr, p.NAPID, p.NAPTypeCode)
		}
	}
}
