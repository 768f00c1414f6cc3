package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// nullIDDoc is a document about the patient named given, born on birth,
// whose recordTarget ids are ids.
func nullIDDoc(docID, ids, given, birth string) string {
	doc := reviewDoc(docID, docID, "", "")
	return strings.Replace(doc, `<id root="1.2.3.9" extension="MRN1"/>
  <patient><name><given>A</given><family>B</family></name>
   <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19800101"/></patient>`,
		ids+`
  <patient><name><given>`+given+`</given><family>B</family></name>
   <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="`+birth+`"/></patient>`, 1)
}

// TestNullFlavorIDIsNoIdentifier: an II with a nullFlavor is a null
// value, the reason an id is missing (HL7 V3 data types: a null value
// has no other properties), whatever else its attributes hold; exports
// write the EHR's placeholder in its extension (<id nullFlavor="UNK"
// root="..." extension="UNK"/>). It was read as the id root|extension:
// a Patient identifier "UNK" and, first in the recordTarget, the
// patient's key, so two patients whose documents carried it were one
// Patient at the exchange, each one's entries filed to the other.
func TestNullFlavorIDIsNoIdentifier(t *testing.T) {
	const placeholder = `<id nullFlavor="UNK" root="1.2.3.9" extension="UNK"/>`
	ann, annRes := convertReview(t, nullIDDoc("d1", placeholder, "Ann", "19800101"))
	bea, beaRes := convertReview(t, nullIDDoc("d2", placeholder, "Bea", "19910707"))
	if annRes.PatientKey == beaRes.PatientKey {
		t.Errorf("two patients keyed alike by a null id: %q", annRes.PatientKey)
	}
	for _, got := range []map[string][]any{ann, bea} {
		if len(got["Patient"]) != 1 {
			t.Fatalf("patients = %d, want 1", len(got["Patient"]))
		}
		for _, id := range got["Patient"][0].(*fhir.Patient).Identifier {
			if id.Value == "UNK" {
				t.Errorf("a null id went out as identifier %s|%s", id.System, id.Value)
			}
		}
	}
	// Beside the patient's own id, the null one is not the key either.
	got, res := convertReview(t, nullIDDoc("d3", placeholder+`<id root="1.2.3.9" extension="MRN7"/>`, "Cy", "20010203"))
	if want := fhir.PatientKey("urn:oid:1.2.3.9", "MRN7"); res.PatientKey != want {
		t.Errorf("patient key = %q, want %q", res.PatientKey, want)
	}
	if ids := got["Patient"][0].(*fhir.Patient).Identifier; len(ids) != 1 || ids[0].Value != "MRN7" {
		t.Errorf("identifiers = %+v, want MRN7 alone", ids)
	}
}
