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
