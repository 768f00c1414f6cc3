package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// concernProblemSection is a Problem Concern Act of the given statusCode
// holding an asthma Problem Observation with an onset and no end, and no
// Problem Status Observation: the concern's status is all that says
// whether the problem is current.
func concernProblemSection(status string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
 <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="9.9.9" extension="concern1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="` + status + `"/>
  <effectiveTime><low value="20200101"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
   <id root="9.9.9" extension="prob1"/>
   <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="20200101"/></effectiveTime>
   <value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/>
  </observation></entryRelationship>
 </act></entry>
</section></component>`
}

// TestAbortedConcernIsNotActive: "aborted" is one of the four codes of
// C-CDA's ProblemAct statusCode value set (2.16.840.1.113883.11.20.9.19),
// which both the Problem and the Allergy Concern Act take, and C-CDA on
// FHIR's CF-ConditionClinicalStatus maps it, as suspended and completed,
// to inactive: the clinician stopped tracking the concern. Without a
// status observation or an end date a problem or an allergy under an
// aborted concern went out clinicalStatus active, a current diagnosis
// or allergy at the exchange.
func TestAbortedConcernIsNotActive(t *testing.T) {
	for _, tc := range []struct{ status, want string }{
		{"aborted", "inactive"},
		{"suspended", "inactive"},
		{"completed", "resolved"},
		{"active", "active"},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", concernProblemSection(tc.status)))
		if len(got["Condition"]) != 1 {
			t.Fatalf("conditions = %d, want 1", len(got["Condition"]))
		}
		if st := got["Condition"][0].(*fhir.Condition).ClinicalStatus.Coding[0].Code; st != tc.want {
			t.Errorf("problem concern %s: clinicalStatus = %q, want %q", tc.status, st, tc.want)
		}
	}
	for _, tc := range []struct{ status, want string }{
		{"aborted", "inactive"},
		{"suspended", "inactive"},
		{"completed", "inactive"},
		{"active", "active"},
	} {
		sec := strings.Replace(allergyEndSection("", ""), `<statusCode code="active"/>`, `<statusCode code="`+tc.status+`"/>`, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		if len(got["AllergyIntolerance"]) != 1 {
			t.Fatalf("allergies = %d, want 1", len(got["AllergyIntolerance"]))
		}
		if st := got["AllergyIntolerance"][0].(*fhir.AllergyIntolerance).ClinicalStatus.Coding[0].Code; st != tc.want {
			t.Errorf("allergy concern %s: clinicalStatus = %q, want %q", tc.status, st, tc.want)
		}
	}
}
