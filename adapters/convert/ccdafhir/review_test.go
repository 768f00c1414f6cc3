package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// reviewDoc wraps section XML in a minimal C-CDA document with the given
// document id and setId (the second and later versions of one document
// share the setId).
func reviewDoc(docID, setID, related, sections string) string {
	return `<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
 <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>
 <id root="1.2.3.4" extension="` + docID + `"/>
 <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
 <effectiveTime value="20240102101500-0500"/>
 <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
 <setId root="1.2.3.4.5" extension="` + setID + `"/>
 <recordTarget><patientRole><id root="1.2.3.9" extension="MRN1"/>
  <patient><name><given>A</given><family>B</family></name>
   <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19800101"/></patient>
 </patientRole></recordTarget>
 ` + related + `
 <component><structuredBody>` + sections + `</structuredBody></component>
</ClinicalDocument>`
}

// convertReview converts doc and returns the resources by type.
func convertReview(t *testing.T, doc string) (map[string][]any, Result) {
	t.Helper()
	b, res, err := ConvertBytes([]byte(doc), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]any{}
	for _, e := range b.Entry {
		typ := strings.SplitN(e.Request.URL, "/", 2)[0]
		out[typ] = append(out[typ], e.Resource)
	}
	return out, res
}

const problemSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
 <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <id root="9.9.9" extension="concern1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <effectiveTime><low value="20200101"/></effectiveTime>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
   <id root="9.9.9" extension="prob1"/>
   <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="20200101"/><high nullFlavor="UNK"/></effectiveTime>
   <value xsi:type="CD" code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/>
  </observation></entryRelationship>
 </act></entry>
</section></component>`

// TestProblemResolvedDateUnknown: C-CDA says a Problem Observation whose
// effectiveTime/high is present with nullFlavor UNK is resolved at an
// unknown date; it must not reach the exchange as an active problem.
func TestProblemResolvedDateUnknown(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", problemSection))
	if len(got["Condition"]) != 1 {
		t.Fatalf("conditions = %d, want 1", len(got["Condition"]))
	}
	c := got["Condition"][0].(*fhir.Condition)
	if st := c.ClinicalStatus.Coding[0].Code; st != "resolved" {
		t.Errorf("clinicalStatus = %q, want resolved (effectiveTime/high nullFlavor=UNK)", st)
	}
}

const dischargeMedSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.11.1" extension="2015-08-01"/>
 <code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.35" extension="2016-03-01"/>
  <code code="10183-2" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <entryRelationship typeCode="SUBJ"><substanceAdministration classCode="SBADM" moodCode="INT">
   <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
   <id root="9.9.9" extension="dcmed1"/>
   <statusCode code="active"/>
   <effectiveTime xsi:type="IVL_TS"><low value="20240102"/></effectiveTime>
   <doseQuantity value="1"/>
   <consumable><manufacturedProduct><manufacturedMaterial>
    <code code="197361" codeSystem="2.16.840.1.113883.6.88" displayName="Amlodipine 5 MG Oral Tablet"/>
   </manufacturedMaterial></manufacturedProduct></consumable>
  </substanceAdministration></entryRelationship>
 </act></entry>
</section></component>`

// TestDischargeMedicationConverted: a Discharge Medication act (4.35) holds
// the Medication Activity the patient leaves with; it must become a
// medication resource, not be skipped.
func TestDischargeMedicationConverted(t *testing.T) {
	got, res := convertReview(t, reviewDoc("d1", "s1", "", dischargeMedSection))
	n := len(got["MedicationRequest"]) + len(got["MedicationStatement"])
	if n != 1 {
		t.Fatalf("medication resources = %d, want 1 (skipped: %v)", n, res.Skipped)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped = %v", res.Skipped)
	}
}

// immSection is an immunization section with one Immunization Activity of
// the given mood and statusCode.
func immSection(mood, status string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.2.1" extension="2015-08-01"/>
 <code code="11369-6" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="` + mood + `" negationInd="false">
  <templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
  <id root="9.9.9" extension="imm1"/>
  <statusCode code="` + status + `"/>
  <effectiveTime value="20240301"/>
  <consumable><manufacturedProduct><manufacturedMaterial>
   <code code="140" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza, seasonal, injectable"/>
  </manufacturedMaterial></manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`
}

// TestImmunizationNotGivenIsNotCompleted: a planned (moodCode INT)
// immunization, or one whose statusCode is not completed, must not reach
// the exchange as a vaccine given. C-CDA on FHIR maps INT to a
// MedicationRequest and CF-ImmunizationStatus maps new, held, suspended
// (and aborted, cancelled) to not-done.
func TestImmunizationNotGivenIsNotCompleted(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", immSection("INT", "active")))
	if n := len(got["Immunization"]); n != 0 {
		st := got["Immunization"][0].(*fhir.Immunization).Status
		t.Errorf("planned immunization became %d Immunization (status %q)", n, st)
	}
	if n := len(got["MedicationRequest"]); n != 1 {
		t.Errorf("planned immunization: %d MedicationRequest, want 1", n)
	}
	for status, want := range map[string]string{"completed": "completed", "new": "not-done", "held": "not-done",
		"suspended": "not-done", "aborted": "not-done", "cancelled": "not-done", "nullified": "entered-in-error"} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", immSection("EVN", status)))
		if len(got["Immunization"]) != 1 {
			t.Fatalf("%s: %d immunizations", status, len(got["Immunization"]))
		}
		if st := got["Immunization"][0].(*fhir.Immunization).Status; st != want {
			t.Errorf("statusCode %s: status = %q, want %q", status, st, want)
		}
	}
}

const healthConcernSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.58" extension="2015-08-01"/>
 <code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.132" extension="2015-08-01"/>
  <id root="9.9.9" extension="hc1"/>
  <code code="75310-3" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
   <id root="9.9.9" extension="hcp1"/>
   <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="20230101"/></effectiveTime>
   <value xsi:type="CD" code="233604007" codeSystem="2.16.840.1.113883.6.96" displayName="Pneumonia"/>
  </observation></entryRelationship>
  <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.143"/>
   <id root="9.9.9" extension="prio1"/>
   <code code="225773000" codeSystem="2.16.840.1.113883.6.96" displayName="Preference"/>
   <value xsi:type="CD" code="394849002" codeSystem="2.16.840.1.113883.6.96" displayName="High priority"/>
  </observation></entryRelationship>
  <entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="9.9.9" extension="res1"/>
   <code code="2345-7" codeSystem="2.16.840.1.113883.6.1" displayName="Glucose"/>
   <statusCode code="completed"/>
   <effectiveTime value="20230101"/>
   <value xsi:type="PQ" value="250" unit="mg/dL"/>
  </observation></entryRelationship>
 </act></entry>
</section></component>`

// TestConcernObservationsThatAreNotProblems: a Health Concern act refers
// to its problem and to observations that are not problems (a Priority
// Preference, a lab result); only the problem becomes a Condition. A
// priority "High priority" or a glucose test code listed as a patient's
// condition is wrong data at the exchange.
func TestConcernObservationsThatAreNotProblems(t *testing.T) {
	got, res := convertReview(t, reviewDoc("d1", "s1", "", healthConcernSection))
	var codes []string
	for _, r := range got["Condition"] {
		c := r.(*fhir.Condition)
		codes = append(codes, c.Code.Coding[0].Code)
	}
	if len(codes) != 1 || codes[0] != "233604007" {
		t.Errorf("conditions = %v, want only the problem 233604007 (skipped %v)", codes, res.Skipped)
	}
}
