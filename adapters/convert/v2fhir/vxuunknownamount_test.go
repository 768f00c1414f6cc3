package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUUnknownAmountAsDecimal: RXA-6 999 is the CDC immunization
// guide's "amount unknown" (a historical dose, a refusal), never a dose.
// RXA-6 is an NM, and senders whose systems keep it as a decimal write it
// 999.0 or 999.00: the same number, which ferry compared as text and
// wrote as a 999 mL dose, a dose a forecaster or a reviewer at the
// exchange would read as given.
func TestVXUUnknownAmountAsDecimal(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0043|P|2.5.1
PID|1||MRN200783^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Elena||20100105|F
ORC|RE||IZ-14401^SPRINGCLINIC
RXA|0|1|20141012||88^influenza, unspecified formulation^CVX|999.0|mL^mL^UCUM||01^Historical information - source unspecified^NIP001|||||||||||CP|A
ORC|RE||IZ-14402^SPRINGCLINIC
RXA|0|1|20151012||88^influenza, unspecified formulation^CVX| 999.00 |mL^mL^UCUM||01^Historical information - source unspecified^NIP001|||||||||||CP|A
ORC|RE||IZ-14403^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001|||||||||||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	doses := map[string]*fhir.Quantity{}
	for _, imm := range entriesOf[fhir.Immunization](b) {
		doses[imm.OccurrenceDateTime[:4]] = imm.DoseQuantity
	}
	if len(doses) != 3 {
		t.Fatalf("immunizations by year: %v", doses)
	}
	for _, year := range []string{"2014", "2015"} {
		if doses[year] != nil {
			t.Errorf("%s: RXA-6 999 as a decimal written as dose %s, want none (amount unknown)", year, toJSON(doses[year]))
		}
	}
	if d := doses["2024"]; d == nil || string(d.Value) != "0.5" {
		t.Errorf("2024: dose %s, want 0.5 mL", toJSON(d))
	}
}
