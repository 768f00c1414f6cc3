package ccdafhir

import (
	"fmt"
	"strings"
	"testing"
)

// reusedDocIDPair is two patients' documents (Rae, Bob) from a sender that
// reuses one document id and one setId for every document it makes, both
// without any recordTarget id, and with the same entries without ids.
func reusedDocIDPair() (a, b []byte) {
	prob := fmt.Sprintf(idlessHypertension, "active")
	drop := func(s, mrn string) []byte {
		return []byte(strings.Replace(s, `<id root="2.16.840.1.113883.19.5.99999.2" extension="`+mrn+`"/>`, "", 1))
	}
	doc := string(versionDoc(1, idlessLatex, prob))
	other := strings.NewReplacer(`extension="MRN-RPLC"`, `extension="MRN-OTHER"`, "<given>Rae</given>", "<given>Bob</given>",
		`<birthTime value="19700101"/>`, `<birthTime value="19810304"/>`).Replace(doc)
	return drop(doc, "MRN-RPLC"), drop(other, "MRN-OTHER")
}

// TestReusedDocIDKeepsIdlessPatientsApart: a Patient without any usable id
// is minted from its document's id. When the sender reuses that id (and
// the setId) for two patients' documents, the two must not become one
// Patient, nor share the entries without ids: Bob's allergy would replace
// Rae's and both would be filed under one person. The same document
// again keeps its keys.
func TestReusedDocIDKeepsIdlessPatientsApart(t *testing.T) {
	da, db := reusedDocIDPair()
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		ba, _, err1 := ConvertBytes(da, Options{Mode: mode})
		bb, _, err2 := ConvertBytes(db, Options{Mode: mode})
		again, _, err3 := ConvertBytes(da, Options{Mode: mode})
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		for i, e := range ba.Entry {
			if again.Entry[i].Request.URL != e.Request.URL {
				t.Errorf("mode %d: the same document again writes %s, not %s", mode, again.Entry[i].Request.URL, e.Request.URL)
			}
			typ, _, _ := strings.Cut(strings.NewReplacer("?", "/").Replace(e.Request.URL), "/")
			if typ == "Practitioner" || typ == "Organization" || typ == "DocumentReference" {
				continue // shared; the document's own id is its business id
			}
			for _, f := range bb.Entry {
				if e.Request.URL == f.Request.URL {
					t.Errorf("mode %d: Rae's and Bob's documents both write %s", mode, e.Request.URL)
				}
			}
		}
	}
}

// visitDoc is versionDoc(n) of Rae with an encompassingEncounter without
// an id that started at when; rplc false makes it a document of its own
// (XFRM) under the setId its sender gives every document.
func visitDoc(n int, when string, rplc bool) []byte {
	doc := string(versionDoc(n, "", ""))
	if !rplc {
		doc = strings.Replace(doc, `<relatedDocument typeCode="RPLC">`, `<relatedDocument typeCode="XFRM">`, 1)
	}
	enc := `<componentOf><encompassingEncounter><code code="AMB" codeSystem="2.16.840.1.113883.5.4"/>` +
		`<effectiveTime><low value="` + when + `"/></effectiveTime></encompassingEncounter></componentOf>
  <component><structuredBody>`
	return []byte(strings.Replace(doc, "<component><structuredBody>", enc, 1))
}

// TestVisitsUnderOneSetIDStayApart: the encompassingEncounter without an
// id is minted under the setId. Two documents of one patient about two
// visits, from a sender that reuses one setId, must be two Encounters,
// not the second visit written over the first; a replacement (RPLC) of
// the first keeps its Encounter.
func TestVisitsUnderOneSetIDStayApart(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		enc := func(doc []byte) string {
			b, _, err := ConvertBytes(doc, Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range b.Entry {
				if strings.HasPrefix(e.Request.URL, "Encounter") {
					out = append(out, e.Request.URL)
				}
			}
			if len(out) != 1 {
				t.Fatalf("mode %d: encounters %v", mode, out)
			}
			return out[0]
		}
		first, second, replaced := enc(visitDoc(1, "20240101", false)), enc(visitDoc(2, "20240301", false)), enc(visitDoc(2, "20240101", true))
		if first == second {
			t.Errorf("mode %d: two visits are one Encounter %s", mode, first)
		}
		if first != replaced {
			t.Errorf("mode %d: the replacement moved the visit from %s to %s", mode, first, replaced)
		}
	}
}
