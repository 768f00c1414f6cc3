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

// TestDispenseObservations: RDS_O13's OBSERVATION group (the OBX after an
// RXD, with their NTE) was dropped; they are Observations the dispense
// names as its supportingInformation, as an RDE's are for its
// MedicationRequest, and the NTE before them stay the dispense's notes.
func TestDispenseObservations(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240405113000||RDS^O13^RDS_O13|RDS-61|P|2.5.1
PID|1||MRN100778^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Riley||20200101|F
ORC|RE|RX-61^SPRINGCLINIC|F-RX-61^SPRINGPHARM||CM
RXD|1|308191^amoxicillin 500 MG Oral Capsule^RXNORM|20240405112000|20|{cap}^capsule^UCUM
NTE|1||Generic substituted.
RXR|PO^Oral^HL70162
OBX|1|NM|29463-7^Body weight^LN||18.2|kg^kg^UCUM|||||F|||20240405
NTE|1||Weighed at the counter
ORC|RE|RX-62^SPRINGCLINIC|F-RX-62^SPRINGPHARM||CM
RXD|1|860975^Metformin hydrochloride 500 MG Oral Tablet^RXNORM|20240405112500|60|{tbl}^tablet^UCUM`
	b := mustConvert(t, testConverter(t), msg)
	mds := entriesOf[fhir.MedicationDispense](b)
	obs := entriesOf[fhir.Observation](b)
	if len(mds) != 2 || len(obs) != 1 {
		t.Fatalf("%d dispenses and %d observations, want 2 and 1", len(mds), len(obs))
	}
	o := obs[0]
	if len(mds[0].SupportingInformation) != 1 || mds[0].SupportingInformation[0].Reference != "Observation/"+o.ID {
		t.Errorf("first dispense's supportingInformation %s, want Observation/%s", toJSON(mds[0].SupportingInformation), o.ID)
	}
	if len(mds[1].SupportingInformation) != 0 {
		t.Errorf("second dispense's supportingInformation %s, want none", toJSON(mds[1].SupportingInformation))
	}
	if o.Code.Coding[0].Code != "29463-7" || o.ValueQuantity == nil || string(o.ValueQuantity.Value) != "18.2" {
		t.Errorf("observation %s", toJSON(o))
	}
	if len(o.Note) != 1 || o.Note[0].Text != "Weighed at the counter" {
		t.Errorf("observation notes %s", toJSON(o.Note))
	}
	if len(mds[0].Note) != 1 || mds[0].Note[0].Text != "Generic substituted." {
		t.Errorf("dispense notes %s", toJSON(mds[0].Note))
	}
	if len(mds[0].DosageInstruction) != 1 {
		t.Errorf("dispense route lost: %s", toJSON(mds[0].DosageInstruction))
	}
	strictR4(t, marshal(t, b))
}
