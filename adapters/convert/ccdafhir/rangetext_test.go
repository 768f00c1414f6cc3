package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestReferenceRangeTextFromNarrative: a Result Observation's
// referenceRange/observationRange/text, like its other text, may point
// at the section's narrative (<reference value="#rr1"/>), the only form
// a qualitative test's range takes ("Negative"), and C-CDA on FHIR maps
// it to referenceRange.text. ferry resolved originalText references of
// codes and values but not this one, so a range given by reference
// alone was dropped and the exchange saw a positive urine culture with
// no range to read it against; its text is now the narrative's.
func TestReferenceRangeTextFromNarrative(t *testing.T) {
	sec := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <text><table><tr><td ID="res1">Positive</td><td ID="rr1">Negative</td></tr></table></text>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="7.7.7" extension="org1"/>
  <code code="24357-6" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101083000-0500"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="7.7.7" extension="obs1"/>
   <code code="5802-4" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101083000-0500"/>
   <value xsi:type="CD" code="10828004" codeSystem="2.16.840.1.113883.6.96"><originalText><reference value="#res1"/></originalText></value>
   <referenceRange><observationRange><text><reference value="#rr1"/></text></observationRange></referenceRange>
  </observation></component>
 </organizer></entry>
</section></component>`
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	if n := len(got["Observation"]); n != 1 {
		t.Fatalf("%d Observations, want 1", n)
	}
	o := got["Observation"][0].(*fhir.Observation)
	if o.ValueCodeableConcept == nil || o.ValueCodeableConcept.Text != "Positive" {
		t.Errorf("value %+v, want its text Positive", o.ValueCodeableConcept)
	}
	if len(o.ReferenceRange) != 1 || o.ReferenceRange[0].Text != "Negative" {
		t.Errorf("referenceRange %+v, want one of text Negative", o.ReferenceRange)
	}
}
