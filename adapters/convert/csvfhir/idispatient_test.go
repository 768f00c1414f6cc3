package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestRowIdentifierIsNotThePatientColumn: a mapping whose identifier
// (the export's own id of a row) names the patient's column, as someone
// writes it who takes "identifier" for the patient's, gave every row of
// a patient one identifier, so the rows were taken as one row repeated
// and all but the last of each patient's results silently dropped.
// Validate refuses it, naming the field.
func TestRowIdentifierIsNotThePatientColumn(t *testing.T) {
	m := labsMapping()
	m.Identifier = &ColumnIdentifier{Column: " mrn", System: "urn:oid:2.16.840.1.113883.3.7777.4.7"}
	in := "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,2345-7,Glucose,105,mg/dL,3/4/2024 8:05,H\n" +
		"123,718-7,Hgb,13.1,g/dL,3/4/2024 8:05,N\n"
	parts, err := Convert([]byte(in), m, Options{})
	if !errors.Is(err, ErrMapping) || !strings.Contains(err.Error(), "identifier.column:") {
		t.Fatalf("Convert: %d observations, error %v; want the mapping refused at identifier.column", len(observations(parts)), err)
	}
}
