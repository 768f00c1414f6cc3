package audit

import (
	"encoding/xml"
	"strconv"
	"testing"
	"time"
)

// TestXMLEnumeratedAttributes: the DICOM PS3.15 A.5.1 schema makes
// ParticipantObjectTypeCode ("1" to "4") and ParticipantObjectTypeCodeRole
// ("1" to "24") optional attributes with enumerated values. A repository
// that validates messages against it rejects one carrying any other value
// (the syslog sender never learns of it), so an object without a role
// must leave the attribute out, not write "0".
func TestXMLEnumeratedAttributes(t *testing.T) {
	now := time.Now()
	events := map[string]Event{
		"export": ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie.example/fhir", Patient: "pk", IDType: IDPatientKey,
			BundleID: "01BUNDLE", Time: now}),
		"export mhd": ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie.example/fhir", MHD: true, SubmissionSet: "urn:oid:1.2.3",
			Patient: "pk", IDType: IDPatientKey, BundleID: "01BUNDLE", Time: now}),
		"export mhd simplified": ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie.example/fhir", MHD: true, Document: "urn:oid:1.2.4",
			Patient: "pk", IDType: IDPatientKey, BundleID: "01BUNDLE", Time: now}),
		"import": ImportEvent(Import{Sender: "LAB^FAC", Gateway: "gw", Format: "hl7v2", MessageType: "ADT^A01", ControlID: "C1",
			Input: "sha256:00", Time: now}),
		"operator": OperatorEvent(OperatorAction{Kind: OpHeldRelease, Operator: Operator{UserID: "root"}, Gateway: "gw",
			Patient: "pk", Object: "01HELD", ObjectType: IDHeldBundle, QueueID: "01Q", Label: "R", Time: now}),
		"login":       LoginFailure(Operator{UserID: "ops-api"}, "gw", "host", "missing token", now),
		"node auth":   NodeAuthFailure("gw", "host", "mllp/main", "mllp://host:2575", "10.1.2.3", "tls handshake failed: bad certificate", now),
		"remote auth": RemoteAuthFailure("gw", "host", "https://hie.example:443", "hie.example", "tls unknown authority: x509", now),
		"app start":   ApplicationActivity(true, "gw", "host", "1234", &Operator{UserID: "ferry"}, now),
	}
	for name, ev := range events {
		ev.AuditSourceID = "gw"
		b, err := ev.XML()
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Objects []struct {
				TypeCode *string `xml:"ParticipantObjectTypeCode,attr"`
				Role     *string `xml:"ParticipantObjectTypeCodeRole,attr"`
			} `xml:"ParticipantObjectIdentification"`
		}
		if err := xml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for i, o := range m.Objects {
			if o.TypeCode != nil {
				if n, err := strconv.Atoi(*o.TypeCode); err != nil || n < 1 || n > 4 {
					t.Errorf("%s: object %d: ParticipantObjectTypeCode=%q", name, i, *o.TypeCode)
				}
			}
			if o.Role != nil {
				if n, err := strconv.Atoi(*o.Role); err != nil || n < 1 || n > 24 {
					t.Errorf("%s: object %d: ParticipantObjectTypeCodeRole=%q\n%s", name, i, *o.Role, b)
				}
			}
		}
	}
}
