package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPharmacyOrderObservations: RDE_O11's OBSERVATION group (OBX after
// the RXE) carries what the dose was worked out from: the weight of a
// child's weight-based dose, the creatinine of a renally adjusted one.
// ferry dropped those OBX (only keeping their NTE off the prescription),
// so the exchange had the dose and not the weight it rests on. They are
// Observations, the MedicationRequest's supportingInformation, keyed by
// the order as an ORM's order detail OBX are (its supportingInfo), with
// their NTE as notes.
func TestPharmacyOrderObservations(t *testing.T) {
	const msg = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|PHARM|PHARM|20240316090000||RDE^O11^RDE_O11|RDE-52|P|2.5.1
PID|1||MRN100778^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Riley||20200101|F
ORC|NW|RX-52^EHR|||||||20240316085500
RXE||308191^amoxicillin 500 MG Oral Capsule^RXNORM|1||{cap}^capsule^UCUM
NTE|1||Take with food
OBX|1|NM|29463-7^Body weight^LN||18.2|kg^kg^UCUM|||||F|||20240316
NTE|1||Weighed in clinic today`
	b := mustConvert(t, testConverter(t), msg)
	mrs := entriesOf[fhir.MedicationRequest](b)
	obs := entriesOf[fhir.Observation](b)
	if len(mrs) != 1 || len(obs) != 1 {
		t.Fatalf("%d requests and %d observations, want 1 and 1", len(mrs), len(obs))
	}
	mr, o := mrs[0], obs[0]
	if len(mr.SupportingInformation) != 1 || mr.SupportingInformation[0].Reference != "Observation/"+o.ID {
		t.Errorf("supportingInformation %s, want Observation/%s", toJSON(mr.SupportingInformation), o.ID)
	}
	if o.Code.Coding[0].Code != "29463-7" || o.ValueQuantity == nil || string(o.ValueQuantity.Value) != "18.2" {
		t.Errorf("observation %s", toJSON(o))
	}
	if len(o.Note) != 1 || o.Note[0].Text != "Weighed in clinic today" {
		t.Errorf("observation notes %s", toJSON(o.Note))
	}
	if len(mr.Note) != 1 || mr.Note[0].Text != "Take with food" {
		t.Errorf("prescription notes %s", toJSON(mr.Note))
	}
	strictR4(t, marshal(t, b))
}
