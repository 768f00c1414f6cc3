package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUHistoricalDoseNotOfTheVisit: a VXU sent from today's visit
// (PV1) that also reports doses given elsewhere years before (RXA-9 01,
// "historical information - source unspecified", NIP001) made every
// Immunization one of today's Encounter, so the exchange read a 2014 flu
// shot as given at the 2024 visit. FHIR R4 Immunization.encounter is "The
// visit or admission or other contact between patient and health care
// provider the immunization was performed as part of": a dose reported
// from another source (primarySource false) was not, and names no
// Encounter; a dose given (00) or refused at the visit still does.
func TestVXUHistoricalDoseNotOfTheVisit(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0031|P|2.5.1
PID|1||MRN200778^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Lucia||20100105|F
PV1|1|O|||||||||||||||||V20240401-7^^^SPRINGCLINIC^VN|||||||||||||||||||||||||20240401100000
ORC|RE||IZ-14001^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||DT1||PMC^Sanofi^MVX|||CP|A
ORC|RE||IZ-14002^SPRINGCLINIC
RXA|0|1|20141012||88^influenza, unspecified formulation^CVX|999|||01^Historical information - source unspecified^NIP001|||||||||||CP|A
ORC|RE||IZ-14003^SPRINGCLINIC
RXA|0|1|20240401102000||03^MMR^CVX|999|||00^New immunization record^NIP001||||||||||00^Parental decision^NIP002||RE|A`
	b := mustConvert(t, testConverter(t), msg)
	byCode := map[string]*fhir.Immunization{}
	for _, imm := range entriesOf[fhir.Immunization](b) {
		byCode[imm.VaccineCode.Coding[0].Code] = imm
	}
	given, historical, refused := byCode["20"], byCode["88"], byCode["03"]
	if given == nil || historical == nil || refused == nil {
		t.Fatalf("immunizations: %s", toJSON(byCode))
	}
	if historical.Encounter != nil {
		t.Errorf("historical dose of 2014: encounter %s, want none (not given at this visit)", toJSON(historical.Encounter))
	}
	if given.Encounter == nil || refused.Encounter == nil {
		t.Errorf("dose given or refused at the visit: encounters %s and %s, want the visit's", toJSON(given.Encounter), toJSON(refused.Encounter))
	}
	strictR4(t, marshal(t, b))
}
