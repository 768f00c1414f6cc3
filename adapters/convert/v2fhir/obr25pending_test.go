package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestReportProcedureDoneResultsPending: OBR-25 N (table 0123, "Procedure
// completed, results pending"; it follows O, I or S and comes before P, A,
// R, F or X) made the report "unknown", a status the lab knows. It is a
// report with nothing to show yet, "registered", as O, I and S are; the
// IG's ResultStatus ConceptMap has no row for it. The codes it maps are
// as before.
func TestReportProcedureDoneResultsPending(t *testing.T) {
	for obr25, want := range map[string]string{"N": "registered", "I": "registered", "F": "final", "": "unknown"} {
		msg := "MSH|^~\\&|LAB|ACME|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|C9|P|2.5.1\n" +
			"PID|1||MRN1^^^CLINIC^MR||Doe^Pat||19780214|F\n" +
			"OBR|1|PL1|FL1|24331-1^Lipid panel^LN|||20240502083000|||||||||||||||20240502100000|||" + obr25 + "\n" +
			"OBX|1|NM|2093-3^Cholesterol^LN||||||||I\n"
		drs := entriesOf[fhir.DiagnosticReport](mustConvert(t, testConverter(t), msg))
		if len(drs) != 1 || drs[0].Status != want {
			t.Errorf("OBR-25 %q: %s, want status %s", obr25, toJSON(drs), want)
		}
	}
}
