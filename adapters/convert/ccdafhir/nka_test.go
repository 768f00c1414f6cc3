package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// nkaSection is an allergy section whose one Allergy - Intolerance
// Observation is negated, with the allergy type value and the
// playingEntity code given, as HL7's C-CDA R2.1 CCD example writes "no
// known allergies" (value 419199007, substance 105590001 "Substance").
func nkaSection(value, substance string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
 <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="9.9.9" extension="conc1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN" negationInd="true">
   <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
   <id root="9.9.9" extension="nka1"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="` + value + `" codeSystem="2.16.840.1.113883.6.96"/>
   <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code code="` + substance + `" codeSystem="2.16.840.1.113883.6.96"/>
   </playingEntity></participantRole></participant>
  </observation></entryRelationship>
 </act></entry>
</section></component>`
}

// TestNoKnownAllergyWithAnySubstance: a negated allergy observation whose
// substance is the class "Substance" (or "Drug or medicament", "Food")
// says the patient has no known allergy of that kind. C-CDA on FHIR maps
// a negated populated substance to its negated concept: "no known
// allergy", confirmed. It reached the exchange as a refuted allergy to
// "Substance", which an allergy list shows as an allergy entry and no
// US Core client reads as NKA.
func TestNoKnownAllergyWithAnySubstance(t *testing.T) {
	for _, tc := range []struct {
		value, substance, want string
	}{
		{"419199007", "105590001", "716186003"}, // any substance: no known allergy
		{"416098002", "105590001", "409137002"}, // drug allergy, any substance: NKDA
		{"419199007", "410942007", "409137002"}, // any drug: NKDA
		{"419199007", "255620007", "429625007"}, // any food: NKFA
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", nkaSection(tc.value, tc.substance)))
		if len(got["AllergyIntolerance"]) != 1 {
			t.Fatalf("allergies = %d, want 1", len(got["AllergyIntolerance"]))
		}
		a := got["AllergyIntolerance"][0].(*fhir.AllergyIntolerance)
		if a.Code == nil || len(a.Code.Coding) != 1 || a.Code.Coding[0].Code != tc.want {
			t.Errorf("value %s, substance %s: code %+v, want %s", tc.value, tc.substance, a.Code, tc.want)
		}
		if v := a.VerificationStatus.Coding[0].Code; v != "confirmed" {
			t.Errorf("value %s, substance %s: verificationStatus %s, want confirmed", tc.value, tc.substance, v)
		}
	}

	// A named substance negated stays a refuted allergy to it.
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", nkaSection("419199007", "91936005")))
	a := got["AllergyIntolerance"][0].(*fhir.AllergyIntolerance)
	if a.Code.Coding[0].Code != "91936005" || a.VerificationStatus.Coding[0].Code != "refuted" {
		t.Errorf("penicillin refuted: code %+v, verification %+v", a.Code, a.VerificationStatus)
	}
}
