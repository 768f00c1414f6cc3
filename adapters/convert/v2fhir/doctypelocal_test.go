package v2fhir

import (
	"strings"
	"testing"
)

// A TXA-2 code of a local coding system is that system's code, whatever
// its letters: "DS" in a clinic's own document type list (a dental
// summary) is not table 0270's DS (discharge summary), and "CD" there
// (a cardiology note) is not 0270's CD. Mapped through table 0270, the
// exchange filed them as LOINC discharge summaries. A local code gives
// UNK beside itself, as any other code of another system does; table
// 0270 codes (TXA-2.3 empty or HL70270) keep their mapping.
func TestDocumentTypeLocalCodeNotRelabelled(t *testing.T) {
	for txa2, wantFirst := range map[string]string{
		"DS^Dental summary^99DOC":                 "http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK",
		"CD^Cardiology note^L":                    "http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK",
		"DS^Dental summary^99DOC^34109-9^Note^LN": "http://loinc.org#34109-9",
		"DS^Discharge summary^HL70270":            "http://loinc.org#18842-5",
		"DS":                                      "http://loinc.org#18842-5",
	} {
		got := documentTypeOf(t, txa2)
		if first, _, _ := strings.Cut(got, " "); first != wantFirst {
			t.Errorf("TXA-2 %q: type %s, want %s first", txa2, got, wantFirst)
		}
	}
}
