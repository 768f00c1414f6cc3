package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestKeepsItsDates: a Medication Activity written as a
// MedicationRequest keeps its effectiveTime (from when to when the
// medicine is to be taken) as dosageInstruction.timing.repeat.boundsPeriod,
// but only when the activity also gave a dose, route, frequency or
// instruction: an order of 20240301 to 20240310 that gives none of them
// (its doseQuantity a nullFlavor) reached the exchange without either
// date. It now has a dosage instruction holding the dates alone.
func TestMedicationRequestKeepsItsDates(t *testing.T) {
	section := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="INT">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="med1"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240301"/><high value="20240310"/></effectiveTime>
  <doseQuantity nullFlavor="UNK"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <manufacturedMaterial><code code="197380" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", section))
	if len(got["MedicationRequest"]) != 1 {
		t.Fatalf("medication requests = %d, want 1", len(got["MedicationRequest"]))
	}
	mr := got["MedicationRequest"][0].(*fhir.MedicationRequest)
	if len(mr.DosageInstruction) != 1 || mr.DosageInstruction[0].Timing == nil || mr.DosageInstruction[0].Timing.Repeat == nil ||
		mr.DosageInstruction[0].Timing.Repeat.BoundsPeriod == nil {
		t.Fatalf("dosageInstruction = %+v, want the effectiveTime as boundsPeriod", mr.DosageInstruction)
	}
	if p := mr.DosageInstruction[0].Timing.Repeat.BoundsPeriod; p.Start != "2024-03-01" || p.End != "2024-03-10" {
		t.Errorf("boundsPeriod = %+v, want 2024-03-01 to 2024-03-10", p)
	}
}
