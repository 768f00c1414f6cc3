package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestVitalSignWithoutDate: FHIR R4's vital signs profile, which US
// Core's vital signs profiles derive from, makes effective[x] 1..1. A
// vital-signs row whose date cell is empty went out without any
// effectiveDateTime, and a validating exchange refused the transaction
// with the patient's other rows. Such a row is now a row error naming
// the date's column; a laboratory result may still come without one.
func TestVitalSignWithoutDate(t *testing.T) {
	m := labsMapping()
	m.Set = nil
	m.Columns = append(m.Columns, Column{Header: "Category", Path: "category"})
	in := "MRN,LOINC,Test,Result,Units,Date,Flag,Category\n" +
		"123,8867-4,Heart rate,72,/min,3/4/2024 8:05,,vital-signs\n" +
		"123,8867-4,Heart rate,75,/min,,,vital-signs\n" +
		"123,2345-7,Glucose,105,mg/dL,,,laboratory\n"
	_, err := Convert([]byte(in), m, Options{Base: "urn:ferry:site:test"})
	var rerr *Error
	if !errors.As(err, &rerr) {
		t.Fatalf("want a row error, got %v", err)
	}
	if len(rerr.Rows) != 1 || rerr.Rows[0].Line != 3 || rerr.Rows[0].Column != "Date" || !strings.Contains(rerr.Rows[0].Msg, "no date") {
		t.Fatalf("row errors %v, want line 3, column \"Date\", no date", err)
	}
}
