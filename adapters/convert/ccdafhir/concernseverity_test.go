package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestAllergyConcernSeverity: HL7's own R2.1 examples (Consultation_Note
// and Progress_Note in the shared corpus) put the allergy's Severity
// Observation (4.8) on the Allergy Concern Act beside the Allergy
// Intolerance Observation ("When the Severity Observation is associated
// directly with an allergy it characterizes the allergy"). It was counted
// as not converted, and the allergy's reactions went without a severity;
// it now gives the severity of the reactions of the concern's allergy that
// have none of their own, as one on the observation does, and a
// Criticality Observation (4.145) there gives the allergy's criticality.
func TestAllergyConcernSeverity(t *testing.T) {
	sec := strings.Replace(allergySection, `<code code="7980" displayName="Penicillin" codeSystem="2.16.840.1.113883.6.88"/>
   </playingEntity></participantRole></participant>`, `<code code="7980" displayName="Penicillin" codeSystem="2.16.840.1.113883.6.88"/>
   </playingEntity></participantRole></participant>
   <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
    <id root="9.9.9" extension="rx1"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="247472004" displayName="Hives" codeSystem="2.16.840.1.113883.6.96"/>
   </observation></entryRelationship>
   <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
    <id root="9.9.9" extension="rx2"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <value xsi:type="CD" code="422587007" displayName="Nausea" codeSystem="2.16.840.1.113883.6.96"/>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
     <templateId root="2.16.840.1.113883.10.20.22.4.8" extension="2014-06-09"/>
     <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>
     <statusCode code="completed"/>
     <value xsi:type="CD" code="255604002" displayName="Mild" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></entryRelationship>
   </observation></entryRelationship>`, 1)
	sec = strings.Replace(sec, `<value xsi:type="CD" code="371924009" displayName="Moderate to severe" codeSystem="2.16.840.1.113883.6.96"/>
  </observation></entryRelationship>`, `<value xsi:type="CD" code="371924009" displayName="Moderate to severe" codeSystem="2.16.840.1.113883.6.96"/>
  </observation></entryRelationship>
  <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.145"/>
   <code code="82606-5" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="CRITH" codeSystem="2.16.840.1.113883.5.1063"/>
  </observation></entryRelationship>`, 1)
	got, res := convertReview(t, reviewDoc("d1", "s1", "", sec))
	var pen *fhir.AllergyIntolerance
	for _, r := range got["AllergyIntolerance"] {
		if a := r.(*fhir.AllergyIntolerance); a.Code != nil && len(a.Code.Coding) > 0 && a.Code.Coding[0].Code == "7980" {
			pen = a
		}
	}
	if pen == nil {
		t.Fatalf("no penicillin allergy in %v", got["AllergyIntolerance"])
	}
	if len(pen.Reaction) != 2 {
		t.Fatalf("%d reactions, want 2", len(pen.Reaction))
	}
	if s := pen.Reaction[0].Severity; s != "severe" {
		t.Errorf("hives severity %q, want severe (the concern's Severity Observation)", s)
	}
	if s := pen.Reaction[1].Severity; s != "mild" {
		t.Errorf("nausea severity %q, want its own mild", s)
	}
	if pen.Criticality != "high" {
		t.Errorf("criticality %q, want high (the concern's Criticality Observation)", pen.Criticality)
	}
	for k := range res.Skipped {
		if strings.Contains(k, "10.20.22.4.8") || strings.Contains(k, "10.20.22.4.145") {
			t.Errorf("skipped %q, though the allergy took it", k)
		}
	}
}
