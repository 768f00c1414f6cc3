package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// procedureSection is a Procedures section with one Procedure Activity
// Procedure of status completed whose code and effectiveTime are the XML
// given.
func procedureSection(code, when string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.7.1" extension="2014-06-09"/>
 <code code="47519-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
  <id root="9.9.9" extension="proc1"/>
  ` + code + `
  <statusCode code="completed"/>
  ` + when + `
 </procedure></entry>
</section></component>`
}

// TestProcedureWithoutTimeOrCode: US Core 6.1 Procedure (HTI-1's) makes
// code 1..1 and has us-core-7 "Performed SHALL be present if the status
// is 'completed' or 'in-progress'", but C-CDA's Procedure Activity
// Procedure only SHOULD have an effectiveTime, and its code may be a
// nullFlavor: such a procedure went out completed with no performed[x]
// and no code, which a validating exchange refuses, failing the whole
// document's transaction. A missing time is now _performedDateTime and a
// missing code the code, each with data-absent-reason unknown, as US
// Core's Missing Data rule says; what the document gives is kept.
func TestProcedureWithoutTimeOrCode(t *testing.T) {
	const code = `<code code="80146002" codeSystem="2.16.840.1.113883.6.96" displayName="Appendectomy"/>`
	for _, tc := range []struct {
		name, code, when string
		wantCode, want   string
	}{
		{"no effectiveTime", code, ``, "80146002", `"_performedDateTime":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}`},
		{"effectiveTime nullFlavor", code, `<effectiveTime nullFlavor="UNK"/>`, "80146002", `"_performedDateTime":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}`},
		{"code nullFlavor", `<code nullFlavor="UNK"/>`, `<effectiveTime value="20230105"/>`, "unknown", `"performedDateTime":"2023-01-05"`},
		{"both given", code, `<effectiveTime value="20230105"/>`, "80146002", `"performedDateTime":"2023-01-05"`},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", procedureSection(tc.code, tc.when)))
		if len(got["Procedure"]) != 1 {
			t.Fatalf("%s: procedures = %d, want 1", tc.name, len(got["Procedure"]))
		}
		p := got["Procedure"][0].(*fhir.Procedure)
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(js), tc.want) {
			t.Errorf("%s: %s\nwant it to hold %s", tc.name, js, tc.want)
		}
		if strings.Contains(string(js), `"_performedDateTime"`) && (p.PerformedDateTime != "" || p.PerformedPeriod != nil) {
			t.Errorf("%s: a data-absent-reason beside a performed time: %s", tc.name, js)
		}
		if p.Code == nil || len(p.Code.Coding) == 0 || p.Code.Coding[0].Code != tc.wantCode {
			t.Errorf("%s: code = %+v, want %s", tc.name, p.Code, tc.wantCode)
		}
	}
}
