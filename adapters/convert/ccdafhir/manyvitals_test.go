package ccdafhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// vitalsReadings is a Vital Signs Organizer without a time of its own
// holding n blood pressure readings, systolic and diastolic each at the
// reading's minute, the diastolics listed in the reverse order.
func vitalsReadings(n int) string {
	member := func(code, ext string, minute, value int) string {
		return fmt.Sprintf(`<component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
   <id root="9.9.9" extension="%s"/>
   <code code="%s" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <effectiveTime value="2024010109%02d%02d-0500"/>
   <value xsi:type="PQ" value="%d" unit="mm[Hg]"/>
  </observation></component>
`, ext, code, minute/60, minute%60, value)
	}
	var b strings.Builder
	b.WriteString(`<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.4.1" extension="2015-08-01"/>
 <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.26" extension="2015-08-01"/>
  <id root="9.9.9" extension="vorg1"/>
  <statusCode code="completed"/>
`)
	for i := range n {
		b.WriteString(member("8480-6", fmt.Sprint("sys", i), i, 100+i%50))
	}
	for i := n - 1; i >= 0; i-- {
		b.WriteString(member("8462-4", fmt.Sprint("dia", i), i, 60+i%30))
	}
	b.WriteString(" </organizer></entry>\n</section></component>")
	return b.String()
}

// TestManyVitalsLinear: a Vital Signs Organizer's blood pressures were
// paired by trying every diastolic against every systolic, and each try
// found both Observations by scanning the bundle's Observations from
// the end: work growing with the cube of the readings in one organizer,
// which a document within the 32 MiB limit holds tens of thousands of.
// The Observations looked at must grow with the members; each reading
// still makes one blood pressure of its own systolic and diastolic.
func TestManyVitalsLinear(t *testing.T) {
	const n = 300
	looks := 0
	countObsLooks = func() { looks++ }
	defer func() { countObsLooks = nil }()
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", vitalsReadings(n)))
	if limit := 20 * 2 * n; looks > limit {
		t.Errorf("%d readings: observationAt looked at %d Observations, want at most %d", n, looks, limit)
	}
	values := map[string]string{}
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		if o.ValueQuantity != nil {
			values[o.Code.Coding[0].Code+" "+o.EffectiveDateTime] = fmt.Sprint(o.ValueQuantity.Value)
		}
	}
	bps := 0
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		if o.Code.Coding[0].Code != "85354-9" {
			continue
		}
		bps++
		for _, comp := range o.Component {
			if want := values[comp.Code.Coding[0].Code+" "+o.EffectiveDateTime]; want != fmt.Sprint(comp.ValueQuantity.Value) {
				t.Fatalf("blood pressure at %s has %s %v, want %s", o.EffectiveDateTime, comp.Code.Coding[0].Code, comp.ValueQuantity.Value, want)
			}
		}
	}
	if bps != n {
		t.Errorf("%d blood pressures, want %d", bps, n)
	}
}
