package ccdafhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// Entries without ids, as some EHRs write them: the allergy concern, the
// allergy, the problem concern and the problem have no <id>.
const (
	idlessPenicillin = `<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="%s"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
    <effectiveTime><low value="19980501"/></effectiveTime>
    <value xsi:type="CD" code="416098002" codeSystem="2.16.840.1.113883.6.96" displayName="Drug allergy"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code code="7980" codeSystem="2.16.840.1.113883.6.88" displayName="Penicillin G"/></playingEntity></participantRole></participant>
  </observation></entryRelationship></act></entry>`
	idlessLatex = `<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="active"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
    <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
    <value xsi:type="CD" code="419199007" codeSystem="2.16.840.1.113883.6.96" displayName="Allergy to substance"/>
    <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
      <code code="111088007" codeSystem="2.16.840.1.113883.6.96" displayName="Latex"/></playingEntity></participantRole></participant>
  </observation></entryRelationship></act></entry>`
	idlessHypertension = `<entry><act classCode="ACT" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
  <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code="%s"/>
  <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
    <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
    <effectiveTime><low value="20200101"/></effectiveTime>
    <value xsi:type="CD" code="38341003" codeSystem="2.16.840.1.113883.6.96" displayName="Hypertension"/>
  </observation></entryRelationship></act></entry>`
)

