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

// prnSection is a Medication Activity taken as needed: HL7's R2.1 CCD
// example (albuterol every 6 hours when wheezing) and, second, a
// precondition without a coded criterion (HL7's Discharge Summary
// example: "nullFlavor NI when PRN specified but without precondition").
const prnSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="prn1"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20110103"/></effectiveTime>
  <effectiveTime xsi:type="PIVL_TS" institutionSpecified="true" operator="A"><period value="6" unit="h"/></effectiveTime>
  <doseQuantity value="2"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <manufacturedMaterial><code code="573621" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
  <precondition typeCode="PRCN"><criterion>
   <templateId root="2.16.840.1.113883.10.20.22.4.25" extension="2014-06-09"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <value xsi:type="CD" code="56018004" codeSystem="2.16.840.1.113883.6.96" displayName="Wheezing"/>
  </criterion></precondition>
 </substanceAdministration></entry>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="prn2"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20110103"/></effectiveTime>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <manufacturedMaterial><code code="197806" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
  <precondition typeCode="PRCN"><criterion>
   <templateId root="2.16.840.1.113883.10.20.22.4.25" extension="2014-06-09"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <value xsi:type="CD" nullFlavor="NI"/>
  </criterion></precondition>
 </substanceAdministration></entry>
</section></component>`

// TestPreconditionIsAsNeeded: C-CDA on FHIR maps a Medication
// Activity's precondition to Dosage.asNeeded (true; the criterion's code
// is the reason it is taken for). Without it a medicine taken when
// wheezing went out as a fixed schedule, every 6 hours.
func TestPreconditionIsAsNeeded(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", prnSection))
	if len(got["MedicationStatement"]) != 2 {
		t.Fatalf("medication statements = %d, want 2", len(got["MedicationStatement"]))
	}
	for _, x := range got["MedicationStatement"] {
		ms := x.(*fhir.MedicationStatement)
		if len(ms.Dosage) != 1 {
			t.Errorf("%s: dosage = %+v, want one, as needed", ms.Identifier[0].Value, ms.Dosage)
			continue
		}
		d := ms.Dosage[0]
		switch ms.Identifier[0].Value {
		case "prn1":
			if d.AsNeeded != nil || d.AsNeededFor == nil || len(d.AsNeededFor.Coding) == 0 || d.AsNeededFor.Coding[0].Code != "56018004" {
				t.Errorf("prn1: asNeeded = %v, asNeededCodeableConcept = %+v, want wheezing 56018004", d.AsNeeded, d.AsNeededFor)
			}
		case "prn2":
			if d.AsNeeded == nil || !*d.AsNeeded || d.AsNeededFor != nil {
				t.Errorf("prn2: asNeeded = %v, asNeededCodeableConcept = %+v, want asNeededBoolean true", d.AsNeeded, d.AsNeededFor)
			}
		}
	}
}

// maxDoseSection is C-CDA on FHIR's Medication Activity example's
// maxDoseQuantity: at most 6 sprays a day.
const maxDoseSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="max1"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20120806"/></effectiveTime>
  <doseQuantity value="1"/>
  <maxDoseQuantity><numerator value="6" unit="{spray}"/><denominator value="1" unit="d"/></maxDoseQuantity>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <manufacturedMaterial><code code="573621" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`

// TestMaxDosePerPeriod: C-CDA on FHIR maps maxDoseQuantity's numerator
// and denominator to Dosage.maxDosePerPeriod; the limit was dropped.
func TestMaxDosePerPeriod(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", maxDoseSection))
	if len(got["MedicationStatement"]) != 1 {
		t.Fatalf("medication statements = %d, want 1", len(got["MedicationStatement"]))
	}
	ms := got["MedicationStatement"][0].(*fhir.MedicationStatement)
	if len(ms.Dosage) != 1 || ms.Dosage[0].MaxPerPer == nil {
		t.Fatalf("dosage = %+v, want maxDosePerPeriod", ms.Dosage)
	}
	r := ms.Dosage[0].MaxPerPer
	if r.Numerator == nil || r.Denominator == nil || r.Numerator.Value != "6" || r.Numerator.Unit != "{spray}" ||
		r.Denominator.Value != "1" || r.Denominator.Code != "d" {
		t.Errorf("maxDosePerPeriod = %+v / %+v, want 6 {spray} per 1 d", r.Numerator, r.Denominator)
	}
}
