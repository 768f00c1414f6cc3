package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBX5RepeatsKept: a repeating OBX-5 of a non-text type keeps every
// value: as the v2-to-FHIR IG's OBX[Observation-Component] map does, each
// repetition is a component with the observation's code, and the
// observation itself has no value (obs-7). Text repetitions stay lines of
// one string.
func TestOBX5RepeatsKept(t *testing.T) {
	msg := func(obx string) string {
		return "MSH|^~\\&|LIS|LAB|HIE|HIE|20240101120000||ORU^R01^ORU_R01|R1|P|2.5.1\n" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"OBR|1|1001^CLINIC|555^LAB|600-7^Culture^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
			obx + "\n"
	}
	c := testConverter(t)
	obs := entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|CWE|600-7^Bacteria identified^LN||27268008^Salmonella^SCT~4298009^Shigella^SCT||||||F")))
	if len(obs) != 1 {
		t.Fatalf("observations: %d", len(obs))
	}
	o := obs[0]
	if o.ValueCodeableConcept != nil || len(o.Component) != 2 {
		t.Fatalf("value %+v, components %+v: want two components and no value", o.ValueCodeableConcept, o.Component)
	}
	for i, want := range []string{"27268008", "4298009"} {
		cp := o.Component[i]
		if cp.ValueCodeableConcept == nil || cp.ValueCodeableConcept.Coding[0].Code != want || cp.Code.Coding[0].Code != "600-7" {
			t.Errorf("component %d: %+v, want code 600-7 value %s", i, cp, want)
		}
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|NM|8867-4^Heart rate^LN||60~120|/min^^UCUM|||||F")))
	if o := obs[0]; o.ValueQuantity != nil || len(o.Component) != 2 || o.Component[1].ValueQuantity == nil || o.Component[1].ValueQuantity.Value != "120" || o.Component[1].ValueQuantity.Code != "/min" {
		t.Errorf("NM repeats: value %+v, components %+v", o.ValueQuantity, o.Component)
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|NM|8867-4^Heart rate^LN||60|/min^^UCUM|||||F")))
	if o := obs[0]; o.ValueQuantity == nil || o.Component != nil {
		t.Errorf("one NM value: value %+v, components %+v", o.ValueQuantity, o.Component)
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|TX|8251-1^Note^LN||line one~line two||||||F")))
	if o := obs[0]; o.ValueString != "line one\nline two" || o.Component != nil {
		t.Errorf("TX repeats: value %q, components %+v", o.ValueString, o.Component)
	}
}

// TestOBXReferencePointer: an OBX-2 RP under a report whose RP.1 is an
// absolute URL becomes the report's presentedForm by url (the IG's
// RP[Attachment]), not an Observation with dataAbsentReason that drops
// the pointer; one that is not a URL stays such an Observation.
func TestOBXReferencePointer(t *testing.T) {
	msg := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|RP1|P|2.5.1\r" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\r" +
		"OBR|1||F-1^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\r" +
		"OBX|1|RP|18748-4^Diagnostic imaging study^LN||https://pacs.example.org/wado?study=1.2.3^^image^JPEG||||||F\r" +
		"OBX|2|RP|18748-4^Diagnostic imaging study^LN||IMG0001.DCM^PACS^AP^DICOM||||||F\r"
	b := mustConvert(t, testConverter(t), msg)
	drs := entriesOf[fhir.DiagnosticReport](b)
	if len(drs) != 1 || len(drs[0].PresentedForm) != 1 {
		t.Fatalf("reports: %+v", drs)
	}
	if pf := drs[0].PresentedForm[0]; pf.URL != "https://pacs.example.org/wado?study=1.2.3" || pf.ContentType != "image/jpeg" || pf.Title != "Diagnostic imaging study" {
		t.Errorf("presentedForm: %+v", pf)
	}
	obs := entriesOf[fhir.Observation](b)
	if len(obs) != 1 || obs[0].DataAbsentReason == nil {
		t.Errorf("the pointer that is no URL: %+v", obs)
	}
}
