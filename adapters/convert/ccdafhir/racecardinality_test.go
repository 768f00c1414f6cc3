package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRaceEthnicityCardinality: a patient's raceCode and sdtc:raceCode
// (and ethnicGroupCode and sdtc:ethnicGroupCode) often say the same
// thing twice: HL7's own PROBLEMS_in_Empty and CCD-Parent-Document-Replace
// examples give raceCode and sdtc:raceCode nullFlavor UNK, which went out
// as ombCategory UNK twice and the text "Unknown, Unknown". US Core's
// ethnicity extension has one ombCategory (0..1), so a repeated or second
// ethnicity category made the Patient invalid, and US Core's us-core-23
// has no other ombCategory beside ASKU or UNK. Each coding now goes once,
// a second ethnicity category is text only, and ASKU/UNK stands only
// when no category is known.
func TestRaceEthnicityCardinality(t *testing.T) {
	for _, c := range []struct {
		patient string
		want    map[string]string
	}{
		{`<raceCode nullFlavor="UNK"/><sdtc:raceCode nullFlavor="UNK"/><ethnicGroupCode nullFlavor="UNK"/>`,
			map[string]string{"race ombCategory": "UNK;", "race text": "Unknown;", "ethnicity ombCategory": "UNK;", "ethnicity text": "Unknown;"}},
		{`<raceCode code="2106-3" codeSystem="2.16.840.1.113883.6.238" displayName="White"/>
		  <sdtc:raceCode code="2106-3" codeSystem="2.16.840.1.113883.6.238" displayName="White"/>
		  <ethnicGroupCode code="2135-2" codeSystem="2.16.840.1.113883.6.238" displayName="Hispanic or Latino"/>
		  <sdtc:ethnicGroupCode code="2135-2" codeSystem="2.16.840.1.113883.6.238" displayName="Hispanic or Latino"/>
		  <sdtc:ethnicGroupCode code="2148-5" codeSystem="2.16.840.1.113883.6.238" displayName="Mexican"/>`,
			map[string]string{"race ombCategory": "2106-3;", "race text": "White;",
				"ethnicity ombCategory": "2135-2;", "ethnicity detailed": "2148-5;", "ethnicity text": "Hispanic or Latino, Mexican;"}},
		{`<raceCode nullFlavor="ASKU"/><sdtc:raceCode code="2028-9" codeSystem="2.16.840.1.113883.6.238" displayName="Asian"/>
		  <ethnicGroupCode code="2135-2" codeSystem="2.16.840.1.113883.6.238" displayName="Hispanic or Latino"/>
		  <sdtc:ethnicGroupCode code="2186-5" codeSystem="2.16.840.1.113883.6.238" displayName="Not Hispanic or Latino"/>`,
			map[string]string{"race ombCategory": "2028-9;", "race text": "Asked but no answer, Asian;",
				"ethnicity ombCategory": "2135-2;", "ethnicity text": "Hispanic or Latino, Not Hispanic or Latino;"}},
	} {
		doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<birthTime value="19800101"/>`,
			`<birthTime value="19800101"/>`+c.patient, 1)
		doc = strings.Replace(doc, `<ClinicalDocument xmlns="urn:hl7-org:v3"`, `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"`, 1)
		got, _ := convertReview(t, doc)
		parts := map[string]string{}
		for _, e := range got["Patient"][0].(*fhir.Patient).Extension {
			for _, s := range e.Extension {
				k := e.URL[strings.LastIndex(e.URL, "-")+1:] + " " + s.URL
				if s.ValueCoding != nil {
					parts[k] += s.ValueCoding.Code + ";"
				} else {
					parts[k] += s.ValueString + ";"
				}
			}
		}
		for k, v := range c.want {
			if parts[k] != v {
				t.Errorf("%.40s...: %s = %q, want %q", c.patient, k, parts[k], v)
			}
		}
		for k, v := range parts {
			if _, ok := c.want[k]; !ok {
				t.Errorf("%.40s...: unexpected %s = %q", c.patient, k, v)
			}
		}
	}
}
