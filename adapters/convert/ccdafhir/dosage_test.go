package ccdafhir

import (
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// rangeFrequencySection is C-CDA on FHIR's own Medication Activity
// example (CF-medications): every 4 to 6 hours, a PIVL_TS whose period
// is an IVL_PQ.
const rangeFrequencySection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="med1"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20120806"/><high nullFlavor="UNK"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" operator="A"><period xsi:type="IVL_PQ"><low value="4" unit="h"/><high value="6" unit="h"/></period></effectiveTime>
  <doseQuantity value="1"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <manufacturedMaterial><code code="573621" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`

// TestFrequencyRange: C-CDA on FHIR maps a PIVL_TS period with low and
// high (every 4 to 6 hours) to Timing.repeat.period (low) and periodMax
// (high); the dosage went out with no timing at all.
func TestFrequencyRange(t *testing.T) {
	doc := reviewDoc("d1", "s1", "", rangeFrequencySection)
	got, _ := convertReview(t, doc)
	if len(got["MedicationStatement"]) != 1 {
		t.Fatalf("medication statements = %d, want 1", len(got["MedicationStatement"]))
	}
	ms := got["MedicationStatement"][0].(*fhir.MedicationStatement)
	if len(ms.Dosage) != 1 || ms.Dosage[0].Timing == nil || ms.Dosage[0].Timing.Repeat == nil {
		t.Fatalf("dosage = %+v, want a timing", ms.Dosage)
	}
	rp := ms.Dosage[0].Timing.Repeat
	if rp.Frequency != 1 || rp.Period != "4" || rp.PeriodMax != "6" || rp.PeriodUnit != "h" {
		t.Errorf("repeat = frequency %d period %s periodMax %s unit %q, want 1 every 4 to 6 h", rp.Frequency, rp.Period, rp.PeriodMax, rp.PeriodUnit)
	}
	b, _, err := ConvertBytes([]byte(doc), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictR4(js); err != nil {
		t.Errorf("strict R4: %v", err)
	}
}
