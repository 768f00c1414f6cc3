package audit

import (
	"encoding/base64"
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

// TestNodeAuthFailureSubjectType: the Security Alert for a peer refused
// by one of ferry's listeners named that listener as its alert subject
// typed "listener" in a code system of ferry's own, though DICOM PS3.15
// A.5.3.11 types an Alert Subject's ParticipantObjectIDTypeCode "12 =
// URI" or (110182, DCM, "Node ID") (IHE Gazelle's Security Alert
// validator checks "12|(110182,DCM,\"Node ID\")"): the listener is now
// named by its URI (mllps://host:port), its name kept as a detail.
func TestNodeAuthFailureSubjectType(t *testing.T) {
	ev := NodeAuthFailure("gw", "clinic-gw", "mllp/main", "mllps://clinic-gw:2575", "10.1.2.3", "tls handshake failed: bad certificate", time.Now())
	ev.AuditSourceID = "gw"
	b, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Objects []struct {
			ID      string `xml:"ParticipantObjectID,attr"`
			Type    string `xml:"ParticipantObjectTypeCode,attr"`
			Role    string `xml:"ParticipantObjectTypeCodeRole,attr"`
			IDType  Code   `xml:"ParticipantObjectIDTypeCode"`
			Details []struct {
				Type  string `xml:"type,attr"`
				Value string `xml:"value,attr"`
			} `xml:"ParticipantObjectDetail"`
		} `xml:"ParticipantObjectIdentification"`
	}
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != 1 {
		t.Fatalf("objects %+v", m.Objects)
	}
	o := m.Objects[0]
	if o.IDType.Code != "12" || o.IDType.System != "RFC-3881" || o.ID != "mllps://clinic-gw:2575" || o.Type != "2" || o.Role != "13" {
		t.Errorf("alert subject %+v, want mllps://clinic-gw:2575 typed RFC-3881 12 URI, type 2, role 13\n%s", o, b)
	}
	details := map[string]string{}
	for _, d := range o.Details {
		v, _ := base64.StdEncoding.DecodeString(d.Value)
		details[d.Type] = string(v)
	}
	if details["Alert Description"] != "tls handshake failed: bad certificate" || details["listener"] != "mllp/main" {
		t.Errorf("alert subject details %v", details)
	}
}
