package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestAdministrationSite: an RDE's RXR-2 says where the
// drug goes in (an injection in the left deltoid, eye drops in the right
// eye: table 0163); the v2-to-FHIR IG's RXR to MedicationRequest map
// gives it as dosageInstruction.site beside RXR-1's route, as ferry's
// RDS dispense and VXU already write it, but the MedicationRequest had
// the route alone. It has the site too, and an RXR with a site alone
// still makes a dosage.
func TestMedicationRequestAdministrationSite(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-32|P|2.5.1
PID|1||MRN100779^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-32^EHR|||||||20240316085500
RXE||1649574^medroxyprogesterone acetate 150 MG/ML Injectable Suspension^RXNORM|150||mg^mg^UCUM
RXR|IM^Intramuscular^HL70162|LD^Left Deltoid^HL70163
ORC|NW|RX-33^EHR|||||||20240316085500
RXE||312762^latanoprost 0.05 MG/ML Ophthalmic Solution^RXNORM
RXR||OD^Right eye^HL70163`
	b := mustConvert(t, testConverter(t), msg)
	mrs := entriesOf[fhir.MedicationRequest](b)
	if len(mrs) != 2 {
		t.Fatalf("%d requests", len(mrs))
	}
	for i, want := range []string{"LD", "OD"} {
		mr := mrs[i]
		if len(mr.DosageInstruction) != 1 || mr.DosageInstruction[0].Site == nil ||
			len(mr.DosageInstruction[0].Site.Coding) == 0 || mr.DosageInstruction[0].Site.Coding[0].Code != want ||
			mr.DosageInstruction[0].Site.Coding[0].System != v2Table+"0163" {
			t.Errorf("request %d: dosage %s, want site %s of v2-0163", i, toJSON(mr.DosageInstruction), want)
		}
	}
	if d := mrs[0].DosageInstruction; len(d) == 1 && (d[0].Route == nil || d[0].Route.Coding[0].Code != "IM") {
		t.Errorf("route: %s, want IM", toJSON(d[0].Route))
	}
	strictR4(t, marshal(t, b))
}