// versionDoc is a CCD of set SET-7, version n, whose id is DOC-<n>; for
// n > 1 it replaces DOC-<n-1> (relatedDocument RPLC).
func versionDoc(n int, allergies, problems string) []byte {
	related := ""
	if n > 1 {
		related = fmt.Sprintf(`<relatedDocument typeCode="RPLC"><parentDocument>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="DOC-%d"/>
  <setId root="2.16.840.1.113883.19.5.99999.19" extension="SET-7"/><versionNumber value="%d"/>
</parentDocument></relatedDocument>`, n-1, n-1)
	}
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="US"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="DOC-%d"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/><title>CCD</title>
  <effectiveTime value="2024010%d103000-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <setId root="2.16.840.1.113883.19.5.99999.19" extension="SET-7"/><versionNumber value="%d"/>
  <recordTarget><patientRole><id root="2.16.840.1.113883.19.5.99999.2" extension="MRN-RPLC"/>
    <patient><name><given>Rae</given><family>Placed</family></name>
    <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19700101"/></patient>
  </patientRole></recordTarget>
  %s
  <component><structuredBody>
    <component><section><templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
      <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>Allergies</title><text/>%s</section></component>
    <component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
      <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title><text/>%s</section></component>
  </structuredBody></component>
</ClinicalDocument>`, n, n, n, related, allergies, problems))
}

// ids lists the ids of the resources of type typ in b, in bundle order.
func ids(b *fhir.Bundle, typ string) []string {
	var out []string
	for _, e := range b.Entry {
		if e.Request != nil && strings.HasPrefix(e.Request.URL, typ+"/") {
			out = append(out, strings.TrimPrefix(e.Request.URL, typ+"/"))
		}
	}
	return out
}

func convertDoc(t *testing.T, raw []byte) (*fhir.Bundle, Result) {
	t.Helper()
	b, res, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b, res
}

// TestReplacementKeepsIdlessEntries converts version 1 of a document and
// the version 2 that replaces it (RPLC, same setId). The entries without
// ids that both carry must land on the same resources, even when version
// 2 changed their status or put a new entry before them; otherwise the
// exchange keeps both versions' copies of one allergy.
func TestReplacementKeepsIdlessEntries(t *testing.T) {
	v1, _ := convertDoc(t, versionDoc(1, fmt.Sprintf(idlessPenicillin, "active"), fmt.Sprintf(idlessHypertension, "active")))
	v2, _ := convertDoc(t, versionDoc(2, idlessLatex+fmt.Sprintf(idlessPenicillin, "active"), fmt.Sprintf(idlessHypertension, "completed")))
	a1, a2 := ids(v1, "AllergyIntolerance"), ids(v2, "AllergyIntolerance")
	if len(a1) != 1 || len(a2) != 2 {
		t.Fatalf("allergies: v1 %v, v2 %v", a1, a2)
	}
	if a2[1] != a1[0] {
		t.Errorf("v2's penicillin allergy is %s, v1's is %s: the replacement duplicates it", a2[1], a1[0])
	}
	if a2[0] == a1[0] {
		t.Errorf("v2's new latex allergy took v1's penicillin allergy's resource %s", a1[0])
	}
	c1, c2 := ids(v1, "Condition"), ids(v2, "Condition")
	if len(c1) != 1 || len(c2) != 1 || c1[0] != c2[0] {
		t.Errorf("conditions: v1 %v, v2 %v; want one, the same", c1, c2)
	}
	d1, d2 := ids(v1, "DocumentReference"), ids(v2, "DocumentReference")
	if len(d1) != 1 || len(d2) != 1 || d1[0] == d2[0] {
		t.Errorf("document references: v1 %v, v2 %v; want one each, different", d1, d2)
	}
}

// TestIdlessEntriesStayApart checks that two equal entries without ids in
// one document stay two resources: the key that makes a replacement's
// entry the same as its parent's never merges entries of one document.
func TestIdlessEntriesStayApart(t *testing.T) {
	pen := fmt.Sprintf(idlessPenicillin, "active")
	b, res := convertDoc(t, versionDoc(1, pen+pen+idlessLatex, ""))
	got := ids(b, "AllergyIntolerance")
	if len(got) != 3 || got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
		t.Errorf("allergies %v, want three different", got)
	}
	if res.Counts["AllergyIntolerance"] != 3 {
		t.Errorf("counts %v", res.Counts)
	}
}

// TestReplacementSupersedes checks the batch that marks the replaced
// document's DocumentReference superseded: a JSON Patch of its status at
// the id ferry gave it when it converted that document.
func TestReplacementSupersedes(t *testing.T) {
	v1, r1 := convertDoc(t, versionDoc(1, "", ""))
	if len(r1.Supersedes) != 0 || SupersedeBatch(v1, r1) != nil {
		t.Fatalf("an original supersedes %v", r1.Supersedes)
	}
	v2, r2 := convertDoc(t, versionDoc(2, "", ""))
	want := "DocumentReference/" + ids(v1, "DocumentReference")[0]
	if len(r2.Supersedes) != 1 || r2.Supersedes[0] != want {
		t.Fatalf("supersedes %v, want %s", r2.Supersedes, want)
	}
	sb := SupersedeBatch(v2, r2)
	if sb == nil || sb.Type != "batch" || len(sb.Entry) != 1 {
		t.Fatalf("batch %+v", sb)
	}
	e := sb.Entry[0]
	bin, ok := e.Resource.(*fhir.Binary)
	if e.Request.Method != "PATCH" || e.Request.URL != want || !ok || bin.ContentType != "application/json-patch+json" ||
		string(bin.Data) != `[{"op":"replace","path":"/status","value":"superseded"}]` {
		t.Errorf("entry %+v %s", e.Request, bin.Data)
	}
	if sb.Identifier == nil || sb.Identifier.Value != v2.Identifier.Value+"#supersede" {
		t.Errorf("identifier %+v", sb.Identifier)
	}
	for _, e := range v2.Entry {
		if dr, ok := e.Resource.(*fhir.DocumentReference); ok && (dr.Status != "current" || len(dr.RelatesTo) != 1 || dr.RelatesTo[0].Code != "replaces") {
			t.Errorf("v2 DocumentReference status %s relatesTo %+v", dr.Status, dr.RelatesTo)
		}
	}
	// In every write mode the PATCH goes where that mode wrote version 1's
	// DocumentReference, and version 2's id-less entries go where its went.
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		pen := fmt.Sprintf(idlessPenicillin, "active")
		b1, _, err1 := ConvertBytes(versionDoc(1, pen, ""), Options{Mode: mode})
		b2, r, err2 := ConvertBytes(versionDoc(2, idlessLatex+pen, ""), Options{Mode: mode})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		urls := func(b *fhir.Bundle, typ string) []string {
			var out []string
			for _, e := range b.Entry {
				if strings.HasPrefix(e.Request.URL, typ) {
					out = append(out, e.Request.URL)
				}
			}
			return out
		}
		if d1 := urls(b1, "DocumentReference"); len(r.Supersedes) != 1 || len(d1) != 1 || r.Supersedes[0] != d1[0] {
			t.Errorf("mode %d: supersedes %v, version 1 was written to %v", mode, r.Supersedes, d1)
		}
		if a1, a2 := urls(b1, "AllergyIntolerance"), urls(b2, "AllergyIntolerance"); len(a1) != 1 || len(a2) != 2 || a2[1] != a1[0] {
			t.Errorf("mode %d: allergies v1 %v, v2 %v", mode, a1, a2)
		}
	}
	// A document that names itself as its parent supersedes nothing.
	self := strings.Replace(string(versionDoc(2, "", "")), `extension="DOC-1"`, `extension="DOC-2"`, 1)
	if _, r := convertDoc(t, []byte(self)); len(r.Supersedes) != 0 {
		t.Errorf("a self-replacement supersedes %v", r.Supersedes)
	}
}

// post sends a transaction or batch to the stand-in exchange and returns
// the status of each answer entry.
func post(t *testing.T, ex *standin.Exchange, b *fhir.Bundle) []string {
	t.Helper()
	parts := []*fhir.Bundle{b}
	if b.Type == "transaction" {
		var err error
		if parts, err = Split(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	var status []string
	for _, p := range parts {
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		res := ex.Do(t, "POST", ex.URL, js)
		entries, _ := res["entry"].([]any)
		for _, e := range entries {
			r, _ := e.(map[string]any)["response"].(map[string]any)
			s, _ := r["status"].(string)
			status = append(status, s)
		}
	}
	return status
}

// TestExchangeReplacement sends version 1, then version 2 with its
// supersede batch, to the stand-in exchange (Medplum): it must end with
// one copy of each allergy and problem, version 1 superseded and version 2
// current; sending version 2 again changes nothing. On an exchange that
// never received version 1, version 2's transaction still succeeds and
// only the batch entry answers 404.
func TestExchangeReplacement(t *testing.T) {
	ex := standin.Start(t)
	v1, r1 := convertDoc(t, versionDoc(1, fmt.Sprintf(idlessPenicillin, "active"), fmt.Sprintf(idlessHypertension, "active")))
	v2, r2 := convertDoc(t, versionDoc(2, idlessLatex+fmt.Sprintf(idlessPenicillin, "active"), fmt.Sprintf(idlessHypertension, "completed")))
	post(t, ex, v1)
	if sb := SupersedeBatch(v1, r1); sb != nil {
		t.Fatal("v1 has a supersede batch")
	}
	counts := func() string {
		return fmt.Sprintf("AllergyIntolerance %d, Condition %d, DocumentReference %d",
			ex.Count(t, "AllergyIntolerance"), ex.Count(t, "Condition"), ex.Count(t, "DocumentReference"))
	}
	for round := 1; round <= 2; round++ {
		post(t, ex, v2)
		if sb := SupersedeBatch(v2, r2); sb == nil {
			t.Errorf("round %d: no supersede batch", round)
		} else if st := post(t, ex, sb); len(st) != 1 || !strings.HasPrefix(st[0], "200") {
			t.Fatalf("round %d: supersede batch answered %v", round, st)
		}
		if got, want := counts(), "AllergyIntolerance 2, Condition 1, DocumentReference 2"; got != want {
			t.Errorf("round %d: stored %s, want %s", round, got, want)
		}
		for i, id := range []string{ids(v1, "DocumentReference")[0], ids(v2, "DocumentReference")[0]} {
			dr := ex.Do(t, "GET", ex.URL+"/DocumentReference/"+id, nil)
			if want := []string{"superseded", "current"}[i]; dr["status"] != want {
				t.Errorf("round %d: v%d DocumentReference status %v, want %s", round, i+1, dr["status"], want)
			}
		}
		cond := ex.Do(t, "GET", ex.URL+"/Condition/"+ids(v2, "Condition")[0], nil)
		if cs, _ := json.Marshal(cond["clinicalStatus"]); !strings.Contains(string(cs), `"resolved"`) && !strings.Contains(string(cs), `"inactive"`) {
			t.Errorf("round %d: the problem keeps v1's status: %s", round, cs)
		}
	}

	fresh := standin.Start(t)
	for _, st := range post(t, fresh, v2) {
		if !strings.HasPrefix(st, "20") {
			t.Fatalf("v2 without v1: %s", st)
		}
	}
	if sb := SupersedeBatch(v2, r2); sb == nil {
		t.Error("no supersede batch")
	} else if st := post(t, fresh, sb); len(st) != 1 || !strings.HasPrefix(st[0], "404") {
		t.Errorf("supersede of a document the exchange never had answered %v, want 404", st)
	}
	if n := fresh.Count(t, "DocumentReference"); n != 1 {
		t.Errorf("DocumentReferences %d, want 1", n)
	}
}
