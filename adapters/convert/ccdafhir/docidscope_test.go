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
