package ccdafhir

import (
	"errors"
	"strings"
	"testing"
)

// secondTarget is a recordTarget to add after reviewDoc's (MRN1, A B,
// born 1980-01-01).
func secondTarget(id, given, birth string) string {
	return `<recordTarget><patientRole>` + id + `
  <patient><name><given>` + given + `</given><family>B</family></name>
   <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="` + birth + `"/></patient>
 </patientRole></recordTarget>`
}

// withTarget is reviewDoc with rt after its recordTarget and a problem.
func withTarget(rt string) []byte {
	doc := reviewDoc("d1", "s1", "", problemSection)
	return []byte(strings.Replace(doc, "</recordTarget>", "</recordTarget>\n "+rt, 1))
}

// TestSeveralPatientsRefused: CDA R2 lets a document stand in more than
// one chart ("In the uncommon case where a clinical document (such as a
// group encounter note) is placed into more than one patient chart, more
// than one recordTarget participants can be stated"; they "propagate to
// nested content"). Only the first was read: every entry was filed to
// the first patient alone, and the second patient's chart never had the
// document, without a word. ferry files a document to one patient, so
// one that names two is refused, the recordTarget named; one that names
// the same patient twice is converted.
func TestSeveralPatientsRefused(t *testing.T) {
	_, _, err := ConvertBytes(withTarget(secondTarget(`<id root="1.2.3.9" extension="MRN2"/>`, "Cy", "20150505")), Options{NoBinary: true})
	var pe *PathError
	if !errors.Is(err, ErrSeveralPatients) || !errors.As(err, &pe) || pe.Path != "/ClinicalDocument/recordTarget[2]" {
		t.Fatalf("err = %v, want ErrSeveralPatients at /ClinicalDocument/recordTarget[2]", err)
	}
	if strings.Contains(err.Error(), "MRN2") || strings.Contains(err.Error(), "Cy") {
		t.Errorf("the error names the patient: %v", err)
	}
	// Without an id the patients are told apart by who they are.
	_, _, err = ConvertBytes(withTarget(secondTarget(``, "Cy", "20150505")), Options{NoBinary: true})
	if !errors.Is(err, ErrSeveralPatients) {
		t.Errorf("a second patient without an id: err = %v, want ErrSeveralPatients", err)
	}
	// The same patient stated twice (an id in common) is one patient.
	got, res := convertReview(t, string(withTarget(secondTarget(`<id root="1.2.3.9" extension="MRN1"/>`, "A", "19800101"))))
	if len(got["Patient"]) != 1 || len(got["Condition"]) != 1 {
		t.Errorf("patients %d, conditions %d, want 1 and 1", len(got["Patient"]), len(got["Condition"]))
	}
	if res.PatientIdentifier.Value != "MRN1" {
		t.Errorf("patient %+v, want MRN1", res.PatientIdentifier)
	}
	// So is one stated again under another id, with the same name,
	// birth time and gender.
	if _, res, err := ConvertBytes(withTarget(secondTarget(`<id root="1.2.3.77" extension="E-55"/>`, "A", "19800101")), Options{NoBinary: true}); err != nil || res.PatientIdentifier.Value != "MRN1" {
		t.Errorf("the patient under another id: err %v, patient %+v, want MRN1", err, res.PatientIdentifier)
	}
}
