package ccdafhir

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// secObs writes a DS4P R1 security observation of the given template
// (445.12 confidentiality, .14 obligation, .22 purpose of use, .23
// refrain; "" for a plain one coded SECCATOBS) with value code in system.
func secObs(tpl, obsCode, code, system string) string {
	t := `<templateId root="2.16.840.1.113883.3.445.21"/>`
	if tpl != "" {
		t += `<templateId root="2.16.840.1.113883.3.445.` + tpl + `"/>`
	}
	return `<component typeCode="COMP"><observation classCode="OBS" moodCode="EVN">` + t +
		`<code code="` + obsCode + `" codeSystem="2.16.840.1.113883.5.4"/>` +
		`<value xsi:type="CE" code="` + code + `" codeSystem="` + system + `"/></observation></component>`
}

// annotations wraps security observations in a Privacy Annotations organizer.
func annotations(obs ...string) string {
	return `<organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.3.3251.1.4"/>` +
		`<statusCode code="active"/>` + strings.Join(obs, "") + `</organizer>`
}

// ds4pDocument is the ccda-problem case (a normal document, two problem
// concerns) with a Privacy Markings section holding docLevel and, on the
// second problem's observation, Entry-Level Privacy Annotations holding
// entryLevel (either may be empty).
func ds4pDocument(t *testing.T, docLevel, entryLevel []string) []byte {
	t.Helper()
	raw := readCase(t, "ccda-problem")
	if len(docLevel) > 0 {
		section := `<component><section><templateId root="2.16.840.1.113883.3.3251.1.5"/>` +
			`<code code="57017-6" codeSystem="2.16.840.1.113883.6.1"/><title>Privacy markings</title>` +
			`<text>Prohibition on redisclosure (42 CFR Part 2)</text>` +
			`<entry typeCode="COMP">` + annotations(docLevel...) + `</entry></section></component>`
		raw = bytes.Replace(raw, []byte("<structuredBody>"), []byte("<structuredBody>"+section), 1)
	}
	if len(entryLevel) > 0 {
		const pneumonia = `displayName="Pneumonia"/>`
		if !bytes.Contains(raw, []byte(pneumonia)) {
			t.Fatal("test document changed")
		}
		rel := `<entryRelationship typeCode="COMP">` + annotations(entryLevel...) + `</entryRelationship>`
		raw = bytes.Replace(raw, []byte(pneumonia), []byte(pneumonia+rel), 1)
	}
	return raw
}

// metaSecurity is a resource's meta.security as it is written out.
func metaSecurity(t *testing.T, res any) []fhir.Coding {
	t.Helper()
	js, err := fhir.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Meta *fhir.Meta `json:"meta"`
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if r.Meta == nil {
		return nil
	}
	return r.Meta.Security
}

// labelsOf is the codes of a resource's meta.security, in order.
func labelsOf(t *testing.T, res any) string { return codeList(metaSecurity(t, res)) }

func codeList(cs []fhir.Coding) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Code
	}
	return strings.Join(s, ",")
}

// conditionLabels maps each Condition's SNOMED code to its labels.
func conditionLabels(t *testing.T, b *fhir.Bundle) map[string]string {
	out := map[string]string{}
	for _, e := range b.Entry {
		if c, ok := e.Resource.(*fhir.Condition); ok {
			out[c.Code.Coding[0].Code] = labelsOf(t, c)
		}
	}
	return out
}

