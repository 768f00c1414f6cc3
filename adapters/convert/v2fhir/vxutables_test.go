package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUCVXAndMVXByTableNumber: senders name CVX and MVX by their HL7
// table numbers as often as by their names ("08^Hep B^HL70292",
// "MSD^Merck^HL70227", as v2.3.1 registries and the CDC guide's older
// examples write them). Those tables are external: THO's ValueSet v2-0292
// includes all of http://hl7.org/fhir/sid/cvx and v2-0227 all of
// http://hl7.org/fhir/sid/mvx, and there is no v2-0292 or v2-0227
// CodeSystem. ferry wrote the vaccine as
// http://terminology.hl7.org/CodeSystem/v2-0292|08, a system no registry
// or forecaster matches the CVX code in, and US Core's Immunization
// vaccineCode binding (CVX) went unmet.
func TestVXUCVXAndMVXByTableNumber(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0041|P|2.5.1
PID|1||MRN200781^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Sofia||20230105|F
ORC|RE||IZ-14201^SPRINGCLINIC
RXA|0|1|20240401101500||08^Hep B, adolescent or pediatric^HL70292|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||HB7||MSD^Merck and Co., Inc.^HL70227|||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	imms := entriesOf[fhir.Immunization](b)
	if len(imms) != 1 {
		t.Fatalf("%d immunizations, want 1", len(imms))
	}
	imm := imms[0]
	if c := imm.VaccineCode.Coding; len(c) != 1 || c[0].System != "http://hl7.org/fhir/sid/cvx" || c[0].Code != "08" {
		t.Errorf("vaccineCode %s, want http://hl7.org/fhir/sid/cvx|08", toJSON(imm.VaccineCode))
	}
	if m := imm.Manufacturer; m == nil || m.Identifier == nil || m.Identifier.System != "http://hl7.org/fhir/sid/mvx" || m.Identifier.Value != "MSD" {
		t.Errorf("manufacturer %s, want identifier http://hl7.org/fhir/sid/mvx|MSD", toJSON(imm.Manufacturer))
	}
	strictR4(t, marshal(t, b))
}
