package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignProfileUnits: FHIR R4's vital signs profiles, which US
// Core's derive from, fix the UCUM code of each measurement: BMI
// valueQuantity.code "kg/m2", heart and respiratory rate "/min", body
// height one of "cm" and "[in_i]" (required binding ucum-bodylength).
// ONC's own 170.314(b)(2) CCD in the corpus sends a BMI of unit "1" and a
// height in "[in_us]", and senders write rates as "{beats}/min" or
// "1/min": each went out as sent, so a validating exchange refused the
// Observation (and the transaction with it). A unit that says the same
// as the profile's (an annotation, a "1" factor, the US survey inch,
// 2 ppm from the international one, a BMI whose unit is left at "1") is
// sent as the profile's; one that says something else stays as it was.
func TestVitalSignProfileUnits(t *testing.T) {
	for _, tc := range []struct{ code, unit, want string }{
		{"39156-5", "1", "kg/m2"},
		{"39156-5", "", "kg/m2"},
		{"39156-5", "kg/m2", "kg/m2"},
		{"8302-2", "[in_us]", "[in_i]"},
		{"8302-2", "cm", "cm"},
		{"8867-4", "{beats}/min", "/min"},
		{"9279-1", "1/min", "/min"},
		{"9279-1", "{breaths}/min", "/min"},
		{"29463-7", "[lb_av]", "[lb_av]"},
		{"8302-2", "m", "m"}, // another unit: not the profile's, left as sent
		{"2708-6", "%", "%"},
	} {
		unit := ` unit="` + tc.unit + `"`
		if tc.unit == "" {
			unit = ""
		}
		sec := strings.Replace(vitalsSection, `code="3141-9" codeSystem="2.16.840.1.113883.6.1" displayName="Body weight Measured"`,
			`code="`+tc.code+`" codeSystem="2.16.840.1.113883.6.1"`, 1)
		sec = strings.Replace(sec, `<value xsi:type="PQ" value="86" unit="kg"/>`, `<value xsi:type="PQ" value="28"`+unit+`/>`, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		var q *fhir.Quantity
		for _, r := range got["Observation"] {
			if o := r.(*fhir.Observation); o.ValueQuantity != nil {
				q = o.ValueQuantity
			}
		}
		if q == nil {
			t.Errorf("%s %q: no valueQuantity", tc.code, tc.unit)
			continue
		}
		if q.System != sysUCUM || q.Code != tc.want || q.Unit != tc.want || string(q.Value) != "28" {
			t.Errorf("%s %q: valueQuantity %+v, want 28 UCUM %s", tc.code, tc.unit, q, tc.want)
		}
	}
}
