package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientIdentifierOnce: an older sender's PID-2 (external id) that
// repeats PID-3 (the shared corpus's MDM and SIMHOSP messages) is one
// identifier on the Patient, not the same system|value twice.
func TestPatientIdentifierOnce(t *testing.T) {
	const adt = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A08^ADT_A01|A8|P|2.3\n" +
		"EVN|A08|20240101120000\n" +
		"PID|1|3196695816^^^HOSP^MR|3196695816^^^HOSP^MR~6597923189^^^NHS^NH||Clark^Frederick||19300122|M\n"
	pts := entriesOf[fhir.Patient](mustConvert(t, testConverter(t), adt))
	if len(pts) != 1 {
		t.Fatalf("%d Patients", len(pts))
	}
	seen := map[string]bool{}
	for _, id := range pts[0].Identifier {
		k := id.System + "|" + id.Value
		if seen[k] {
			t.Errorf("identifier %s twice: %+v", k, pts[0].Identifier)
		}
		seen[k] = true
	}
	if len(seen) != 2 {
		t.Errorf("identifiers %v, want PID-3's two", seen)
	}
}
