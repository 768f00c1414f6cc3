package audit

import (
	"encoding/xml"
	"net"
	"net/url"
	"testing"
	"time"
)

// TestRemoteAuthFailureSubjectType: DICOM PS3.15 A.5.3.11 (Security
// Alert), Alert Subject: "For a ParticipantObjectIDTypeCode of 12 = URI,
// then this value shall be the URI of the file or other resource that is
// the subject of the alert. For a ParticipantObjectIDTypeCode of (110182,
// DCM, "Node ID") then the value shall include the identity of the node
// ... either in the form of node_name@domain_name or as an IP address."
// The node ferry failed to authenticate is named by its URL
// (https://host:port), so it must be typed URI, not Node ID.
func TestRemoteAuthFailureSubjectType(t *testing.T) {
	ev := RemoteAuthFailure("gw", "host", "https://hie.example.org:443", "hie.example.org", "tls unknown authority", time.Now())
	ev.AuditSourceID = "gw"
	b, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Objects []struct {
			ID     string `xml:"ParticipantObjectID,attr"`
			Role   string `xml:"ParticipantObjectTypeCodeRole,attr"`
			IDType Code   `xml:"ParticipantObjectIDTypeCode"`
		} `xml:"ParticipantObjectIdentification"`
	}
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != 1 {
		t.Fatalf("objects %+v", m.Objects)
	}
	o := m.Objects[0]
	switch {
	case o.IDType.Code == "12" && o.IDType.System == "RFC-3881":
		if u, err := url.Parse(o.ID); err != nil || u.Scheme == "" || u.Host == "" {
			t.Errorf("subject typed URI is %q", o.ID)
		}
	case o.IDType.Code == "110182" && o.IDType.System == "DCM":
		if net.ParseIP(o.ID) == nil {
			t.Errorf("subject typed Node ID is %q, neither an IP address nor node@domain", o.ID)
		}
	default:
		t.Errorf("subject typed %+v", o.IDType)
	}
}
