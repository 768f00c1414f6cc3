package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// notPregnantSection is HL7's approved CDA example "Not Pregnant"
// (HL7/CDA-Examples, social-history-not-pregnant): a Pregnancy
// Observation whose value is 77386006 Pregnant, negated.
const notPregnantSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.17" extension="2015-08-01"/>
 <code code="29762-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><observation negationInd="true" moodCode="EVN" classCode="OBS">
  <templateId root="2.16.840.1.113883.10.20.15.3.8"/>
  <id root="9.9.9" extension="preg1"/>
  <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
  <statusCode code="completed"/>
  <effectiveTime value="20110410"/>
  <value xsi:type="CD" code="77386006" displayName="pregnant" codeSystem="2.16.840.1.113883.6.96"/>
 </observation></entry>
</section></component>`

// TestNegatedObservationIsNoFinding: negationInd="true" denies an
// observation (CDA R2 Observation.negationInd); FHIR's Observation has
// no negation, so a negated observation written as converted says the
// opposite of the document (here: the patient is pregnant). It must not
// reach the exchange as a finding; it stays in the attached document
// and is counted as not converted.
func TestNegatedObservationIsNoFinding(t *testing.T) {
	got, res := convertReview(t, reviewDoc("d1", "s1", "", notPregnantSection))
	for _, x := range got["Observation"] {
		o := x.(*fhir.Observation)
		if o.ValueCodeableConcept != nil && len(o.ValueCodeableConcept.Coding) > 0 && o.ValueCodeableConcept.Coding[0].Code == "77386006" {
			t.Errorf("a negated Pregnancy Observation went out as the finding Pregnant: %+v", o)
		}
	}
	found := false
	for k := range res.Skipped {
		if strings.Contains(k, "negated observation 2.16.840.1.113883.10.20.15.3.8") {
			found = true
		}
	}
	if !found {
		t.Errorf("skipped = %v, want the negated observation counted", res.Skipped)
	}
}

// negatedReactionSection is an allergy to penicillin whose Reaction
// Observation (anaphylaxis) is negated: the patient had no anaphylaxis.
const negatedReactionSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
 <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="9.9.9" extension="aconc1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
   <id root="9.9.9" extension="allergy1"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96"/>
   <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code code="7980" displayName="Penicillin" codeSystem="2.16.840.1.113883.6.88"/>
   </playingEntity></participantRole></participant>
   <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN" negationInd="true">
    <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
    <id root="9.9.9" extension="rx1"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="39579001" displayName="Anaphylaxis" codeSystem="2.16.840.1.113883.6.96"/>
   </observation></entryRelationship>
   <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
    <id root="9.9.9" extension="rx2"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="247472004" displayName="Hives" codeSystem="2.16.840.1.113883.6.96"/>
   </observation></entryRelationship>
  </observation></entryRelationship>
 </act></entry>
</section></component>`

// TestNegatedReactionIsNoManifestation: a Reaction Observation with
// negationInd="true" says the reaction did not happen; as a reaction
// manifestation it told the exchange the patient had anaphylaxis.
func TestNegatedReactionIsNoManifestation(t *testing.T) {
	got, res := convertReview(t, reviewDoc("d1", "s1", "", negatedReactionSection))
	if len(got["AllergyIntolerance"]) != 1 {
		t.Fatalf("allergies = %d, want 1", len(got["AllergyIntolerance"]))
	}
	a := got["AllergyIntolerance"][0].(*fhir.AllergyIntolerance)
	var codes []string
	for _, rx := range a.Reaction {
		for _, m := range rx.Manifestation {
			for _, x := range m.Coding {
				codes = append(codes, x.Code)
			}
		}
	}
	if strings.Join(codes, ",") != "247472004" {
		t.Errorf("manifestations = %v, want only 247472004 (hives): the negated anaphylaxis is no reaction", codes)
	}
	if n := res.Skipped["48765-2 negated observation 2.16.840.1.113883.10.20.22.4.9"]; n != 1 {
		t.Errorf("skipped = %v, want the negated reaction counted", res.Skipped)
	}
}
