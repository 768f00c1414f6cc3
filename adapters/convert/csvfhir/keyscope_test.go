package csvfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestProceduresKnownByTheirEndStayApart: a procedure export whose only
// date is when the procedure finished (performedPeriod.end, which the
// mapping may give alone) and that has no id column. Two procedures of
// one patient with one code on two days are two facts and must mint two
// keys, not one resource the second day's row writes over; the same row
// again keeps its key, and the other patient's same row is theirs.
func TestProceduresKnownByTheirEndStayApart(t *testing.T) {
	m := &Mapping{Match: "proc.csv", Resource: "Procedure", TimeZone: "UTC",
		Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Code", Path: "code"}, {Header: "System", Path: "code.system"},
			{Header: "Finished", Path: "performedPeriod.end"}}}
	const csv = "MRN,Code,System,Finished\n" +
		"123,80146002,snomed,2024-03-04\n" +
		"123,80146002,snomed,2024-09-12\n" +
		"456,80146002,snomed,2024-03-04\n"
	keys := func() []string {
		parts, err := Convert([]byte(csv), m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range resources[fhir.Procedure](parts) {
			out = append(out, p.ID+" "+p.Identifier[0].Value)
		}
		if len(out) != 3 {
			t.Fatalf("%d procedures", len(out))
		}
		return out
	}
	k, again := keys(), keys()
	if k[0] == k[1] {
		t.Errorf("two procedures on two days share %s", k[0])
	}
	if k[0] == k[2] {
		t.Errorf("two patients' procedures share %s", k[0])
	}
	for i := range k {
		if k[i] != again[i] {
			t.Errorf("row %d again: %s, was %s", i, again[i], k[i])
		}
	}
}
