package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestImmunizationDoseNumber: C-CDA's Immunization Activity gives the
// dose of the series as repeatNumber ("Indicates the number of the dose
// in the series", the second hepatitis B dose below), which C-CDA on
// FHIR (CF-immunizations) maps to protocolApplied.doseNumberPositiveInt.
// It was dropped, so the exchange's clinician could not tell a series
// begun from one completed.
func TestImmunizationDoseNumber(t *testing.T) {
	sec := strings.Replace(immSection("EVN", "completed"), `<effectiveTime value="20240301"/>`,
		`<effectiveTime value="20240301"/>
  <repeatNumber value="2"/>`, 1)
	sec = strings.Replace(sec, `code="140"`, `code="08"`, 1)
	doc := reviewDoc("d1", "s1", "", sec)
	got, _ := convertReview(t, doc)
	if len(got["Immunization"]) != 1 {
		t.Fatalf("%d immunizations, want 1", len(got["Immunization"]))
	}
	im := got["Immunization"][0].(*fhir.Immunization)
	if len(im.ProtocolApplied) != 1 || im.ProtocolApplied[0].DoseNumberPositiveInt != 2 {
		t.Fatalf("protocolApplied %+v, want doseNumberPositiveInt 2", im.ProtocolApplied)
	}
	b, _, err := ConvertBytes([]byte(doc), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(b)
	if err := strictR4(js); err != nil {
		t.Errorf("strict R4: %v", err)
	}
	if !strings.Contains(string(js), `"protocolApplied":[{"doseNumberPositiveInt":2}]`) {
		t.Errorf("bundle lacks the dose number: %s", js)
	}

	// No repeatNumber, a nullFlavor or a value that is no positive
	// integer: no protocolApplied (its doseNumber is 1..1).
	for _, rn := range []string{``, `<repeatNumber nullFlavor="UNK"/>`, `<repeatNumber value="0"/>`, `<repeatNumber value="x"/>`} {
		sec := strings.Replace(immSection("EVN", "completed"), `<effectiveTime value="20240301"/>`,
			`<effectiveTime value="20240301"/>`+rn, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		if pa := got["Immunization"][0].(*fhir.Immunization).ProtocolApplied; len(pa) != 0 {
			t.Errorf("%q: protocolApplied %+v, want none", rn, pa)
		}
	}
}
