package ccdafhir

import (
	"bytes"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRestrictedDocumentLabelsEveryResource: the exchange stores a
// transaction's resources one by one, and the Bundle's meta is not theirs.
// So a document whose confidentialityCode is R or V must label every
// resource made from it, not only the Bundle, the DocumentReference and
// the Binary: an unlabelled Condition from a very restricted document is
// a downgrade (STANDARDS.md §7). A normal document stays as it was.
func TestRestrictedDocumentLabelsEveryResource(t *testing.T) {
	raw := readCase(t, "ccda-problem")
	const normal = `<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>`
	if !bytes.Contains(raw, []byte(normal)) {
		t.Fatal("test document has no normal confidentialityCode")
	}
	for _, code := range []string{"R", "V"} {
		doc := bytes.Replace(raw, []byte(normal), []byte(`<confidentialityCode code="`+code+`" codeSystem="2.16.840.1.113883.5.25"/>`), 1)
		for _, mode := range []Mode{ModePutID, ModePatientConditional} {
			b, _, err := ConvertBytes(doc, Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			conditions := 0
			for _, e := range b.Entry {
				if _, ok := e.Resource.(*fhir.Condition); ok {
					conditions++
				}
				if got := confidentiality(t, e.Resource); got != code {
					t.Errorf("%s document, mode %d: %T labelled %q, want %q", code, mode, e.Resource, got, code)
				}
			}
			if conditions == 0 {
				t.Fatal("no Condition in the bundle")
			}
		}
	}
	b, _, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.Condition); ok {
			if got := confidentiality(t, e.Resource); got != "" {
				t.Errorf("normal document: Condition labelled %q", got)
			}
		}
	}
}

// confidentiality returns the resource's v3-Confidentiality code, "" when
// it has none.
func confidentiality(t *testing.T, res any) string {
	t.Helper()
	for _, c := range metaSecurity(t, res) {
		if c.System == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" {
			return c.Code
		}
	}
	return ""
}
