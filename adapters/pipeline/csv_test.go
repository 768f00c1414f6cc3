package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

func csvConv() CSV {
	return CSV{Folders: map[string][]csvfhir.Mapping{"ehr": {{
		Match: "labs*.csv", Resource: "Observation",
		Patient: &csvfhir.ColumnIdentifier{Column: "MRN", System: "urn:oid:1.2.3"},
		Columns: csvfhir.Columns{{Header: "LOINC", Path: "code"}, {Header: "Result", Path: "value"}},
	}}}}
}

// The CSV converter picks the folder's mapping by the file's name (an
// archive entry's own name inside a ZIP) and makes one unit per
// patient's transaction, keyed and labelled for the pipeline.
func TestCSVUnits(t *testing.T) {
	in := adapters.Raw{Name: "ehi.zip: export/labs_1.csv", Format: "csv",
		Body: []byte("MRN,LOINC,Result\n7,2345-7,105\n8,2345-7,99\n7,718-7,13.9\n"),
		Meta: map[string]string{"folder": "ehr", metaEntry: "export/labs_1.csv"}}
	units, err := csvConv().Convert(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].Key != fhir.PatientKey("urn:oid:1.2.3", "7") || units[1].Key != fhir.PatientKey("urn:oid:1.2.3", "8") {
		t.Fatalf("%d units", len(units))
	}
	u := units[0]
	if u.Name != "patient 1 (line 2)" || u.Attrs["rows"] != "2" || u.Attrs["type"] != "Observation" || !u.LabelsKnown || u.Dedup == [32]byte{} {
		t.Errorf("unit %q %v labels known %v", u.Name, u.Attrs, u.LabelsKnown)
	}
}

func TestCSVRefusals(t *testing.T) {
	c := csvConv()
	_, err := c.Convert(context.Background(), adapters.Raw{Name: "vitals.csv", Body: []byte("a\n1\n"), Meta: map[string]string{"folder": "ehr"}})
	if err == nil || !strings.Contains(err.Error(), `no csv mapping of folder "ehr" matches the name (mappings match "labs*.csv")`) {
		t.Errorf("unmatched: %v", err)
	}
	c.MaxBytes = 10
	_, err = c.Convert(context.Background(), adapters.Raw{Name: "labs.csv", Body: []byte("MRN,LOINC,Result\n7,2345-7,105\n"), Meta: map[string]string{"folder": "ehr"}})
	if err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("too large: %v", err)
	}
}
