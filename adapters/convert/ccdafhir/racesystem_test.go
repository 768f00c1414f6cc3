package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRaceCodeOfAnotherSystem: US Core's race and ethnicity extensions
// bind ombCategory to the OMB categories and detailed to the CDC Race &
// Ethnicity code system (urn:oid:2.16.840.1.113883.6.238), both required.
// ferry wrote every raceCode and ethnicGroupCode under that system
// whatever its codeSystem, so a document's local "W" went out as CDC
// code "W", which no exchange can validate or count. A code of another
// system now goes to the text only; a CDC code in its translation is
// used, and the v3 Race and Ethnicity code systems, whose codes are the
// CDC's, count as CDC.
func TestRaceCodeOfAnotherSystem(t *testing.T) {
	patient := `<raceCode code="W" codeSystem="1.2.3.4.77" displayName="White (local)"/>
   <sdtc:raceCode code="LOC-ASN" codeSystem="1.2.3.4.77" displayName="Asian (local)">
    <translation code="2028-9" codeSystem="2.16.840.1.113883.6.238" displayName="Asian"/>
   </sdtc:raceCode>
   <sdtc:raceCode code="2114-7" codeSystem="2.16.840.1.113883.5.104" displayName="Italian"/>
   <ethnicGroupCode code="H" codeSystem="2.16.840.1.113883.12.189" displayName="Hispanic or Latino (v2)"/>`
	doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<birthTime value="19800101"/>`,
		`<birthTime value="19800101"/>`+patient, 1)
	doc = strings.Replace(doc, `<ClinicalDocument xmlns="urn:hl7-org:v3"`, `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"`, 1)
	got, _ := convertReview(t, doc)
	p := got["Patient"][0].(*fhir.Patient)
	parts := map[string]string{}
	for _, e := range p.Extension {
		for _, s := range e.Extension {
			k := e.URL[strings.LastIndex(e.URL, "-")+1:] + " " + s.URL
			if s.ValueCoding != nil {
				if s.ValueCoding.System != "urn:oid:2.16.840.1.113883.6.238" {
					t.Errorf("%s coding %+v, want the CDC Race & Ethnicity system", k, s.ValueCoding)
				}
				parts[k] += s.ValueCoding.Code + ";"
			} else {
				parts[k] += s.ValueString + ";"
			}
		}
	}
	want := map[string]string{
		"race ombCategory": "2028-9;",
		"race detailed":    "2114-7;",
		"race text":        "White (local), Asian (local), Italian;",
		"ethnicity text":   "Hispanic or Latino (v2);",
	}
	for k, v := range want {
		if parts[k] != v {
			t.Errorf("%s = %q, want %q", k, parts[k], v)
		}
	}
	for k, v := range parts {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %q", k, v)
		}
	}
}

// US Core's OMB Race Categories (STU 4.1 on, VSAC 2.16.840.1.114222.4.11.836)
// hold 'Other Race' (2131-1) beside the five categories: it is an
// ombCategory, as the HL7 v2 converter has it, not a detailed race.
func TestOtherRaceIsAnOMBCategory(t *testing.T) {
	patient := `<raceCode code="2131-1" codeSystem="2.16.840.1.113883.6.238" displayName="Other Race"/>`
	doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<birthTime value="19800101"/>`,
		`<birthTime value="19800101"/>`+patient, 1)
	got, _ := convertReview(t, doc)
	p := got["Patient"][0].(*fhir.Patient)
	var omb, detailed []string
	for _, e := range p.Extension {
		for _, s := range e.Extension {
			if s.ValueCoding == nil {
				continue
			}
			switch s.URL {
			case "ombCategory":
				omb = append(omb, s.ValueCoding.Code)
			case "detailed":
				detailed = append(detailed, s.ValueCoding.Code)
			}
		}
	}
	if len(omb) != 1 || omb[0] != "2131-1" || len(detailed) != 0 {
		t.Errorf("ombCategory %v, detailed %v; want ombCategory [2131-1] and no detailed", omb, detailed)
	}
}
