package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// plannedMedSection is a Plan of Treatment section with one Planned
// Medication Activity that carries, as HL7's own Transfer Summary sample
// does, a Priority Preference (4.143) under typeCode RSON beside its
// Indication.
const plannedMedSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.10" extension="2014-06-09"/>
 <code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="INT">
  <templateId root="2.16.840.1.113883.10.20.22.4.42" extension="2014-06-09"/>
  <id root="9.9.9" extension="planmed1"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20240301"/></effectiveTime>
  <consumable><manufacturedProduct><manufacturedMaterial>
   <code code="197361" codeSystem="2.16.840.1.113883.6.88" displayName="Amlodipine 5 MG Oral Tablet"/>
  </manufacturedMaterial></manufacturedProduct></consumable>
  <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.143"/>
   <id root="9.9.9" extension="prio1"/>
   <code code="225773000" codeSystem="2.16.840.1.113883.6.96" displayName="Preference"/>
   <value xsi:type="CD" code="394849002" codeSystem="2.16.840.1.113883.6.96" displayName="High priority"/>
  </observation></entryRelationship>
  <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.19" extension="2014-06-09"/>
   <id root="9.9.9" extension="ind1"/>
   <code code="75321-0" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
  </observation></entryRelationship>
 </substanceAdministration></entry>
</section></component>`

// TestPriorityPreferenceIsNoReason: a Priority Preference says how
// urgent the planned medication is, not why it is given; as a reasonCode
// the exchange showed "High priority" as the medication's indication.
// Only the Indication is the reason.
func TestPriorityPreferenceIsNoReason(t *testing.T) {
	got, res := convertReview(t, reviewDoc("d1", "s1", "", plannedMedSection))
	if len(got["MedicationRequest"]) != 1 {
		t.Fatalf("medication requests = %d, want 1 (skipped: %v)", len(got["MedicationRequest"]), res.Skipped)
	}
	r := got["MedicationRequest"][0].(*fhir.MedicationRequest)
	var codes []string
	for _, cc := range r.ReasonCode {
		for _, x := range cc.Coding {
			codes = append(codes, x.Code)
		}
	}
	if len(codes) != 1 || codes[0] != "38341003" {
		t.Errorf("reasonCode codes = %v, want only the indication 38341003", codes)
	}
}
