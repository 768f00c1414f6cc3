package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// nullMember is a Result Observation standing for none, as EHRs write a
// battery's test that was not reported: C-CDA's nullFlavor="NI" on the
// statement says "no information", so it asserts nothing.
const nullMember = `<component><observation classCode="OBS" moodCode="EVN" nullFlavor="NI">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id nullFlavor="NI"/><code nullFlavor="NI"/><statusCode code="completed"/>
  </observation></component>
 </organizer>`

// TestOrganizerMemberNullFlavorNotAFact: an entry whose statement is
// nullFlavor NI is no fact and is counted as not converted, but an
// observation so written among a Result Organizer's (or Vital Signs
// Organizer's) components became an Observation of code "unknown",
// status final and no value, listed in the DiagnosticReport's results
// (or the vital signs panel's members): the exchange got a final lab
// result (or vital sign) that says nothing, one more each time the
// document was sent with another. It is now left out and counted, as
// the same statement standing as an entry is.
func TestOrganizerMemberNullFlavorNotAFact(t *testing.T) {
	results := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="7.7.7" extension="org1"/>
  <code code="58410-2" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101083000-0500"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="7.7.7" extension="obs1"/>
   <code code="789-8" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101083000-0500"/>
   <value xsi:type="PQ" value="5.2" unit="10*6/uL"/>
  </observation></component>
  ` + nullMember + `</entry>
</section></component>`
	vitals := strings.Replace(vitalsSection, ` </organizer>`, "  "+nullMember, 1)
	got, res := convertReview(t, reviewDoc("d1", "s1", "", results+vitals))
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		for _, x := range o.Code.Coding {
			if x.System == fhir.DataAbsentReasonSystem {
				t.Errorf("Observation %s made of a nullFlavor NI statement: %+v", o.ID, o)
			}
		}
	}
	if n := len(got["DiagnosticReport"]); n != 1 {
		t.Fatalf("%d DiagnosticReports", n)
	}
	if r := got["DiagnosticReport"][0].(*fhir.DiagnosticReport).Result; len(r) != 1 {
		t.Errorf("DiagnosticReport results %v, want the one observation reported", r)
	}
	// weight, and the panel
	if n := len(got["Observation"]); n != 3 {
		t.Errorf("%d Observations, want 3 (the result, the weight, the panel)", n)
	}
	if res.Skipped["30954-2 observation nullFlavor"] != 1 || res.Skipped["8716-3 observation nullFlavor"] != 1 {
		t.Errorf("Skipped %v, want each nullFlavor observation counted under its section", res.Skipped)
	}
}
