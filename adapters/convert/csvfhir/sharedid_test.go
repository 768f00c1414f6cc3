package csvfhir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accessionMapping is labsMapping with the order's accession number as
// the row identifier, as a lab export that has no result id is often
// mapped.
func accessionMapping() *Mapping {
	m := labsMapping()
	m.Identifier = &ColumnIdentifier{Column: "Accession", System: "urn:oid:2.16.840.1.113883.3.7777.4.9"}
	return m
}

// TestSharedRowIdentifierRefused: an identifier column that is not
// unique per row (the accession number every result of a blood count
// carries) gave the panel's rows one resource id, and all but the last
// result were dropped without a word while the file went to done/. The
// file is refused instead, naming the rows and the column; a row
// repeated, or a result corrected further down the same file (same
// test, same time), still goes once with the later row's value, and
// the same accession under another patient is another resource.
func TestSharedRowIdentifierRefused(t *testing.T) {
	const panel = "MRN,Accession,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,A24-0001,6690-2,WBC,7.2,10*3/uL,3/4/2024 8:05,N\n" +
		"123,A24-0001,718-7,Hgb,13.9,g/dL,3/4/2024 8:05,N\n" +
		"123,A24-0001,777-3,Platelets,250,10*3/uL,3/4/2024 8:05,N\n"
	path := filepath.Join(t.TempDir(), "labs-cbc.csv")
	if err := os.WriteFile(path, []byte(panel), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Convert(in, accessionMapping(), Options{})
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("a panel under one accession: %d observations, err %v; want its three results or a refusal naming the rows", len(observations(parts)), err)
	}
	msg := err.Error()
	for _, w := range []string{`line 3, column "Accession": the same row identifier as line 2`, `line 4, column "Accession": the same row identifier as line 2`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "A24-0001") {
		t.Errorf("error quotes the identifier without log_phi:\n%s", msg)
	}

	// The same result twice, corrected further down: one resource, the
	// later value.
	corrected := "MRN,Accession,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,A24-0001,718-7,Hgb,13.9,g/dL,3/4/2024 8:05,N\n" +
		"123,A24-0001,718-7,Hgb,12.9,g/dL,3/4/2024 8:05,N\n" +
		"456,A24-0001,6690-2,WBC,7.2,10*3/uL,3/4/2024 8:05,N\n"
	parts, err = Convert([]byte(corrected), accessionMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if len(obs) != 2 || obs[0].ValueQuantity == nil || obs[0].ValueQuantity.Value != "12.9" {
		t.Fatalf("corrected: %d observations, first %+v; want two, the later Hgb", len(obs), obs[0].ValueQuantity)
	}
}

// TestSharedRowIdentifierAcrossPatientsConditional: with writes
// conditional a row is written as PUT Observation?identifier=<its id>,
// which the exchange resolves by the identifier alone, whoever the
// patient: an id column that is unique only within a patient (a per-chart
// result number) made two patients' rows one request, so one patient's
// result overwrote the other's at the exchange. Such rows refuse the
// file in that mode; with ids (the resource id is scoped to the patient)
// they are two resources.
func TestSharedRowIdentifierAcrossPatientsConditional(t *testing.T) {
	const in = "MRN,Accession,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,1,718-7,Hgb,13.9,g/dL,3/4/2024 8:05,N\n" +
		"456,1,718-7,Hgb,11.2,g/dL,3/4/2024 8:05,N\n"
	parts, err := Convert([]byte(in), accessionMapping(), Options{Mode: ModeConditional})
	var re *Error
	if !errors.As(err, &re) {
		var urls []string
		for _, p := range parts {
			urls = append(urls, p.Bundle.Entry[1].Request.URL)
		}
		t.Fatalf("two patients' rows under one id with writes conditional: %v, err %v; want a refusal", urls, err)
	}
	if w := `line 3, column "Accession": the same row identifier as line 2, of another patient`; !strings.Contains(err.Error(), w) {
		t.Errorf("error lacks %q:\n%s", w, err)
	}
	parts, err = Convert([]byte(in), accessionMapping(), Options{Mode: ModeIDs})
	if err != nil {
		t.Fatal(err)
	}
	if obs := observations(parts); len(obs) != 2 || obs[0].ID == obs[1].ID {
		t.Fatalf("ids: %d observations", len(obs))
	}
}
