package ccdafhir

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// institutionSection holds Medication Activities whose frequency is a
// PIVL_TS as HL7's Pharmacy work group writes them (CDA Examples,
// Medication Frequency): institutionSpecified="true" for so many times a
// day at the times the institution keeps, without it for fixed intervals.
const institutionSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="bid"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240101"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="12" unit="h"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial><code code="197380" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
 </substanceAdministration></entry>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="tid"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240101"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="0.3333" unit="d"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial><code code="197381" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
 </substanceAdministration></entry>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="q12h"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240101"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" operator="A"><period value="12" unit="h"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial><code code="197382" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
 </substanceAdministration></entry>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="weekly"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240101"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="1" unit="wk"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><manufacturedMaterial><code code="197383" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`

// TestInstitutionSpecifiedIsTimesADay: a PIVL_TS with
// institutionSpecified="true" is so many times a day at the times the
// institution keeps, not a fixed interval (HL7 Pharmacy WG, CDA Examples:
// "true = schedule based on episodes (e.g., TID = three times per
// day) ... false / not present = fixed intervals (e.g., Q8H = every 8
// hours)"; HL7's own Discharge_Summary.xml: "it can be given 4 times per
// day but need not be exactly timed to every 6 hours"). The attribute
// was read and dropped, so a BID went to the exchange as every 12 hours
// and the corpus's "take 1 tablet QID PRN" as every 6 hours. FHIR R4's
// Timing has BID as frequency 2, period 1, periodUnit d and Q12H as
// frequency 1, period 12, periodUnit h; a fixed interval keeps that form,
// and a period of a day or more is the same either way.
func TestInstitutionSpecifiedIsTimesADay(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", institutionSection))
	want := map[string]string{"bid": "2 per 1 d", "tid": "3 per 1 d", "q12h": "1 per 12 h", "weekly": "1 per 1 wk"}
	if len(got["MedicationStatement"]) != len(want) {
		t.Fatalf("medication statements = %d, want %d", len(got["MedicationStatement"]), len(want))
	}
	for _, x := range got["MedicationStatement"] {
		ms := x.(*fhir.MedicationStatement)
		id := ms.Identifier[0].Value
		if s := repeatOf(ms.Dosage); s != want[id] {
			t.Errorf("%s: timing %s, want %s", id, s, want[id])
		}
	}

	// HL7's Discharge Summary: ibuprofen "take 1 tablet QID PRN".
	raw, err := os.ReadFile(filepath.Join(corpusDir, "Discharge_Summary.xml"))
	if err != nil {
		t.Skip("corpus not present at " + corpusDir)
	}
	b, _, err := ConvertBytes(raw, Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range b.Entry {
		if mr, ok := e.Resource.(*fhir.MedicationRequest); ok {
			n++
			if s := repeatOf(mr.DosageInstruction); s != "4 per 1 d" {
				t.Errorf("Discharge_Summary.xml: the QID medication's timing is %s, want 4 per 1 d", s)
			}
		}
	}
	if n != 1 {
		t.Errorf("Discharge_Summary.xml: %d MedicationRequests, want 1", n)
	}
}

// repeatOf renders the first dosage's timing.repeat as "frequency per
// period unit".
func repeatOf(ds []fhir.Dosage) string {
	if len(ds) == 0 || ds[0].Timing == nil || ds[0].Timing.Repeat == nil {
		return "none"
	}
	rp := ds[0].Timing.Repeat
	return fmt.Sprintf("%d per %s %s", rp.Frequency, rp.Period, rp.PeriodUnit)
}
