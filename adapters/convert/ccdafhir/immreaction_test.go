package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// immReaction is a Reaction Observation (4.9) under an Immunization
// Activity, as C-CDA R2.1 places it (entryRelationship MFST): a moderate
// fever the day after the dose.
const immReaction = `<entryRelationship typeCode="MFST" inversionInd="true">
   <observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.9" extension="2014-06-09"/>
    <id root="9.9.9" extension="rx1"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
    <statusCode code="completed"/>
    <effectiveTime><low value="20240302"/></effectiveTime>
    <value xsi:type="CD" code="386661006" codeSystem="2.16.840.1.113883.6.96" displayName="Fever"/>
    <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
     <templateId root="2.16.840.1.113883.10.20.22.4.8" extension="2014-06-09"/>
     <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>
     <statusCode code="completed"/>
     <value xsi:type="CD" code="6736007" codeSystem="2.16.840.1.113883.6.96" displayName="Moderate"/>
    </observation></entryRelationship>
   </observation>
  </entryRelationship>`

// TestImmunizationReaction: a reaction to a vaccine (HL7's Reaction
// Observation under the Immunization Activity) was dropped, and not
// counted as unconverted either, so the exchange's clinician could give
// the next dose unaware of it. C-CDA on FHIR (CF-immunizations) maps it
// to Immunization.reaction, recommending "that reaction observation
// value be mapped to reaction detail (Observation) valueCodeable
// concept": an Observation of the reaction, its date the reaction's.
func TestImmunizationReaction(t *testing.T) {
	sec := strings.Replace(immSection("EVN", "completed"), ` </substanceAdministration>`, "  "+immReaction+"\n </substanceAdministration>", 1)
	doc := reviewDoc("d1", "s1", "", sec)
	b, res, err := ConvertBytes([]byte(doc), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(b)
	if err := strictR4(js); err != nil {
		t.Errorf("strict R4: %v", err)
	}
	checkReferences(t, b)
	var im *fhir.Immunization
	obs := map[string]*fhir.Observation{}
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Immunization:
			im = r
		case *fhir.Observation:
			obs[e.FullURL] = r
			obs["Observation/"+r.ID] = r
		}
	}
	if im == nil {
		t.Fatal("no Immunization")
	}
	if len(im.Reaction) != 1 || im.Reaction[0].Detail == nil {
		t.Fatalf("reaction %+v, want one with a detail", im.Reaction)
	}
	if d := im.Reaction[0].Date; d != "2024-03-02" {
		t.Errorf("reaction.date %q, want 2024-03-02", d)
	}
	o := obs[im.Reaction[0].Detail.Reference]
	if o == nil {
		t.Fatalf("reaction.detail %q names no Observation of the bundle", im.Reaction[0].Detail.Reference)
	}
	if v := o.ValueCodeableConcept; v == nil || len(v.Coding) == 0 || v.Coding[0].Code != "386661006" {
		t.Errorf("reaction Observation value %+v, want SNOMED 386661006 Fever", v)
	}
	if o.EffectiveDateTime != "2024-03-02" && (o.EffectivePeriod == nil || o.EffectivePeriod.Start != "2024-03-02") {
		t.Errorf("reaction Observation effective %q %+v, want from 2024-03-02", o.EffectiveDateTime, o.EffectivePeriod)
	}
	if len(o.Identifier) == 0 || o.Identifier[0].Value != "rx1" {
		t.Errorf("reaction Observation identifier %+v, want the observation's id rx1", o.Identifier)
	}
	sev := false
	for _, c := range o.Component {
		if c.ValueCodeableConcept != nil && len(c.ValueCodeableConcept.Coding) > 0 && c.ValueCodeableConcept.Coding[0].Code == "6736007" {
			sev = true
		}
	}
	if !sev {
		t.Errorf("reaction Observation components %+v, want its severity (6736007 Moderate)", o.Component)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %v", res.Skipped)
	}

	// Without an id of its own the reaction's Observation gets the same
	// id each time the document is converted.
	noID := strings.Replace(doc, `<id root="9.9.9" extension="rx1"/>`, "", 1)
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		got, _ := convertReview(t, noID)
		if len(got["Observation"]) != 1 {
			t.Fatalf("%d observations, want 1", len(got["Observation"]))
		}
		ids[got["Observation"][0].(*fhir.Observation).ID] = true
	}
	if len(ids) != 1 {
		t.Errorf("reaction Observation ids %v, want one", ids)
	}

	// A negated reaction (it did not happen) is not asserted: counted.
	neg := strings.Replace(doc, `<observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.9"`, `<observation classCode="OBS" moodCode="EVN" negationInd="true">
    <templateId root="2.16.840.1.113883.10.20.22.4.9"`, 1)
	got, res := convertReview(t, neg)
	if n := len(got["Observation"]); n != 0 {
		t.Errorf("negated reaction: %d observations", n)
	}
	if r := got["Immunization"][0].(*fhir.Immunization).Reaction; len(r) != 0 {
		t.Errorf("negated reaction: reaction %+v", r)
	}
	if len(res.Skipped) != 1 {
		t.Errorf("negated reaction: skipped %v, want it counted", res.Skipped)
	}
}
