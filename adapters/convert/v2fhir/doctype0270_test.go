package v2fhir

import "testing"

// Table 0270 (Document Type) has PN for a procedure note, PR for a
// progress note and CD for cardiodiagnostics. TXA-2 PN was filed as a
// progress note (LOINC 11506-3), PR, the progress note, as a document of
// unknown type, and CD as a discharge summary (18842-5), so the exchange
// listed a procedure note and an ECG among the patient's progress notes
// and discharge summaries. PN is a procedure note (28570-0, US Core's
// "Procedures Note"), PR a progress note, and CD, which no LOINC document
// code names as such, UNK beside its 0270 code.
func TestDocumentTypeTable0270(t *testing.T) {
	for txa2, want := range map[string]string{
		"PN": "http://loinc.org#28570-0 http://terminology.hl7.org/CodeSystem/v2-0270#PN",
		"PR": "http://loinc.org#11506-3 http://terminology.hl7.org/CodeSystem/v2-0270#PR",
		"CD": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK http://terminology.hl7.org/CodeSystem/v2-0270#CD",
		"DS": "http://loinc.org#18842-5 http://terminology.hl7.org/CodeSystem/v2-0270#DS",
	} {
		if got := documentTypeOf(t, txa2); got != want {
			t.Errorf("TXA-2 %q: type %s, want %s", txa2, got, want)
		}
	}
}
