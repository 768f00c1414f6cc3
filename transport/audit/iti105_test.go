package audit

import (
	"encoding/json"
	"encoding/xml"
	"testing"
	"time"
)

// TestExportEventITI105Profile: MHD's IHE.MHD.SimplifiedPublish.Audit.Source
// (audit-105.fsh) derives from BALP's IHE.BasicAudit.PatientCreate: "type
// = audit-event-type#rest", "subtype contains anyCreate 1..1" fixed to
// restful-interaction#create, "subtype 2.." with urn:ihe:event-type-code
// #ITI-105 besides it, "action = #C", agents client (110153) and server
// (110152), the patient and the DocumentReference (type 2) as entities,
// the X-Request-Id as BALP's transaction entity. The event was a DICOM
// Export (110106) with action R and ITI-105 as its only subtype.
func TestExportEventITI105Profile(t *testing.T) {
	ev := ExportEvent(Export{Gateway: "gw", GatewayAddr: "clinic-gw", ExchangeURL: "https://hie.example/fhir", ExchangeAddr: "hie.example",
		MHD: true, Document: "urn:oid:2.25.7", PatientID: PatientID{System: "urn:oid:1.2.3", Value: "MRN1"}, BundleID: "01X", Time: time.Now()})
	ev.AuditSourceID = "gw"
	b, err := ev.FHIR()
	if err != nil {
		t.Fatal(err)
	}
	var ae struct {
		Type    struct{ System, Code string }   `json:"type"`
		Subtype []struct{ System, Code string } `json:"subtype"`
		Action  string                          `json:"action"`
	}
	if err := json.Unmarshal(b, &ae); err != nil {
		t.Fatal(err)
	}
	if ae.Type.System != "http://terminology.hl7.org/CodeSystem/audit-event-type" || ae.Type.Code != "rest" {
		t.Errorf("type %+v, want audit-event-type#rest", ae.Type)
	}
	if ae.Action != "C" {
		t.Errorf("action %q, want C", ae.Action)
	}
	var create, iti105 bool
	for _, s := range ae.Subtype {
		create = create || s.System == "http://hl7.org/fhir/restful-interaction" && s.Code == "create"
		iti105 = iti105 || s.System == "urn:ihe:event-type-code" && s.Code == "ITI-105"
	}
	if !create || !iti105 {
		t.Errorf("subtypes %+v, want restful-interaction#create and ITI-105\n%s", ae.Subtype, b)
	}

	// The DICOM form carries both as EventTypeCodes, in order.
	x, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	var m xmlMessage
	if err := xml.Unmarshal(x, &m); err != nil {
		t.Fatal(err)
	}
	if m.Event.Action != "C" || m.Event.ID.Code != "rest" || len(m.Event.Type) != 2 || m.Event.Type[0].Code != "create" || m.Event.Type[1].Code != "ITI-105" {
		t.Errorf("DICOM form %+v\n%s", m.Event, x)
	}
	// The spool's form keeps them (an event spooled as DICOM or FHIR
	// comes back the same).
	for name, dec := range map[string]func() (Event, error){
		"xml":  func() (Event, error) { return decodeSyslog(Header{Hostname: "gw"}.Format(time.Now(), x)) },
		"fhir": func() (Event, error) { return decodeFHIR(b) },
	} {
		got, err := dec()
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != TypeRESTCreate || len(got.Subtypes) != 1 || got.Subtypes[0].Code != "ITI-105" {
			t.Errorf("%s: decoded %+v %+v", name, got.Type, got.Subtypes)
		}
	}
}
