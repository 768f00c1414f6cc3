package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestSpreadsheetRoundedIdentifiers: an export opened in Excel and saved
// again has its long numeric ids written in scientific notation
// (123456789012 and 123457000001 both become 1.23457E+11). The rows of
// different patients were filed to one patient "1.23457E+11", and rows
// with different result ids were taken as one row, the later kept. Such
// an identifier is now a row error naming its column.
func TestSpreadsheetRoundedIdentifiers(t *testing.T) {
	m := labsMapping()
	m.Identifier = &ColumnIdentifier{Column: "ResultID", System: "urn:oid:2.16.840.1.113883.3.7777.4.7"}
	_, err := Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag,ResultID\n"+
		"1.23457E+11,2345-7,Glucose,105,mg/dL,3/4/2024,H,1\n"+
		"1.23457E+11,2345-7,Glucose,99,mg/dL,3/4/2024,N,2\n"+
		"123,2345-7,Glucose,99,mg/dL,3/4/2024,N,9.87654E+14\n"+
		"123,2345-7,Glucose,98,mg/dL,3/4/2024,N,1E+15\n"), m, Options{})
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("err %v, want *Error", err)
	}
	want := []string{
		`line 2, column "MRN": `,
		`line 3, column "MRN": `,
		`line 4, column "ResultID": `,
		`line 5, column "ResultID": `,
	}
	if len(fe.Rows) != len(want) {
		t.Fatalf("%d row errors, want %d:\n%v", len(fe.Rows), len(want), err)
	}
	for i, w := range want {
		if s := fe.Rows[i].String(); !strings.HasPrefix(s, w) || !strings.Contains(s, "scientific notation") {
			t.Errorf("error %d: %s, want %s... scientific notation", i, s, w)
		}
	}

	// A Patient row's chart number too; ordinary ids still pass.
	_, err = Convert([]byte("MRN,Last,First,Sex,DOB\n4.56789E+12,Smith,John,M,1970-01-02\n"), patientsMapping(), Options{})
	if !errors.As(err, &fe) || len(fe.Rows) != 1 || fe.Rows[0].Column != "MRN" {
		t.Errorf("patients: %v, want the MRN refused", err)
	}
	onePatient(t, []byte("MRN,Last,First,Sex,DOB\n7,Smith,John,M,1970-01-02\n"), patientsMapping())
	if _, err := Convert([]byte("MRN,Last,First,Sex,DOB\nE+11,Smith,John,M,1970-01-02\n1E5,Doe,Jane,F,1970-01-02\n"), patientsMapping(), Options{}); err != nil {
		t.Errorf("ids that are no rounded number: %v", err)
	}
}
