package ccdafhir

import (
	"fmt"
	"strings"
	"testing"
)

// otherPatientDoc is versionDoc(1, ...) as another patient's document
// (DOC-99, MRN-OTHER, Bob) from a sender that reuses one setId for every
// document it makes (a template's fixed setId): a different document set
// in all but name.
func otherPatientDoc(allergies, problems string) []byte {
	return []byte(strings.NewReplacer(`extension="MRN-RPLC"`, `extension="MRN-OTHER"`, `extension="DOC-1"`, `extension="DOC-99"`,
		"<given>Rae</given>", "<given>Bob</given>").Replace(string(versionDoc(1, allergies, problems))))
}

// TestSetIDKeepsPatientsApart checks that the setId, which scopes the ids
// minted for entries without ids, never makes two patients' documents
// write one resource: a setId shared by two patients (a sender's fixed
// template value) must not put patient B's problem over patient A's, in
// any write mode (the conditional mode finds a resource by that minted
// identifier alone).
func TestSetIDKeepsPatientsApart(t *testing.T) {
	prob := fmt.Sprintf(idlessHypertension, "active")
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		ba, _, err1 := ConvertBytes(versionDoc(1, idlessLatex, prob), Options{Mode: mode})
		bb, _, err2 := ConvertBytes(otherPatientDoc(idlessLatex, prob), Options{Mode: mode})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for _, e := range ba.Entry {
			if strings.HasPrefix(e.Request.URL, "Practitioner") || strings.HasPrefix(e.Request.URL, "Organization") {
				continue // shared, not the patient's
			}
			for _, f := range bb.Entry {
				if e.Request.URL == f.Request.URL {
					t.Errorf("mode %d: both patients' documents write %s", mode, e.Request.URL)
				}
			}
		}
	}
}

// TestSetIDKeepsIdlessPatientsApart: a recordTarget without any usable id
// gets a minted Patient id; two such documents of different patients that
// share a setId must not become one Patient (one patient's record written
// over the other's, and every entry of both filed under it).
func TestSetIDKeepsIdlessPatientsApart(t *testing.T) {
	noID := func(doc []byte) []byte {
		return []byte(strings.Replace(string(doc), `<id root="2.16.840.1.113883.19.5.99999.2" extension="MRN-OTHER"/>`, "",
			1))
	}
	a := strings.Replace(string(versionDoc(1, "", "")), `extension="MRN-RPLC"`, `extension="MRN-OTHER"`, 1)
	ba, _ := convertDoc(t, noID([]byte(a)))
	bb, _ := convertDoc(t, noID(otherPatientDoc("", "")))
	pa, pb := ids(ba, "Patient"), ids(bb, "Patient")
	if len(pa) != 1 || len(pb) != 1 {
		t.Fatalf("patients %v %v", pa, pb)
	}
	if pa[0] == pb[0] {
		t.Errorf("Rae and Bob are one Patient %s", pa[0])
	}
}
