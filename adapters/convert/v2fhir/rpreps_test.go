package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRPRepetitionsKept: an OBX-5 RP that repeats points at one document
// per repetition, and each URL is its own attachment; the second pointer
// was dropped without an error.
func TestRPRepetitionsKept(t *testing.T) {
	const rps = "https://pacs.example.org/r/1.pdf^EHR^application^pdf~https://pacs.example.org/r/2.pdf^EHR^application^pdf"
	want := []string{"https://pacs.example.org/r/1.pdf", "https://pacs.example.org/r/2.pdf"}
	mdm := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|RP2|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|DI|TX|20240401100000||20240401101000||||||DOC-RP2^EHR|||||AU||AV\n" +
		"OBX|1|RP|18748-4^Diagnostic imaging study^LN||" + rps + "||||||F\n"
	for _, mode := range mdmModes {
		b, _ := convertMDM(t, mode, mdm)
		dr := documentRef(b)
		if dr == nil {
			t.Fatalf("%s: no DocumentReference", mode)
		}
		var got []string
		for _, c := range dr.Content {
			got = append(got, c.Attachment.URL)
		}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: MDM contents %q, want %q", mode, got, want)
		}
	}
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|RP3|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-3^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|RP|18748-4^Diagnostic imaging study^LN||" + rps + "||||||F\n"
	b := mustConvert(t, testConverter(t), oru)
	drs := entriesOf[fhir.DiagnosticReport](b)
	if len(drs) != 1 {
		t.Fatalf("reports: %d", len(drs))
	}
	var got []string
	for _, pf := range drs[0].PresentedForm {
		got = append(got, pf.URL)
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ORU presentedForm %q, want %q", got, want)
	}
	// One pointer that is no URL keeps the whole OBX an Observation (the
	// pointers stay in the Binary), rather than the report keeping the
	// URL and losing the other.
	mixed := strings.Replace(oru, "~https://pacs.example.org/r/2.pdf", "~IMG0002.DCM", 1)
	b = mustConvert(t, testConverter(t), mixed)
	if drs := entriesOf[fhir.DiagnosticReport](b); len(drs) != 1 || len(drs[0].PresentedForm) != 0 {
		t.Errorf("mixed pointers: reports %+v, want no presentedForm", drs)
	}
	if obs := entriesOf[fhir.Observation](b); len(obs) != 1 || obs[0].DataAbsentReason == nil {
		t.Errorf("mixed pointers: observations %+v, want one with dataAbsentReason", obs)
	}
}
