package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUDeletedDoseObservations: RXA-21 D deletes a dose recorded in
// error, and the Immunization is written entered-in-error (the IG's RXA
// map). A sender that sends the deleted dose's order group whole sends its
// OBX too (VFC eligibility, the VIS given), which ferry wrote as final
// Observations partOf the deleted Immunization, keyed as the add wrote
// them: the exchange kept "VFC eligible, VIS presented" as facts of a dose
// never given. They are entered-in-error with the dose they describe; a
// dose added (A) keeps its final ones.
func TestVXUDeletedDoseObservations(t *testing.T) {
	const group = `ORC|RE||IZ-14601^SPRINGCLINIC
RXA|0|1|20240401101500||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||DT6||PMC^Sanofi Pasteur^MVX|||CP|`
	const obx = `
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible - Medicaid^HL70064||||||F|||20240401
OBX|2|TS|29769-7^Date vaccine information statement presented^LN|2|20240401||||||F`
	head := `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0045|P|2.5.1
PID|1||MRN200785^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Ines||20230105|F
`
	c := testConverter(t)
	added := mustConvert(t, c, head+group+"A"+obx)
	deleted := mustConvert(t, c, head+group+"D"+obx)
	ids := map[string]bool{}
	for _, o := range entriesOf[fhir.Observation](added) {
		ids[o.ID] = true
		if o.Status != "final" {
			t.Errorf("added dose: observation %s status %q, want final", o.Code.Coding[0].Code, o.Status)
		}
	}
	obs := entriesOf[fhir.Observation](deleted)
	if len(obs) != 2 || len(ids) != 2 {
		t.Fatalf("observations: %d added, %d deleted, want 2 each", len(ids), len(obs))
	}
	for _, o := range obs {
		if !ids[o.ID] {
			t.Errorf("deleted dose: observation %s has id %s, not the one the add wrote", o.Code.Coding[0].Code, o.ID)
		}
		if o.Status != "entered-in-error" {
			t.Errorf("deleted dose: observation %s status %q, want entered-in-error", o.Code.Coding[0].Code, o.Status)
		}
	}
	strictR4(t, marshal(t, deleted))
}
