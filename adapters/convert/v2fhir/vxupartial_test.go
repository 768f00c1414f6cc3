package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUPartialDose: RXA-20 PA (table 0322, partially administered) is
// an administration that took place (status completed, the IG's
// CompletionStatus map) but whose dose is not a full one: FHIR R4 says so
// with isSubpotent ("a dose ... not considered to be potent"), the
// reason being the v2 code, so a forecaster at the exchange does not
// count it toward the series. A complete dose (CP) carries neither.
func TestVXUPartialDose(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0009|P|2.5.1
PID|1||MRN200777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Mateo||20230105|M
ORC|RE||IZ-13698^SPRINGCLINIC
RXA|0|1|20240401101500||08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||HB4410A||MSD^Merck and Co., Inc.^MVX|||PA|A
ORC|RE||IZ-13699^SPRINGCLINIC
RXA|0|1|20240401102000||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||DT1||PMC^Sanofi^MVX|||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	byLot := map[string]*fhir.Immunization{}
	for _, e := range b.Entry {
		if imm, ok := e.Resource.(*fhir.Immunization); ok {
			byLot[imm.LotNumber] = imm
		}
	}
	partial, full := byLot["HB4410A"], byLot["DT1"]
	if partial == nil || full == nil {
		t.Fatalf("immunizations: %v", byLot)
	}
	if partial.Status != "completed" || partial.IsSubpotent == nil || !*partial.IsSubpotent {
		t.Errorf("PA: status %q isSubpotent %v, want completed and true", partial.Status, partial.IsSubpotent)
	}
	if len(partial.SubpotentReason) != 1 || len(partial.SubpotentReason[0].Coding) != 1 ||
		partial.SubpotentReason[0].Coding[0].System != v2Table+"0322" || partial.SubpotentReason[0].Coding[0].Code != "PA" {
		t.Errorf("PA: subpotentReason %s", toJSON(partial.SubpotentReason))
	}
	if full.Status != "completed" || full.IsSubpotent != nil || full.SubpotentReason != nil {
		t.Errorf("CP: status %q isSubpotent %v subpotentReason %s", full.Status, full.IsSubpotent, toJSON(full.SubpotentReason))
	}
}
