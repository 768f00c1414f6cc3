package csvfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestImmunizationPrimarySourceAbsent: a mapping without a primarySource
// column still gives US Core's 1..1 primarySource, as an absent value
// with its reason; a mapped one is the value alone.
func TestImmunizationPrimarySourceAbsent(t *testing.T) {
	row := map[string]string{"vaccineCode": "141", "vaccineCode.system": "http://hl7.org/fhir/sid/cvx", "occurrenceDateTime": "2023-10-15"}
	get := func(k string) string { return row[k] }
	r, ps := buildImmunization(get, nil)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	im := r.(*fhir.Immunization)
	if im.PrimarySource != nil || im.PrimarySourceElement == nil ||
		im.PrimarySourceElement.Extension[0].URL != fhir.DataAbsentReasonURL || im.PrimarySourceElement.Extension[0].ValueCode != "unknown" {
		t.Fatalf("no primarySource column: %+v %+v", im.PrimarySource, im.PrimarySourceElement)
	}
	row["primarySource"] = "true"
	r, _ = buildImmunization(get, nil)
	if im := r.(*fhir.Immunization); im.PrimarySource == nil || !*im.PrimarySource || im.PrimarySourceElement != nil {
		t.Fatalf("primarySource true: %+v %+v", im.PrimarySource, im.PrimarySourceElement)
	}
}
