package faxfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMatchPatientName: the Patient that patient_link: match writes when
// the exchange holds none goes to a US Core exchange, whose Patient makes
// name 1..* and has us-core-6 "(family.exists() or given.exists()) xor
// extension.where(url='http://hl7.org/fhir/StructureDefinition/data-absent-reason').exists()".
// A sidecar name not written "Family, Given" ("Jane Roe", as fax cover
// sheets and most sidecars give it) became a name of text alone, and a
// sidecar without a name no name at all: a validating exchange refused
// the fax's transaction. Such a name now keeps its text and says its
// parts are absent (unsupported: the sidecar has none to give), no name
// is a name saying unknown, as the HL7 v2 and C-CDA converters write it;
// a split name carries no extension.
func TestMatchPatientName(t *testing.T) {
	for _, tc := range []struct {
		name, text, family, dar string
	}{
		{"Roe, Jane Ann", "Roe, Jane Ann", "Roe", ""},
		{"Jane Roe", "Jane Roe", "", "unsupported"},
		{"", "", "", "unknown"},
	} {
		p := matchPatient(testConfig(), Fax{MRN: "1", PatientName: tc.name}, nil)
		if len(p.Name) != 1 {
			t.Fatalf("%q: names %+v, want one", tc.name, p.Name)
		}
		n := p.Name[0]
		dar := ""
		for _, e := range n.Extension {
			if e.URL == fhir.DataAbsentReasonURL {
				dar = e.ValueCode
			}
		}
		if n.Text != tc.text || n.Family != tc.family || dar != tc.dar {
			t.Errorf("%q: name %+v (data-absent-reason %q), want text %q, family %q, data-absent-reason %q", tc.name, n, dar, tc.text, tc.family, tc.dar)
		}
		if (n.Family != "" || len(n.Given) > 0) == (dar != "") {
			t.Errorf("%q: us-core-6 fails: %+v", tc.name, n)
		}
	}
}
