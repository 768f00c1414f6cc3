package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestEDRepetitionsKept: an OBX-5 ED that repeats carries one document per
// repetition, and each is its own attachment (DocumentReference.content
// and DiagnosticReport.presentedForm both repeat); the second PDF was
// dropped without an error and the message acknowledged.
func TestEDRepetitionsKept(t *testing.T) {
	const eds = "^application^pdf^Base64^QQ==~^application^pdf^Base64^Qg=="
	want := []string{"A", "B"}
	mdm := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|ED2|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|DS|TX|20240401100000||20240401101000||||||DOC-ED2^EHR|||||AU||AV\n" +
		"OBX|1|ED|18842-5^Discharge summary^LN||" + eds + "||||||F\n"
	for _, mode := range mdmModes {
		b, _ := convertMDM(t, mode, mdm)
		dr := documentRef(b)
		if dr == nil {
			t.Fatalf("%s: no DocumentReference", mode)
		}
		var got []string
		for _, c := range dr.Content {
			got = append(got, string(c.Attachment.Data))
		}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: MDM contents %q, want %q", mode, got, want)
		}
	}
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|ED3|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|ED|24627-2^Chest CT report^LN||" + eds + "||||||F\n"
	drs := entriesOf[fhir.DiagnosticReport](mustConvert(t, testConverter(t), oru))
	if len(drs) != 1 {
		t.Fatalf("reports: %d", len(drs))
	}
	var got []string
	for _, pf := range drs[0].PresentedForm {
		got = append(got, string(pf.Data))
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ORU presentedForm %q, want %q", got, want)
	}
}
