package csvfhir

import (
	"errors"
	"testing"
)

// TestSpreadsheetRoundedIdentifiersDecimalComma: Excel in a locale with
// a decimal comma (German, French ...; its CSV is ';'-delimited) saves
// a long chart number as 1,23457E+11, not 1.23457E+11. Only the point
// was recognised, so the rows of two patients, 123456789012 and
// 123457000001, were filed to one patient "1,23457E+11".
func TestSpreadsheetRoundedIdentifiersDecimalComma(t *testing.T) {
	m := labsMapping()
	m.DecimalSeparator = ","
	_, err := Convert([]byte("MRN;LOINC;Test;Result;Units;Date;Flag\n"+
		"1,23457E+11;2345-7;Glucose;5,4;mmol/L;3/4/2024;H\n"+
		"1,23457E+11;2345-7;Glucose;6,1;mmol/L;3/4/2024;N\n"), m, Options{})
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Rows) != 2 || fe.Rows[0].Column != "MRN" || fe.Rows[1].Column != "MRN" {
		t.Fatalf("err %v, want both rows refused at MRN", err)
	}
	// An id with a comma that is no such number still passes.
	if _, err := Convert([]byte("MRN;LOINC;Test;Result;Units;Date;Flag\n12,34E+5X;2345-7;Glucose;5,4;mmol/L;3/4/2024;H\n"), m, Options{}); err != nil {
		t.Errorf("an id that is no rounded number: %v", err)
	}
}
