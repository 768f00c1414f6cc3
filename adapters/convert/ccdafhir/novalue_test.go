package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestObservationWithoutValueSaysWhy: US Core's Laboratory Result
// Observation has us-core-2 and FHIR's vital signs profile vs-2, "If
// there is no component or hasMember element then either a value[x] or
// a data absent reason must be present". A Result Observation without a
// value element, or whose value gave none (an empty <value
// xsi:type="PQ" unit="mg/dL"/>, a PQ of "<0.5" that is not a number),
// became an Observation with neither, which a validating exchange
// refuses, and the batch with it. Such an Observation now carries
// dataAbsentReason, as an OBX without a value does: "unknown", or for
// a cancelled test "not-performed" (registered: "temp-unknown").
func TestObservationWithoutValueSaysWhy(t *testing.T) {
	obs := func(id, status, value string) string {
		return `<component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="7.7.7" extension="` + id + `"/>
   <code code="2345-7" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="` + status + `"/>
   <effectiveTime value="20240101083000-0500"/>
   ` + value + `
  </observation></component>`
	}
	sec := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="7.7.7" extension="org1"/>
  <code code="24323-8" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101083000-0500"/>
  ` + obs("empty", "completed", `<value xsi:type="PQ" unit="mg/dL"/>`) +
		obs("lessthan", "completed", `<value xsi:type="PQ" value="&lt;0.5" unit="mg/dL"/>`) +
		obs("none", "completed", ``) +
		obs("cancelled", "cancelled", ``) +
		obs("read", "completed", `<value xsi:type="PQ" value="5.5" unit="mg/dL"/>`) + `
 </organizer></entry>
</section></component>`
	vitals := strings.Replace(vitalsSection, `<value xsi:type="PQ" value="86" unit="kg"/>`, `<value xsi:type="PQ" unit="kg"/>`, 1)
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec+vitals))
	want := map[string]string{"empty": "unknown", "lessthan": "unknown", "none": "unknown", "cancelled": "not-performed", "wt1": "unknown"}
	seen := 0
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		if len(o.Identifier) == 0 || len(o.HasMember) > 0 {
			continue
		}
		id := o.Identifier[0].Value
		if id == "read" {
			if o.ValueQuantity == nil || o.DataAbsentReason != nil {
				t.Errorf("%s: value %+v, dataAbsentReason %+v, want the value alone", id, o.ValueQuantity, o.DataAbsentReason)
			}
			continue
		}
		reason, ok := want[id]
		if !ok {
			continue
		}
		seen++
		if o.DataAbsentReason == nil || len(o.DataAbsentReason.Coding) != 1 ||
			o.DataAbsentReason.Coding[0].System != fhir.DataAbsentReasonSystem || o.DataAbsentReason.Coding[0].Code != reason {
			t.Errorf("%s: neither value[x] nor dataAbsentReason %q (us-core-2, vs-2): dataAbsentReason %+v", id, reason, o.DataAbsentReason)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d Observations without a value", seen, len(want))
	}
}
