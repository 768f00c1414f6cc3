package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// procObsSection holds a Procedure Activity Observation (4.13) with its
// finding, as HL7's CCD.xml in the corpus has its 12 lead ECG.
const procObsSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.7.1" extension="2014-06-09"/>
 <code code="47519-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry typeCode="DRIV"><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.13" extension="2014-06-09"/>
  <id root="c03e5445-af1b-4911-a419-e2782f21448c"/>
  <code code="268400002" codeSystem="2.16.840.1.113883.6.96" displayName="12 lead ECG"/>
  <statusCode code="completed"/>
  <effectiveTime value="20141001103026-0500"/>
  <value xsi:type="CD" code="251135002" codeSystem="2.16.840.1.113883.6.96" displayName="Borderline normal ECG"/>
  <targetSiteCode code="302509004" codeSystem="2.16.840.1.113883.6.96" displayName="Entire Heart"/>
 </observation></entry>
</section></component>`

// TestProcedureObservationKeepsItsFinding: C-CDA on FHIR (CF-procedures)
// says a Procedure Activity Observation "can best be represented [by] the
// FHIR Observation resource ... Procedure cannot represent the
// observation value, so with or without Procedure, Observation will
// always be necessary", a Procedure beside it "related by
// Observation.partOf". ferry made it a Procedure alone, so the finding
// (HL7's CCD.xml: the 12 lead ECG's "Borderline normal ECG") never
// reached the exchange. An observation with a value now also gives an
// Observation (category procedure) holding it, part of the Procedure;
// one whose value is empty (<value xsi:type="CD"/>, as the corpus's
// aborted polypectomy has) gives the Procedure alone, as before.
func TestProcedureObservationKeepsItsFinding(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", procObsSection))
	if n := len(got["Procedure"]); n != 1 {
		t.Fatalf("%d Procedures, want 1", n)
	}
	os := got["Observation"]
	if len(os) != 1 {
		t.Fatalf("%d Observations, want 1 with the finding", len(os))
	}
	o := os[0].(*fhir.Observation)
	if o.ValueCodeableConcept == nil || len(o.ValueCodeableConcept.Coding) == 0 || o.ValueCodeableConcept.Coding[0].Code != "251135002" {
		t.Errorf("Observation value %+v, want 251135002 Borderline normal ECG", o.ValueCodeableConcept)
	}
	if len(o.Code.Coding) == 0 || o.Code.Coding[0].Code != "268400002" {
		t.Errorf("Observation code %+v, want the procedure's 268400002", o.Code)
	}
	if len(o.Category) != 1 || len(o.Category[0].Coding) != 1 || o.Category[0].Coding[0].Code != "procedure" {
		t.Errorf("Observation category %+v, want procedure", o.Category)
	}
	if o.EffectiveDateTime != "2014-10-01T10:30:26-05:00" {
		t.Errorf("Observation effective %q", o.EffectiveDateTime)
	}
	p := got["Procedure"][0].(*fhir.Procedure)
	if len(o.PartOf) != 1 || !strings.HasSuffix(o.PartOf[0].Reference, p.ID) {
		t.Errorf("Observation partOf %+v, want the Procedure %s", o.PartOf, p.ID)
	}

	empty := strings.Replace(procObsSection, `<value xsi:type="CD" code="251135002" codeSystem="2.16.840.1.113883.6.96" displayName="Borderline normal ECG"/>`,
		`<value xsi:type="CD"/>`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", empty))
	if len(got["Procedure"]) != 1 || len(got["Observation"]) != 0 {
		t.Errorf("empty value: %d Procedures, %d Observations; want the Procedure alone", len(got["Procedure"]), len(got["Observation"]))
	}
}
