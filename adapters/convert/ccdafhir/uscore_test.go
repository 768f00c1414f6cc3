package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// The tests in this file hold US Core 6.1.0's mandatory elements and
// vital-sign codes in what the C-CDA converter sends (STANDARDS.md §3).

// allergySection is an Allergy Concern Act holding one allergy and, as
// HL7's own C-CDA R2.1 examples do (Progress_Note.xml in the shared
// corpus), a Severity Observation beside it rather than inside it.
const allergySection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
 <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <id root="9.9.9" extension="aconc1"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
  <statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
   <id root="9.9.9" extension="allergy1"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <effectiveTime><low value="19980501"/></effectiveTime>
   <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96"/>
   <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code code="7980" displayName="Penicillin" codeSystem="2.16.840.1.113883.6.88"/>
   </playingEntity></participantRole></participant>
  </observation></entryRelationship>
  <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.8" extension="2014-06-09"/>
   <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="371924009" displayName="Moderate to severe" codeSystem="2.16.840.1.113883.6.96"/>
  </observation></entryRelationship>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
   <id root="9.9.9" extension="allergy2"/>
   <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
   <statusCode code="completed"/>
   <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96"/>
   <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
    <code nullFlavor="UNK"/>
   </playingEntity></participantRole></participant>
  </observation></entryRelationship>
 </act></entry>
</section></component>`

// TestUSCoreAllergyCode: US Core AllergyIntolerance.code is 1..1. The
// Severity Observation beside the allergy is no allergy of its own (it
// became an AllergyIntolerance without a code, a phantom allergy at the
// exchange), and an allergy whose substance is not known says unknown.
func TestUSCoreAllergyCode(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", allergySection))
	as := got["AllergyIntolerance"]
	if len(as) != 2 {
		t.Fatalf("%d AllergyIntolerances, want 2 (the severity is none)", len(as))
	}
	codes := map[string]bool{}
	for _, r := range as {
		a := r.(*fhir.AllergyIntolerance)
		if a.Code == nil || len(a.Code.Coding) == 0 {
			t.Fatalf("AllergyIntolerance %+v without code", a.Identifier)
		}
		codes[a.Code.Coding[0].System+"|"+a.Code.Coding[0].Code] = true
	}
	if !codes["http://www.nlm.nih.gov/research/umls/rxnorm|7980"] || !codes[fhir.DataAbsentReasonSystem+"|unknown"] {
		t.Errorf("allergy codes %v, want penicillin and data-absent-reason unknown", codes)
	}
}

// encounterSection holds one Encounter Activity whose code is an ActCode
// (the class), so nothing says its type.
const encounterSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.22.1" extension="2015-08-01"/>
 <code code="46240-8" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><encounter classCode="ENC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="9.9.9" extension="enc1"/>
  <code code="AMB" codeSystem="2.16.840.1.113883.5.4"/>
  <effectiveTime value="20240101"/>
 </encounter></entry>
</section></component>`

// TestUSCoreEncounterType: US Core Encounter.type is 1..*; an encounter
// whose code is only its class gets data-absent-reason unknown.
func TestUSCoreEncounterType(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", encounterSection))
	es := got["Encounter"]
	if len(es) != 1 {
		t.Fatalf("%d Encounters", len(es))
	}
	e := es[0].(*fhir.Encounter)
	if e.Class.Code != "AMB" || len(e.Type) != 1 || len(e.Type[0].Coding) != 1 || e.Type[0].Coding[0].System != fhir.DataAbsentReasonSystem || e.Type[0].Coding[0].Code != "unknown" {
		t.Fatalf("Encounter class %+v type %+v, want AMB and data-absent-reason unknown", e.Class, e.Type)
	}
}

// vitalsSection holds a body weight coded 3141-9 (measured), as C-CDA
// vital sign observations often are.
const vitalsSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.4.1" extension="2015-08-01"/>
 <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.26" extension="2015-08-01"/>
  <id root="9.9.9" extension="vorg1"/>
  <code code="46680005" codeSystem="2.16.840.1.113883.6.96"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
   <id root="9.9.9" extension="wt1"/>
   <code code="3141-9" codeSystem="2.16.840.1.113883.6.1" displayName="Body weight Measured"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101"/>
   <value xsi:type="PQ" value="86" unit="kg"/>
  </observation></component>
 </organizer></entry>
</section></component>`

// TestUSCoreBodyWeightCode: FHIR R4's body weight profile (which US Core
// Body Weight derives from) fixes a coding 29463-7; 3141-9 may follow it
// as a translation (observation-vitalsigns.html, "Using other codes").
func TestUSCoreBodyWeightCode(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", vitalsSection))
	var codes []string
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		for _, c := range o.Code.Coding {
			codes = append(codes, c.System+"|"+c.Code)
		}
	}
	has := func(s string) bool {
		for _, c := range codes {
			if c == s {
				return true
			}
		}
		return false
	}
	if !has("http://loinc.org|29463-7") || !has("http://loinc.org|3141-9") {
		t.Fatalf("body weight codes %v, want 29463-7 and the source's 3141-9", codes)
	}
}

// TestUSCorePatientWithoutName: US Core Patient.name is 1..* and each
// name needs a family or given name or else the data-absent-reason
// extension (us-core-6). A recordTarget without a usable name (none, or
// nullFlavor) gets the extension rather than no name at all.
func TestUSCorePatientWithoutName(t *testing.T) {
	const named = `<name><given>A</given><family>B</family></name>`
	for _, repl := range []string{``, `<name nullFlavor="UNK"/>`} {
		doc := strings.Replace(reviewDoc("d1", "s1", "", ""), named, repl, 1)
		got, _ := convertReview(t, doc)
		p := got["Patient"][0].(*fhir.Patient)
		if len(p.Name) != 1 || len(p.Name[0].Extension) != 1 || p.Name[0].Extension[0].ValueCode != "unknown" ||
			p.Name[0].Extension[0].URL != "http://hl7.org/fhir/StructureDefinition/data-absent-reason" {
			t.Errorf("%q: names %+v, want one with data-absent-reason unknown", repl, p.Name)
		}
	}
}
