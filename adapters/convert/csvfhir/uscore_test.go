package csvfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientNameTextAlone: a report extract often has one name column
// ("SMITH, JOHN A"), mapped to name.text, which the README allows in
// place of family and given. US Core Patient's us-core-6 wants each name
// to have a family or given part, or else the data-absent-reason
// extension: "(family.exists() or given.exists()) xor
// extension.where(url='.../data-absent-reason').exists()". A name with
// text alone failed it, so a validating exchange refused the Patient row.
// Now such a name keeps its text and says its parts are absent; a name
// with parts carries no extension.
func TestPatientNameTextAlone(t *testing.T) {
	m := &Mapping{Match: "p.csv", Resource: "Patient", Identifier: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Name", Path: "name.text"}, {Header: "Last", Path: "name.family"}}}
	in := "MRN,Name,Last\n7,\"SMITH, JOHN A\",\n8,John Smith,Smith\n"
	parts, err := Convert([]byte(in), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := resources[fhir.Patient](parts)
	if len(ps) != 2 {
		t.Fatalf("%d patients", len(ps))
	}
	for i, p := range ps {
		if len(p.Name) != 1 {
			t.Fatalf("patient %d: names %+v", i+1, p.Name)
		}
		n := p.Name[0]
		parts := n.Family != "" || len(n.Given) > 0
		dar := 0
		for _, e := range n.Extension {
			if e.URL == urlDataAbsent && e.ValueCode != "" {
				dar++
			}
		}
		if parts == (dar > 0) || dar > 1 {
			t.Errorf("patient %d: name %+v fails us-core-6 (family or given, xor one data-absent-reason)", i+1, n)
		}
	}
	if ps[0].Name[0].Text != "SMITH, JOHN A" {
		t.Errorf("name text %q, want the cell", ps[0].Name[0].Text)
	}
	if ps[1].Name[0].Family != "Smith" || ps[1].Name[0].Text != "John Smith" {
		t.Errorf("name %+v", ps[1].Name[0])
	}
}
