package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// sameEncounterDoc is a document whose encompassingEncounter (the visit
// the document is about, id enc1) is also listed, with the same id, as an
// Encounter Activity of its Encounters section, with the visit's type,
// performer, an encounter diagnosis and the discharge disposition.
func sameEncounterDoc() string {
	enc := `<componentOf><encompassingEncounter><id root="9.9.9" extension="enc1"/>
  <effectiveTime><low value="20240101"/><high value="20240103"/></effectiveTime></encompassingEncounter></componentOf>`
	sec := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.22.1" extension="2015-08-01"/>
 <code code="46240-8" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><encounter classCode="ENC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="9.9.9" extension="enc1"/>
  <code code="99223" codeSystem="2.16.840.1.113883.6.12" displayName="Initial hospital care">
   <translation code="IMP" codeSystem="2.16.840.1.113883.5.4"/></code>
  <effectiveTime><low value="20240101"/><high value="20240103"/></effectiveTime>
  <sdtc:dischargeDispositionCode code="01" codeSystem="2.16.840.1.113883.12.112"/>
  <performer><assignedEntity><id root="1.2.3.77" extension="doc7"/>
   <assignedPerson><name><given>Ann</given><family>Attending</family></name></assignedPerson></assignedEntity></performer>
  <entryRelationship typeCode="SUBJ"><act classCode="ACT" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.80" extension="2015-08-01"/>
   <code code="29308-4" codeSystem="2.16.840.1.113883.6.1"/>
   <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
    <id root="9.9.9" extension="dx1"/>
    <code code="282291009" codeSystem="2.16.840.1.113883.6.96"/>
    <statusCode code="completed"/>
    <effectiveTime><low value="20240101"/></effectiveTime>
    <value xsi:type="CD" code="233604007" codeSystem="2.16.840.1.113883.6.96" displayName="Pneumonia"/>
   </observation></entryRelationship>
  </act></entryRelationship>
 </encounter></entry>
</section></component>`
	doc := strings.Replace(reviewDoc("d1", "s1", "", sec), `<component><structuredBody>`, enc+`<component><structuredBody>`, 1)
	return strings.Replace(doc, `<ClinicalDocument xmlns="urn:hl7-org:v3"`, `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"`, 1)
}

// TestEncounterActivityOfTheEncompassingEncounter: C-CDA on FHIR
// (CF-encounters): "when the same encounter is referenced multiple times
// (such as the encompassingEncounter and an Encounter Activity in the
// Encounters Section containing the same <id>), it should be converted to
// a single FHIR resource". ferry made two: the header's, with the id, and
// the activity's, its id taken by the first and so a minted one, with the
// visit's type, performers and diagnoses. The exchange then held the one
// visit twice (170.314B2_Amb_CCD.xml of the corpus does this), the
// DocumentReference naming one and the encounter diagnoses the other.
// The activity now fills in the header's Encounter.
func TestEncounterActivityOfTheEncompassingEncounter(t *testing.T) {
	got, _ := convertReview(t, sameEncounterDoc())
	es := got["Encounter"]
	if len(es) != 1 {
		t.Fatalf("%d Encounters for one visit, want 1", len(es))
	}
	e := es[0].(*fhir.Encounter)
	ref := "Encounter/" + e.ID
	if len(e.Identifier) != 1 || e.Identifier[0].Value != "enc1" {
		t.Errorf("identifier %+v, want enc1 alone", e.Identifier)
	}
	if e.Class.Code != "IMP" || len(e.Type) != 1 || len(e.Type[0].Coding) == 0 || e.Type[0].Coding[0].Code != "99223" {
		t.Errorf("class %+v type %+v, want IMP and 99223", e.Class, e.Type)
	}
	if e.Period == nil || e.Period.End == "" || e.Status != "finished" {
		t.Errorf("period %+v status %q, want the visit's, finished", e.Period, e.Status)
	}
	if len(e.Participant) != 1 || e.Hospitalization == nil || e.Hospitalization.DischargeDisposition == nil {
		t.Errorf("participant %+v hospitalization %+v, want the performer and the disposition", e.Participant, e.Hospitalization)
	}
	if len(e.Diagnosis) != 1 {
		t.Fatalf("diagnosis %+v, want the one encounter diagnosis", e.Diagnosis)
	}
	cs := got["Condition"]
	if len(cs) != 1 || cs[0].(*fhir.Condition).Encounter == nil || cs[0].(*fhir.Condition).Encounter.Reference != ref {
		t.Errorf("the diagnosis's encounter is not %s", ref)
	}
	if e.Diagnosis[0].Condition.Reference != "Condition/"+cs[0].(*fhir.Condition).ID {
		t.Errorf("diagnosis %s, want the Condition", e.Diagnosis[0].Condition.Reference)
	}
	dr := got["DocumentReference"][0].(*fhir.DocumentReference)
	if dr.Context == nil || len(dr.Context.Encounter) != 1 || dr.Context.Encounter[0].Reference != ref {
		t.Errorf("DocumentReference context %+v, want %s", dr.Context, ref)
	}

	// An Encounter Activity under Entry-Level Privacy Annotations labels
	// the Encounter it fills in.
	doc := strings.Replace(sameEncounterDoc(), `<performer>`, `<entryRelationship typeCode="COMP">`+
		annotations(secObs("", "SECCATOBS", "SUD", "2.16.840.1.113883.5.4"))+`</entryRelationship><performer>`, 1)
	got, _ = convertReview(t, doc)
	if l := labelsOf(t, got["Encounter"][0]); !strings.Contains(","+l+",", ",SUD,") {
		t.Errorf("Encounter meta.security %q, want SUD from the activity's annotations", l)
	}
}

// TestSupersededVersionKeepsNoDiagnosisOfItsEncounter: a version known as
// replaced keeps the encompassingEncounter's Encounter (its
// DocumentReference refers to it) and leaves out its Conditions; the
// encounter diagnoses an Encounter Activity of the same visit gave that
// Encounter must go with them, or they refer to Conditions not sent.
func TestSupersededVersionKeepsNoDiagnosisOfItsEncounter(t *testing.T) {
	b, res, err := ConvertBytes([]byte(sameEncounterDoc()), Options{NoBinary: true, Replaced: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Superseded {
		t.Fatal("not superseded")
	}
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Condition:
			t.Errorf("Condition %s sent for a superseded version", r.ID)
		case *fhir.Encounter:
			if len(r.Diagnosis) != 0 {
				t.Errorf("Encounter diagnosis %+v refers to Conditions not sent", r.Diagnosis)
			}
		}
	}
}
