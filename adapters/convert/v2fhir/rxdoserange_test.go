package v2fhir

import (
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestVariableDose: RXE-3 is "in a variable dose order
// ... the minimum ordered amount" and RXE-4 "the maximum ordered amount"
// (HL7 v2.5.1 chapter 4A, RXE). An order for 1 to 2 tablets went to the
// exchange as a doseQuantity of 1 tablet, the maximum dropped; it is a
// doseRange from the one to the other, in RXE-5's units, and a dose
// without RXE-4 (a nonvarying one) is the doseQuantity it was.
func TestMedicationRequestVariableDose(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-9|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-9^EHR|||||||20240316085500
RXE||857005^Acetaminophen 325 MG / Hydrocodone Bitartrate 5 MG Oral Tablet^RXNORM|1|2|{tbl}^tablet^UCUM
TQ1|1||Q6H^Every 6 hours^HL70335
RXR|PO^Oral^HL70162
ORC|NW|RX-10^EHR|||||||20240316085500
RXE||860975^Metformin hydrochloride 500 MG Oral Tablet^RXNORM|500||mg^mg^UCUM
TQ1|1||BID^Twice a day^HL70335
RXR|PO^Oral^HL70162`
	mrs := entriesOf[fhir.MedicationRequest](mustConvert(t, testConverter(t), msg))
	if len(mrs) != 2 {
		t.Fatalf("%d requests", len(mrs))
	}
	dose := func(mr *fhir.MedicationRequest) fhir.DosageDoseAndRate {
		if len(mr.DosageInstruction) != 1 || len(mr.DosageInstruction[0].DoseAndRate) != 1 {
			t.Fatalf("dosage %s", toJSON(mr.DosageInstruction))
		}
		return mr.DosageInstruction[0].DoseAndRate[0]
	}
	d := dose(mrs[0])
	if d.DoseQuantity != nil || d.DoseRange == nil || d.DoseRange.Low == nil || d.DoseRange.High == nil ||
		d.DoseRange.Low.Value != "1" || d.DoseRange.High.Value != "2" || d.DoseRange.High.Code != "{tbl}" {
		t.Errorf("1 to 2 tablets: %s, want doseRange 1-2 {tbl}", toJSON(d))
	}
	d = dose(mrs[1])
	if d.DoseRange != nil || d.DoseQuantity == nil || d.DoseQuantity.Value != "500" || d.DoseQuantity.Code != "mg" {
		t.Errorf("500 mg: %s, want doseQuantity 500 mg", toJSON(d))
	}
	strictR4(t, marshal(t, mustConvert(t, testConverter(t), msg)))
}

// TestMedicationRequestDoseRangeReversed: an RXE whose minimum dose
// (RXE-3) is above its maximum (RXE-4) was written as a doseRange
// breaking FHIR R4 rng-2 ("If present, low SHALL have a lower value than
// high"), and the exchange refused the order after ferry's AA. The dose
// is the order's instruction, and which amount is wrong the message does
// not say: it is refused, naming RXE-4, to be corrected.
func TestMedicationRequestDoseRangeReversed(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-19|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-19^EHR|||||||20240316085500
RXE||857005^Acetaminophen 325 MG / Hydrocodone Bitartrate 5 MG Oral Tablet^RXNORM|2|1|{tbl}^tablet^UCUM
TQ1|1||Q6H^Every 6 hours^HL70335`
	b, _, err := testConverter(t).ConvertRaw([]byte(msg))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "RXE-4" {
		var r *fhir.Range
		if err == nil {
			for _, mr := range entriesOf[fhir.MedicationRequest](b) {
				if len(mr.DosageInstruction) > 0 && len(mr.DosageInstruction[0].DoseAndRate) > 0 {
					r = mr.DosageInstruction[0].DoseAndRate[0].DoseRange
				}
			}
		}
		t.Errorf("err %v, doseRange %s, want a content error naming RXE-4", err, toJSON(r))
	}
}