// TestDS4PDocumentLevelAnnotations: a privacy segmented document's
// Privacy Markings section labels the whole document. Its refrain
// (NORDSCLCD) and purpose of use (TREAT) stay on what the document is
// made of; the Bundle and the DocumentReference's securityLabel carry the
// high-water mark, with the confidentiality and the Part 2 policy, so the
// exchange's hold policy sees them. The section is no clinical content:
// nothing is counted skipped for it.
func TestDS4PDocumentLevelAnnotations(t *testing.T) {
	raw := ds4pDocument(t, []string{
		secObs("12", "SECCLASSOBS", "R", "2.16.840.1.113883.5.25"),
		secObs("", "SECCATOBS", "42CFRPart2", "2.16.840.1.113883.5.4"),
		secObs("23", "SECCONOBS", "NORDSCLCD", "2.16.840.1.113883.5.1063"),
		secObs("22", "SECCONOBS", "TREAT", "2.16.840.1.113883.5.1063"),
	}, nil)
	b, res, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %v", res.Skipped)
	}
	if got := codeList(b.Meta.Security); got != "R,42CFRPart2" {
		t.Errorf("Bundle meta.security %s, want R,42CFRPart2", got)
	}
	const all = "R,42CFRPart2,NORDSCLCD,TREAT"
	for _, e := range b.Entry {
		if got := labelsOf(t, e.Resource); got != all {
			t.Errorf("%T labelled %s, want %s", e.Resource, got, all)
		}
		if dr, ok := e.Resource.(*fhir.DocumentReference); ok {
			var sl []fhir.Coding
			for _, cc := range dr.SecurityLabel {
				sl = append(sl, cc.Coding...)
			}
			if got := codeList(sl); got != "R,42CFRPart2" {
				t.Errorf("securityLabel %s, want R,42CFRPart2", got)
			}
		}
	}
	for _, e := range b.Entry {
		for _, c := range metaSecurity(t, e.Resource) {
			if c.Code == "TREAT" && c.System != fhir.SystemActReason ||
				c.Code == "NORDSCLCD" && c.System != fhir.SystemActCode {
				t.Errorf("%s under %s", c.Code, c.System)
			}
		}
	}
}

// TestDS4PEntryLevelAnnotations: Entry-Level Privacy Annotations label the
// resources made from their entry. Their R raises the document's
// confidentiality (every resource is R, as for an entry's
// confidentialityCode), the sensitivity reaches the high-water mark, and
// the obligation stays on the one Condition; the other Condition and the
// Patient get the confidentiality only. A refrain code the sender
// misspelt keeps its kind from its template: out of the high-water mark.
func TestDS4PEntryLevelAnnotations(t *testing.T) {
	raw := ds4pDocument(t, nil, []string{
		secObs("12", "SECCLASSOBS", "R", "2.16.840.1.113883.5.1063"),
		secObs("", "SECCATOBS", "SUD", "2.16.840.1.113883.5.4"),
		secObs("14", "SECCONOBS", "ENCRYPT", "2.16.840.1.113883.5.1063"),
		secObs("23", "SECCONOBS", "NORDSLCD", "2.16.840.1.113883.5.1063"),
	})
	b, res, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("skipped %v", res.Skipped)
	}
	if got := codeList(b.Meta.Security); got != "R,SUD" {
		t.Errorf("Bundle meta.security %s, want R,SUD", got)
	}
	conds := conditionLabels(t, b)
	if got := conds["233604007"]; got != "R,SUD,ENCRYPT,NORDSLCD" {
		t.Errorf("annotated Condition labelled %s, want R,SUD,ENCRYPT,NORDSLCD", got)
	}
	if got := conds["44054006"]; got != "R" {
		t.Errorf("other Condition labelled %s, want R", got)
	}
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Patient:
			if got := labelsOf(t, r); got != "R" {
				t.Errorf("Patient labelled %s, want R", got)
			}
		case *fhir.Binary:
			if got := labelsOf(t, r); got != "R,SUD,ENCRYPT,NORDSLCD" {
				t.Errorf("Binary labelled %s, want every label", got)
			}
		}
	}

	// Without a confidentiality of their own, an entry's annotations take
	// the document's: a normal document stays normal, its SUD entry is
	// labelled N and SUD, and the others stay unlabelled.
	raw = ds4pDocument(t, nil, []string{secObs("", "SECCATOBS", "SUD", "2.16.840.1.113883.5.4")})
	b, _, err = ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	conds = conditionLabels(t, b)
	if conds["233604007"] != "N,SUD" || conds["44054006"] != "" {
		t.Errorf("conditions labelled %v, want N,SUD on the annotated one only", conds)
	}
	if got := codeList(b.Meta.Security); got != "N,SUD" {
		t.Errorf("Bundle meta.security %s, want N,SUD", got)
	}
}
