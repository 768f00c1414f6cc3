package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestNotesAreNotTheObservations: in RDE_O11 an NTE
// after the RXE (or the RXO) is the prescription's, but one after an OBX
// belongs to that OBX (the OBSERVATION group: OBX, [{NTE}]), as in
// RDS_O13, where the dispense already leaves it alone. The weight the
// pharmacy dosed by, with the NTE saying how it was taken, put "weighed
// in clothes, estimate" on the MedicationRequest at the exchange as a
// note of the prescriber's.
func TestMedicationRequestNotesAreNotTheObservations(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-8|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-8^EHR|||||||20240316085500
RXE||1807627^Levetiracetam 500 MG Injection^RXNORM|500||mg^mg^UCUM
NTE|1||Infuse over 15 minutes.
TQ1|1||Q12H^Every 12 hours^HL70335
RXR|IV^Intravenous^HL70162
OBX|1|NM|29463-7^Body weight^LN||72|kg^kg^UCUM|||||F
NTE|1||Weighed in clothes, estimate.`
	mrs := entriesOf[fhir.MedicationRequest](mustConvert(t, testConverter(t), msg))
	if len(mrs) != 1 {
		t.Fatalf("%d requests", len(mrs))
	}
	if n := mrs[0].Note; len(n) != 1 || n[0].Text != "Infuse over 15 minutes." {
		t.Errorf("notes %s, want the RXE's NTE alone", toJSON(n))
	}
}
