package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestProblemTypeIsNoProblemCode: a Problem Observation's code is the
// problem's type (Problem Type value set: 282291009 Diagnosis, 55607006
// Problem, R2.1's LOINC 29308-4 Diagnosis, 75321-0 Clinical finding...);
// its value is the problem. A problem whose value is a nullFlavor with no
// code or text (the EHR could not code it) went out as a Condition coded
// "Diagnosis" or "Clinical finding", a problem of that name on the
// patient's list; one whose code was a nullFlavor as well went out with
// no code, which US Core's Condition.code 1..1 refuses. Both now carry
// data-absent-reason unknown; a code that is not a problem type (an R1.1
// vendor's problem coded there) is still taken.
func TestProblemTypeIsNoProblemCode(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{`<code code="282291009" codeSystem="2.16.840.1.113883.6.96" displayName="Diagnosis"/>`, "unknown"},
		{`<code code="55607006" codeSystem="2.16.840.1.113883.6.96" displayName="Problem"/>`, "unknown"},
		{`<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" displayName="Diagnosis"/>`, "unknown"},
		{`<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" displayName="Clinical finding"/>`, "unknown"},
		{`<code code="64572001" codeSystem="2.16.840.1.113883.6.96"><translation code="75323-6" codeSystem="2.16.840.1.113883.6.1"/></code>`, "unknown"},
		{`<code nullFlavor="UNK"/>`, "unknown"},
		{`<code code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/>`, "195967001"},
	} {
		section := strings.Replace(strings.Replace(problemSection,
			`<code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>`, tc.code, 1),
			`<value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/>`, `<value xsi:type="CD" nullFlavor="UNK"/>`, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", section))
		if len(got["Condition"]) != 1 {
			t.Fatalf("conditions = %d, want 1", len(got["Condition"]))
		}
		c := got["Condition"][0].(*fhir.Condition)
		if c.Code == nil || len(c.Code.Coding) == 0 || c.Code.Coding[0].Code != tc.want {
			t.Errorf("code %s, value nullFlavor UNK: Condition.code = %+v, want %s", tc.code, c.Code, tc.want)
		}
	}
}
