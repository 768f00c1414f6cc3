package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestNullMarkersAreEmpty: SQL Server Management Studio's "Save Results
// As" writes a NULL column as the word NULL, MySQL's SELECT INTO OUTFILE
// as \N. A NULL date failed the whole file ("not a date"), a NULL in a
// mapped column was "not in the column's map", a NULL middle name went
// to the exchange as a given name, a NULL result as the text "NULL",
// and the rows of every NULL chart number became one patient's. Such a
// cell is now empty: left out where it may be, an error where the
// column is required or identifies the patient; other words that are
// no value (N/A) are still read as values and refused where they do
// not fit.
func TestNullMarkersAreEmpty(t *testing.T) {
	m := patientsMapping()
	m.Columns = append(m.Columns, Column{Header: "Middle", Path: "name.given"}, Column{Header: "Phone", Path: "telecom.phone"})
	p := onePatient(t, []byte("MRN,Last,First,Sex,DOB,Middle,Phone\n7,Smith,John,NULL,NULL,NULL,\\N\n"), m)
	if p.BirthDate != "" || p.Gender != "unknown" || len(p.Telecom) != 0 {
		t.Errorf("birthDate %q gender %q telecom %+v: want none, unknown, none", p.BirthDate, p.Gender, p.Telecom)
	}
	if g := p.Name[0].Given; len(g) != 1 || g[0] != "John" {
		t.Errorf("given %q, want [John]", g)
	}

	labs := labsMapping()
	parts, err := Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n"+
		"123,2345-7,Glucose,NULL,NULL,NULL,NULL\n"), labs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := observations(parts)[0]
	if o.ValueString != "" || o.ValueQuantity != nil || o.DataAbsentReason == nil || o.EffectiveDateTime != "" || o.Interpretation != nil {
		t.Errorf("observation %+v: want no value (data-absent-reason), no time, no flag", o)
	}

	// A NULL chart number names no patient; a NULL in a required column
	// is empty; a map that names NULL still reads it.
	labs.Columns[4].Required = true
	_, err = Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n"+
		"NULL,2345-7,Glucose,5,mg/dL,3/4/2024,N\n"+
		"\\N,2345-7,Glucose,6,mg/dL,3/4/2024,N\n"+
		"123,2345-7,Glucose,7,mg/dL,NULL,N\n"+
		"123,2345-7,Glucose,8,mg/dL,N/A,N\n"), labs, Options{})
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("err %v, want *Error", err)
	}
	want := []string{
		`line 2, column "MRN": no patient identifier`,
		`line 3, column "MRN": no patient identifier`,
		`line 4, column "Date": empty, but the column is required`,
		`line 5, column "Date": not a date`,
	}
	if len(fe.Rows) != len(want) {
		t.Fatalf("%d row errors, want %d:\n%v", len(fe.Rows), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(fe.Rows[i].String(), w) {
			t.Errorf("error %d: %s, want %s...", i, fe.Rows[i].String(), w)
		}
	}

	labs = labsMapping()
	labs.Columns[5].Map["NULL"] = "N"
	parts, err = Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n123,2345-7,Glucose,5,mg/dL,3/4/2024,NULL\n"), labs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := observations(parts)[0]; len(o.Interpretation) != 1 || o.Interpretation[0].Coding[0].Code != "N" {
		t.Errorf("interpretation %+v, want N from the map's NULL", o.Interpretation)
	}
}
