package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// problemStatusSection is a Problem Observation with a Problem Status
// Observation (4.6) of the given SNOMED value, and an effectiveTime high
// when high is not "".
func problemStatusSection(status, high string) string {
	h := ""
	if high != "" {
		h = `<high value="` + high + `"/>`
	}
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
 <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="9.9.9" extension="concern1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
   <id root="9.9.9" extension="prob1"/>
   <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="20200101"/>` + h + `</effectiveTime>
   <value xsi:type="CD" code="93143009" codeSystem="2.16.840.1.113883.6.96" displayName="Leukemia"/>
   <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.6" extension="2019-06-20"/>
    <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="` + status + `" codeSystem="2.16.840.1.113883.6.96"/>
   </observation></entryRelationship>
  </observation></entryRelationship>
 </act></entry>
</section></component>`
}

// TestProblemStatusRemission: C-CDA on FHIR's CF-ProblemStatus maps the
// Problem Status values Remission phase, Relapse phase and Recurrence to
// the Condition clinical statuses of those names; they were not read,
// and a leukemia in remission went out active. With an abatement date
// FHIR's con-4 allows only inactive, resolved or remission.
func TestProblemStatusRemission(t *testing.T) {
	for _, tc := range []struct{ status, high, want string }{
		{"277022003", "", "remission"},
		{"263855007", "", "relapse"},
		{"246455001", "", "recurrence"},
		{"277022003", "20230101", "remission"},
		{"246455001", "20230101", "resolved"},
		{"55561003", "", "active"},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", problemStatusSection(tc.status, tc.high)))
		if len(got["Condition"]) != 1 {
			t.Fatalf("conditions = %d, want 1", len(got["Condition"]))
		}
		c := got["Condition"][0].(*fhir.Condition)
		if st := c.ClinicalStatus.Coding[0].Code; st != tc.want {
			t.Errorf("status %s high %q: clinicalStatus = %q, want %q", tc.status, tc.high, st, tc.want)
		}
	}
}
