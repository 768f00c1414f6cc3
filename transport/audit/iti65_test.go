package audit

import (
	"encoding/json"
	"testing"
	"time"
)

// TestExportEventITI65Entities: IHE MHD's IHE.MHD.ProvideBundle.Audit.Source
// (audit-65.fsh, MHD 4.2 for FHIR R4) has "entity 2..2", sliced by type
// with rules #closed into patient 1..1 (audit-entity-type 1, object-role
// 1) and submissionSet 1..1 (audit-entity-type 2, object-role 20 Job);
// MHD 5 slices by role and keeps submissionSet 1..1. An ITI-65 Export
// that also names the Bundle (type 2, role 20: a second submission set to
// both) and BALP's XrequestId entity fails the profile. The bundle id an
// exchange joins its request log on is kept as a detail of the
// submission set.
func TestExportEventITI65Entities(t *testing.T) {
	for _, file := range []bool{false, true} {
		ev := ExportEvent(Export{Gateway: "gw", GatewayAddr: "clinic-gw", ExchangeURL: "https://hie.example/fhir", ExchangeAddr: "hie.example",
			MHD: true, PatientID: PatientID{System: "urn:oid:1.2.3", Value: "MRN1"}, SubmissionSet: "urn:oid:2.25.9",
			BundleID: "01BUNDLE", File: file, Time: time.Now()})
		ev.AuditSourceID = "gw"
		b, err := ev.FHIR()
		if err != nil {
			t.Fatal(err)
		}
		var ae struct {
			Entity []struct {
				What struct {
					Identifier struct{ Value string } `json:"identifier"`
				} `json:"what"`
				Type   struct{ System, Code string } `json:"type"`
				Role   struct{ System, Code string } `json:"role"`
				Detail []struct {
					Type        string `json:"type"`
					ValueString string `json:"valueString"`
				} `json:"detail"`
			} `json:"entity"`
		}
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Fatal(err)
		}
		if len(ae.Entity) != 2 {
			t.Fatalf("file %v: %d entities, MHD's ITI-65 source audit has exactly 2 (patient, submission set):\n%s", file, len(ae.Entity), b)
		}
		p, ss := ae.Entity[0], ae.Entity[1]
		if p.Type.Code != "1" || p.Role.Code != "1" || p.What.Identifier.Value != "MRN1" {
			t.Errorf("patient entity %+v", p)
		}
		if ss.Type.System != "http://terminology.hl7.org/CodeSystem/audit-entity-type" || ss.Type.Code != "2" || ss.Role.Code != "20" ||
			ss.What.Identifier.Value != "urn:oid:2.25.9" {
			t.Errorf("submission set entity %+v", ss)
		}
		want := "X-Request-Id"
		if file {
			want = "bundle-id"
		}
		if len(ss.Detail) != 1 || ss.Detail[0].Type != want || ss.Detail[0].ValueString != "01BUNDLE" {
			t.Errorf("file %v: submission set details %+v, want %s 01BUNDLE", file, ss.Detail, want)
		}
	}
}
