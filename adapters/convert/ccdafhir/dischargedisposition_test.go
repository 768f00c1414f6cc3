package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestEncounterActivityDischargeDisposition: C-CDA R2.1's Encounter
// Activity (4.49) may carry sdtc:dischargeDispositionCode (CDA R2's SDTC
// extension: where the patient went after an inpatient stay), which C-CDA
// on FHIR (CF-encounters) maps to Encounter.hospitalization.dischargeDisposition,
// as the encompassingEncounter's own dischargeDispositionCode already was.
// It was dropped, so the Encounters section of a discharge summary or a
// transfer said nothing of it.
func TestEncounterActivityDischargeDisposition(t *testing.T) {
	sec := strings.Replace(encounterSection, `<effectiveTime value="20240101"/>`,
		`<effectiveTime value="20240101"/>
  <sdtc:dischargeDispositionCode code="01" codeSystem="2.16.840.1.113883.12.112" displayName="Discharged to home or self care (routine discharge)"/>`, 1)
	doc := strings.Replace(reviewDoc("d1", "s1", "", sec), `<ClinicalDocument xmlns="urn:hl7-org:v3"`,
		`<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"`, 1)
	got, _ := convertReview(t, doc)
	es := got["Encounter"]
	if len(es) != 1 {
		t.Fatalf("%d Encounters, want 1", len(es))
	}
	e := es[0].(*fhir.Encounter)
	if e.Hospitalization == nil || e.Hospitalization.DischargeDisposition == nil {
		t.Fatalf("Encounter.hospitalization %+v, want dischargeDisposition v2-0112 01", e.Hospitalization)
	}
	c := e.Hospitalization.DischargeDisposition.Coding
	if len(c) != 1 || c[0].System != "http://terminology.hl7.org/CodeSystem/v2-0112" || c[0].Code != "01" {
		t.Errorf("dischargeDisposition %+v, want v2-0112 01", c)
	}

	// Without one, there is no hospitalization.
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", encounterSection))
	if h := got["Encounter"][0].(*fhir.Encounter).Hospitalization; h != nil {
		t.Errorf("hospitalization %+v for an encounter without a disposition", h)
	}
}
