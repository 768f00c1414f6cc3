package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUOrderingProvider: ORC-12 of a VXU's order group is the provider
// who ordered the vaccine (the CDC immunization guide has it sent when
// known; a VFC dose is accounted to its orderer). ferry wrote only RXA-10,
// the one who gave it, and the orderer was lost. The v2-to-FHIR IG's
// ORC[Immunization] map makes ORC-12 a performer with function OP
// (v2-0443 Ordering Provider), beside RXA-10's AP.
func TestVXUOrderingProvider(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0042|P|2.5.1
PID|1||MRN200782^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Tomas||20230105|M
ORC|RE||IZ-14301^SPRINGCLINIC|||||||7824^Jackson^Lily^^^^^^SPRINGCLINIC||57422^Radon^Nicholas^^^^^^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001|7832^Lemon^Mike^^^^^^SPRINGCLINIC|||||DT4||PMC^Sanofi Pasteur^MVX|||CP|A`
	b := mustConvert(t, testConverter(t), msg)
	imms := entriesOf[fhir.Immunization](b)
	if len(imms) != 1 {
		t.Fatalf("%d immunizations, want 1", len(imms))
	}
	got := map[string]string{}
	for _, p := range imms[0].Performer {
		if p.Function == nil || len(p.Function.Coding) != 1 || p.Function.Coding[0].System != v2Table+"0443" || p.Actor == nil {
			t.Fatalf("performer %s", toJSON(p))
		}
		got[p.Function.Coding[0].Code] = p.Actor.Display
	}
	if got["AP"] != "Mike Lemon" || got["OP"] != "Nicholas Radon" || len(got) != 2 {
		t.Errorf("performers by function %v, want AP Mike Lemon (RXA-10) and OP Nicholas Radon (ORC-12)", got)
	}
	strictR4(t, marshal(t, b))
}
