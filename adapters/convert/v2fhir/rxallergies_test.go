package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPharmacyAllergies: RDE_O11 and RDS_O13 carry the patient's
// allergies in their PATIENT group (AL1, before the first ORC), the ones
// a pharmacist checks the drug against; ferry converted them in an ORM or
// OML but dropped them from a pharmacy order or dispense, so the
// exchange never learnt of a penicillin allergy sent with the amoxicillin
// order. They are AllergyIntolerances as an ADT's or an order's are, the
// same resource the ADT writes.
func TestPharmacyAllergies(t *testing.T) {
	const head = `PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
AL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives
ORC|NW|RX-51^EHR|||||||20240316085500
`
	const rde = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|PHARM|PHARM|20240316090000||RDE^O11^RDE_O11|RDE-51|P|2.5.1
` + head + `RXE||308191^amoxicillin 500 MG Oral Capsule^RXNORM|1||{cap}^capsule^UCUM`
	const rds = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDS^O13^RDS_O13|RDS-51|P|2.5.1
` + head + `RXD|1|308191^amoxicillin 500 MG Oral Capsule^RXNORM|20240316093000|20|{cap}^capsule^UCUM`
	const adt = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||ADT^A08^ADT_A01|ADT-51|P|2.5.1
EVN|A08|20240316085955
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
AL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives`
	c := testConverter(t)
	fromADT := entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, adt))
	if len(fromADT) != 1 {
		t.Fatalf("%d allergies from the ADT", len(fromADT))
	}
	for name, msg := range map[string]string{"RDE": rde, "RDS": rds} {
		b := mustConvert(t, c, msg)
		got := entriesOf[fhir.AllergyIntolerance](b)
		if len(got) != 1 || got[0].Code.Coding[0].Code != "7980" || got[0].ID != fromADT[0].ID {
			t.Errorf("%s: allergies %s, want the penicillin allergy AllergyIntolerance/%s", name, toJSON(got), fromADT[0].ID)
		}
		strictR4(t, marshal(t, b))
	}
}
