package ccdafhir

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestExchangeIdempotent converts C-CDA documents, splits them into
// ≤50-entry transactions, posts them to the stand-in exchange twice, and
// checks that the second round stores nothing new, that the Patient is
// found by its identifier, and that the DocumentReference points at the
// stored Binary.
func TestExchangeIdempotent(t *testing.T) {
	docs, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if len(docs) == 0 {
		docs, _ = filepath.Glob("../../../testdata/convert/ccda-*/input.xml")
	}
	ex := standin.Start(t)
	var bodies [][]byte
	for _, f := range docs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := ConvertBytes(raw, Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		parts, err := Split(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, js)
		}
	}
	types := []string{"Patient", "Practitioner", "Organization", "Encounter", "Condition", "AllergyIntolerance",
		"Medication", "MedicationStatement", "MedicationRequest", "Immunization", "Procedure", "Observation",
		"DiagnosticReport", "DocumentReference", "Binary", "Provenance"}
	snapshot := func() map[string]int {
		m := map[string]int{}
		for _, typ := range types {
			m[typ] = ex.Count(t, typ)
		}
		return m
	}
	for _, body := range bodies {
		ex.Do(t, "POST", ex.URL, body)
	}
	first := snapshot()
	if first["Patient"] == 0 || first["DocumentReference"] == 0 || first["Observation"] == 0 {
		t.Fatalf("nothing stored: %v", first)
	}
	for _, body := range bodies {
		ex.Do(t, "POST", ex.URL, body)
	}
	if second := snapshot(); !equalCounts(first, second) {
		t.Errorf("second round changed the store:\nfirst  %v\nsecond %v", first, second)
	}
	t.Logf("stored after two rounds of %d transactions: %v", len(bodies), first)

	raw, _ := os.ReadFile(docs[0])
	b, _, _ := ConvertBytes(raw, Options{})
	var dr map[string]any
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Patient:
			q := url.QueryEscape(r.Identifier[0].System + "|" + r.Identifier[0].Value)
			res := ex.Do(t, "GET", ex.URL+"/Patient?identifier="+q, nil)
			if n, _ := res["entry"].([]any); len(n) != 1 {
				t.Errorf("Patient?identifier: %d matches", len(n))
			}
		case *fhir.DocumentReference:
			dr = ex.Do(t, "GET", ex.URL+"/DocumentReference/"+r.ID, nil)
		}
	}
	if dr == nil {
		t.Fatal("DocumentReference not found")
	}
	att := dr["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	bin := ex.Do(t, "GET", ex.URL+"/"+att["url"].(string), nil)
	if bin["resourceType"] != "Binary" {
		t.Errorf("attachment url %v is not a stored Binary", att["url"])
	}
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
