package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// pregnancySection holds a Pregnancy Observation (15.3.8) as C-CDA R2.1
// has it: code ASSERTION, the time of the observation as a low.
const pregnancySection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.17" extension="2015-08-01"/>
 <code code="29762-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.15.3.8"/>
  <id root="9.9.9" extension="preg1"/>
  <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
  <statusCode code="completed"/>
  <effectiveTime><low value="20240102103952-0500"/></effectiveTime>
  <value xsi:type="CD" code="77386006" displayName="pregnant" codeSystem="2.16.840.1.113883.6.96"/>
 </observation></entry>
</section></component>`

// TestPregnancyObservationCode: C-CDA R2.1's Pregnancy Observation is
// coded ASSERTION, which says nothing of what was observed; C-CDA on FHIR
// (CF-social) maps it to "82810-3 (Pregnancy Status) - Note: prior to
// 4.0, C-CDA uses ASSERTION", the code US Core's Pregnancy Status profile
// fixes. It went out as an Observation coded v3-ActCode ASSERTION, which
// no search for a pregnancy status finds.
func TestPregnancyObservationCode(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", pregnancySection))
	os := got["Observation"]
	if len(os) != 1 {
		t.Fatalf("%d Observations, want 1", len(os))
	}
	o := os[0].(*fhir.Observation)
	if len(o.Code.Coding) != 1 || o.Code.Coding[0].System != sysLOINC || o.Code.Coding[0].Code != "82810-3" {
		t.Errorf("code %+v, want LOINC 82810-3", o.Code)
	}
	// A LOINC code the sender gives stays.
	own := strings.Replace(pregnancySection, `<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>`,
		`<code code="82810-3" codeSystem="2.16.840.1.113883.6.1" displayName="Pregnancy status"/>`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", own))
	if o := got["Observation"][0].(*fhir.Observation); len(o.Code.Coding) != 1 || o.Code.Coding[0].Code != "82810-3" || o.Code.Coding[0].Display != "Pregnancy status" {
		t.Errorf("sender's code: %+v", o.Code)
	}
}

// TestPregnancyObservationTime: C-CDA R2.1's Pregnancy Observation gives
// its time as a low (HL7's own example: <low value="20220824103952"/>),
// and C-CDA on FHIR (CF-social) maps it to effectiveDateTime: "FHIR only
// allows a single timestamp. Send the first element from the first
// column with a populated timestamp" (value, low, high), as US Core's
// Pregnancy Status profile has it. It went out as an effectivePeriod
// with a start only.
func TestPregnancyObservationTime(t *testing.T) {
	for _, tc := range []struct{ eff, want string }{
		{`<effectiveTime><low value="20240102103952-0500"/></effectiveTime>`, "2024-01-02T10:39:52-05:00"},
		{`<effectiveTime><low nullFlavor="UNK"/><high value="20240103"/></effectiveTime>`, "2024-01-03"},
		{`<effectiveTime value="20240104"/>`, "2024-01-04"},
	} {
		sec := strings.Replace(pregnancySection, `<effectiveTime><low value="20240102103952-0500"/></effectiveTime>`, tc.eff, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		o := got["Observation"][0].(*fhir.Observation)
		if o.EffectiveDateTime != tc.want || o.EffectivePeriod != nil {
			t.Errorf("%s: effective %q %+v, want the dateTime %s", tc.eff, o.EffectiveDateTime, o.EffectivePeriod, tc.want)
		}
	}
}

// TestPregnancyStatusUnknown: C-CDA on FHIR (CF-social) maps a Pregnancy
// Observation's value nullFlavor UNK to "an actual value with system =
// http://terminology.hl7.org/CodeSystem/v3-NullFlavor", a code US Core's
// Pregnancy Status value set holds (and its profile wants a value): it
// went out as a dataAbsentReason and no value. Other nullFlavors keep
// their data-absent-reason.
func TestPregnancyStatusUnknown(t *testing.T) {
	sec := strings.Replace(pregnancySection, `<value xsi:type="CD" code="77386006" displayName="pregnant" codeSystem="2.16.840.1.113883.6.96"/>`,
		`<value xsi:type="CD" nullFlavor="UNK"/>`, 1)
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	o := got["Observation"][0].(*fhir.Observation)
	v := o.ValueCodeableConcept
	if v == nil || len(v.Coding) != 1 || v.Coding[0].System != "http://terminology.hl7.org/CodeSystem/v3-NullFlavor" || v.Coding[0].Code != "UNK" || o.DataAbsentReason != nil {
		t.Errorf("value %+v, dataAbsentReason %+v; want v3-NullFlavor UNK as the value", v, o.DataAbsentReason)
	}
	sec = strings.Replace(sec, `nullFlavor="UNK"`, `nullFlavor="ASKU"`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", sec))
	if o := got["Observation"][0].(*fhir.Observation); o.ValueCodeableConcept != nil || o.DataAbsentReason == nil {
		t.Errorf("ASKU: value %+v, dataAbsentReason %+v; want the reason", o.ValueCodeableConcept, o.DataAbsentReason)
	}
}
