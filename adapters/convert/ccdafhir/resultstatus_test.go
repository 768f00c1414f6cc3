package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// heldResultSection is a Result Organizer whose statusCode is held and
// whose one Result Observation is suspended.
const heldResultSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="9.9.9" extension="org1"/>
  <code code="24357-6" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="held"/>
  <effectiveTime value="20240101101500-0500"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="9.9.9" extension="res1"/>
   <code code="5802-4" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="suspended"/>
   <effectiveTime value="20240101101500-0500"/>
   <value xsi:type="CD" code="260385009" codeSystem="2.16.840.1.113883.6.96"/>
  </observation></component>
 </organizer></entry>
</section></component>`

// TestHeldResultIsNotFinal: C-CDA on FHIR's CF-ResultStatus and
// CF-ResultReportStatus map a result's statusCode held and suspended to
// registered; they fell through to final, a verified result.
func TestHeldResultIsNotFinal(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", heldResultSection))
	if len(got["Observation"]) != 1 || len(got["DiagnosticReport"]) != 1 {
		t.Fatalf("observations = %d, reports = %d, want 1 and 1", len(got["Observation"]), len(got["DiagnosticReport"]))
	}
	if st := got["Observation"][0].(*fhir.Observation).Status; st != "registered" {
		t.Errorf("suspended result: Observation.status = %q, want registered", st)
	}
	if st := got["DiagnosticReport"][0].(*fhir.DiagnosticReport).Status; st != "registered" {
		t.Errorf("held organizer: DiagnosticReport.status = %q, want registered", st)
	}
}
