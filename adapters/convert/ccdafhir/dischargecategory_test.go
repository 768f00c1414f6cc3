package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestDischargeMedicationCategory: a medication of the Discharge
// Medications section (10183-2, 75311-1), or of a Discharge Medication act
// (4.35), is one the patient is to take after discharge. US Core's
// MedicationRequest.category has the code for it (medicationrequest-category
// "discharge": "requests for medications created when the patient is being
// released from a facility"); without it the exchange could not tell the
// discharge prescriptions from the orders of the stay.
func TestDischargeMedicationCategory(t *testing.T) {
	check := func(name, doc string, want bool) {
		t.Helper()
		got, res := convertReview(t, doc)
		mrs := got["MedicationRequest"]
		if len(mrs) != 1 {
			t.Fatalf("%s: %d MedicationRequests, want 1 (skipped %v)", name, len(mrs), res.Skipped)
		}
		r := mrs[0].(*fhir.MedicationRequest)
		has := false
		for _, cc := range r.Category {
			for _, c := range cc.Coding {
				if c.System == "http://terminology.hl7.org/CodeSystem/medicationrequest-category" && c.Code == "discharge" {
					has = true
				}
			}
		}
		if has != want {
			t.Errorf("%s: category %+v, want discharge %v", name, r.Category, want)
		}
	}
	check("discharge act", reviewDoc("d1", "s1", "", dischargeMedSection), true)

	// The section alone says it, its Medication Activities entries of
	// their own (as vendors write it), by template or by code (10183-2,
	// or 75311-1 as HL7's own Discharge Summary sample has it).
	direct := strings.Replace(dischargeMedSection, `<entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.35" extension="2016-03-01"/>
  <code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <entryRelationship typeCode="SUBJ">`, `<entry>`, 1)
	direct = strings.Replace(direct, `</entryRelationship>
 </act></entry>`, `</entry>`, 1)
	check("section template", reviewDoc("d1", "s1", "", direct), true)
	byCode := strings.Replace(direct, `<templateId root="2.16.840.1.113883.10.20.22.2.11.1" extension="2015-08-01"/>
 <code code="10183-2"`, `<code code="75311-1"`, 1)
	check("section code", reviewDoc("d1", "s1", "", byCode), true)
	other := strings.Replace(dischargeMedSection, `<templateId root="2.16.840.1.113883.10.20.22.2.11.1" extension="2015-08-01"/>
 <code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>`, `<templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>`, 1)
	check("act in medications section", reviewDoc("d1", "s1", "", other), true)

	// A medication of the Medications section is no discharge one.
	plain := strings.Replace(direct, `<templateId root="2.16.840.1.113883.10.20.22.2.11.1" extension="2015-08-01"/>
 <code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>`, `<templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>`, 1)
	check("medications section", reviewDoc("d1", "s1", "", plain), false)
}
