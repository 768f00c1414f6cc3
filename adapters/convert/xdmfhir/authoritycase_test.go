package xdmfhir

import "testing"

// TestPatientIDMappedAuthorityInAnyCase: identifiers.systems maps a
// patientId's assigning authority whatever case the package writes it
// in, as the HL7 v2 converter does: "Riverside" was no authority ferry
// could name, and the document went without a subject.
func TestPatientIDMappedAuthorityInAnyCase(t *testing.T) {
	c := &Converter{Systems: map[string]string{"RIVERSIDE": "https://riverside.example/mrn"}}
	for _, cx := range []string{"MRN-7^^^RIVERSIDE", "MRN-7^^^Riverside", "MRN-7^^^riverside"} {
		if sys, _, ok := c.patientID(cx); !ok || sys != "https://riverside.example/mrn" {
			t.Errorf("%q: %q %v, want https://riverside.example/mrn", cx, sys, ok)
		}
	}
}
