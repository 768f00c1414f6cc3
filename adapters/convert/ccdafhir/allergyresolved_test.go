package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// allergyEndSection is an Allergy Concern Act (active) whose Allergy -
// Intolerance Observation has the effectiveTime high given (XML, or "")
// and, when status is not "", an Allergy Status Observation of that
// SNOMED value.
func allergyEndSection(high, status string) string {
	st := ""
	if status != "" {
		st = `<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.28" extension="2019-06-20"/>
    <code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>
    <statusCode code="completed"/>
    <value xsi:type="CE" code="` + status + `" codeSystem="2.16.840.1.113883.6.96"/>
   </observation></entryRelationship>`
	}
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
 <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="9.9.9" extension="conc1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
   <id root="9.9.9" extension="alg1"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="20100101"/>` + high + `</effectiveTime>
   <value xsi:type="CD" code="414285001" codeSystem="2.16.840.1.113883.6.96"/>
   <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code code="102263004" codeSystem="2.16.840.1.113883.6.96" displayName="Eggs"/>
   </playingEntity></participantRole></participant>
   ` + st + `
  </observation></entryRelationship>
 </act></entry>
</section></component>`
}

// TestAllergyResolvedDateUnknown: C-CDA's Allergy - Intolerance
// Observation: "The effectiveTime ... is the definitive indication of
// whether or not the underlying allergy/intolerance is resolved. If known
// to be resolved, then an effectiveTime/high would be present. If the
// date of resolution is not known, then effectiveTime/high will be
// present with a nullFlavor of "UNK"." An egg allergy the child outgrew,
// date unknown, went out clinicalStatus active, as did one with a dated
// high beside a (deprecated) Allergy Status Observation still saying
// active; Problem Observations are read so already.
func TestAllergyResolvedDateUnknown(t *testing.T) {
	for _, tc := range []struct{ high, status, want string }{
		{`<high nullFlavor="UNK"/>`, "", "resolved"},
		{`<high value="20150101"/>`, "", "resolved"},
		{`<high value="20150101"/>`, "55561003", "resolved"},
		{`<high nullFlavor="UNK"/>`, "73425007", "inactive"},
		{``, "", "active"},
		{`<high nullFlavor="NA"/>`, "", "active"},
		{``, "73425007", "inactive"},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", allergyEndSection(tc.high, tc.status)))
		if len(got["AllergyIntolerance"]) != 1 {
			t.Fatalf("allergies = %d, want 1", len(got["AllergyIntolerance"]))
		}
		a := got["AllergyIntolerance"][0].(*fhir.AllergyIntolerance)
		if st := a.ClinicalStatus.Coding[0].Code; st != tc.want {
			t.Errorf("high %s, status %q: clinicalStatus = %q, want %q", tc.high, tc.status, st, tc.want)
		}
	}
}
