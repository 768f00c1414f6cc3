package csvfhir

import (
	"strings"
	"testing"
)

// TestOpenQuoteNamesItsRow: a cell whose opening quote is never closed
// (a note typed with one '"') reads the lines after it as part of it,
// until the reader gives up at a later quote or the file's end. The error
// named only that place ("line 4, character 36"), a line with nothing
// wrong on it, and not the row that opened the quote; it now names both.
func TestOpenQuoteNamesItsRow(t *testing.T) {
	m := labsMapping()
	m.Columns = append(m.Columns, Column{Header: "Note", Path: "note"})
	in := "MRN,LOINC,Test,Result,Units,Date,Flag,Note\n" +
		"123,2345-7,Glucose,105,mg/dL,3/4/2024 8:05,H,\"fasting\n" +
		"123,718-7,Hgb,13,g/dL,3/4/2024,,\n" +
		"456,2345-7,Glucose,99,,3/5/2024,N,\n"
	_, err := Convert([]byte(in), m, Options{})
	if err == nil || !strings.Contains(err.Error(), "line 4, character 36") || !strings.Contains(err.Error(), "starts on line 2") {
		t.Fatalf("error %v: want the place the reader gave up (line 4) and the row that opened the quote (line 2)", err)
	}
	// A quote wrong on the row's own line names that line once.
	_, err = Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag,Note\n123,2345-7,Glu\"cose,105,mg/dL,3/4/2024,H,\n"), m, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "line 2, character 15: ") || strings.Contains(err.Error(), "starts on") {
		t.Fatalf("bare quote: %v", err)
	}
}
