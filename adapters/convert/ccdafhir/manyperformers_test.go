package ccdafhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestManyPerformersLinear: an Observation's and a DiagnosticReport's
// performers were kept once each by scanning those already kept for
// each one added, work growing with the square of one entry's
// performers, of which a document within the 32 MiB limit holds a few
// hundred thousand. The references compared must grow with the
// performers; each performer is still kept once.
func TestManyPerformersLinear(t *testing.T) {
	const n = 2000
	var perf strings.Builder
	for i := range n {
		fmt.Fprintf(&perf, `<performer><assignedEntity><id root="7.7.7" extension="p%d"/><assignedPerson><name><family>F%d</family></name></assignedPerson></assignedEntity></performer>
`, i, i)
	}
	// Each one twice.
	perfs := perf.String() + perf.String()
	obs := resultSection(`<value xsi:type="PQ" value="1" unit="mg"/>` + perfs)
	org := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="9.9.9" extension="org1"/>
  <code code="24357-6" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240301101500-0500"/>
  ` + perfs + `
 </organizer></entry>
</section></component>`
	checks := 0
	countRefChecks = func() { checks++ }
	defer func() { countRefChecks = nil }()
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", obs+org))
	if limit := 20 * n; checks > limit {
		t.Errorf("%d performers twice on two entries: %d references compared, want at most %d", n, checks, limit)
	}
	if len(got["Observation"]) != 1 || len(got["DiagnosticReport"]) != 1 {
		t.Fatalf("%d Observations, %d DiagnosticReports, want 1 each", len(got["Observation"]), len(got["DiagnosticReport"]))
	}
	if p := got["Observation"][0].(*fhir.Observation).Performer; len(p) != n {
		t.Errorf("Observation has %d performers, want %d", len(p), n)
	}
	if p := got["DiagnosticReport"][0].(*fhir.DiagnosticReport).Performer; len(p) != n {
		t.Errorf("DiagnosticReport has %d performers, want %d", len(p), n)
	}
}

// TestBloodPressurePerformersLinear: the blood pressure Observation takes
// the performers of its systolic and diastolic, each kept once by
// scanning those already taken: the square of a reading's performers.
func TestBloodPressurePerformersLinear(t *testing.T) {
	const n = 2000
	var perf strings.Builder
	for i := range n {
		fmt.Fprintf(&perf, `<performer><assignedEntity><id root="7.7.7" extension="p%d"/><assignedPerson><name><family>F%d</family></name></assignedPerson></assignedEntity></performer>
`, i, i)
	}
	sec := strings.ReplaceAll(bpSection, `<value xsi:type="PQ" value="132" unit="mm[Hg]"/>`, `<value xsi:type="PQ" value="132" unit="mm[Hg]"/>`+perf.String())
	sec = strings.ReplaceAll(sec, `<value xsi:type="PQ" value="86" unit="mm[Hg]"/>`, `<value xsi:type="PQ" value="86" unit="mm[Hg]"/>`+perf.String())
	checks := 0
	countRefChecks = func() { checks++ }
	defer func() { countRefChecks = nil }()
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	if limit := 20 * n; checks > limit {
		t.Errorf("%d performers on each of a reading's two: %d references compared, want at most %d", n, checks, limit)
	}
	for _, r := range got["Observation"] {
		if o := r.(*fhir.Observation); o.Code.Coding[0].Code == "85354-9" && len(o.Performer) != n {
			t.Errorf("blood pressure has %d performers, want %d", len(o.Performer), n)
		}
	}
}
