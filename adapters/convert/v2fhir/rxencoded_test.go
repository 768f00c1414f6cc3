package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestEncodedRouteAndTiming: an RDE_O11 may carry the
// order as placed (its TIMING TQ1 after the ORC, its ORDER_DETAIL RXO
// with the RXR asked for) before the pharmacy's encoding of it (RXE, with
// its TIMING_ENCODED TQ1 and RXR, required). The MedicationRequest is
// the RXE's (its medication and dose), so its route and timing are the
// RXE's too: a pharmacist who made an every-6-hours oral order every 12
// hours intravenous (a patient who may take nothing by mouth) wrote a
// request for the RXE's injection at the order's oral route and its
// every 6 hours.
func TestMedicationRequestEncodedRouteAndTiming(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-7|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-7^EHR|||||||20240316085500
TQ1|1||Q6H^Every 6 hours^HL70335
RXO|311289^Levetiracetam 500 MG Oral Tablet^RXNORM|500||mg^mg^UCUM
RXR|PO^Oral^HL70162
RXE||1807627^Levetiracetam 500 MG Injection^RXNORM|500||mg^mg^UCUM
TQ1|1||Q12H^Every 12 hours^HL70335
RXR|IV^Intravenous^HL70162`
	mrs := entriesOf[fhir.MedicationRequest](mustConvert(t, testConverter(t), msg))
	if len(mrs) != 1 || len(mrs[0].DosageInstruction) != 1 {
		t.Fatalf("requests %s", toJSON(mrs))
	}
	d := mrs[0].DosageInstruction[0]
	if d.Route == nil || len(d.Route.Coding) == 0 || d.Route.Coding[0].Code != "IV" {
		t.Errorf("route %s, want the RXE's RXR (IV)", toJSON(d.Route))
	}
	if d.Timing == nil || d.Timing.Code == nil || len(d.Timing.Code.Coding) == 0 || d.Timing.Code.Coding[0].Code != "Q12H" {
		t.Errorf("timing %s, want the RXE's TQ1 (Q12H)", toJSON(d.Timing))
	}
}
