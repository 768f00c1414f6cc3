package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSecondPatientGroupKeysItsOwnPatient: an ORU^R01 may carry several
// patient groups. Keys minted for the second patient's resources (a
// report without order numbers, its observations) must be scoped by that
// patient, not by the first PID of the message: else a report of patient
// B sent after patient A's group mints the key patient A's own report of
// the same test and time has in another message, and replaces it.
func TestSecondPatientGroupKeysItsOwnPatient(t *testing.T) {
	const msh = "MSH|^~\\&|LABSYS|ACMELAB|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|%s|P|2.5.1\n"
	const pidA = "PID|1||MRN-A^^^CLINIC^MR||Doe^Ann||19780214|F\n"
	const pidB = "PID|1||MRN-B^^^CLINIC^MR||Roe^Bob||19800101|M\n"
	const res = "OBR|1|||718-7^Hemoglobin^LN|||20240502083000\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|||||F|||20240502083000\n"
	obrA := "OBR|1|||2345-7^Glucose^LN|||20240502083000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|||||F|||20240502083000\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		keys := func(msg string) map[string]string {
			out := map[string]string{}
			for _, dr := range entriesOf[fhir.DiagnosticReport](mustConvert(t, c, msg)) {
				out[dr.Identifier[0].System+"|"+dr.Identifier[0].Value] = dr.Subject.Reference
			}
			return out
		}
		// Message 1: patient A (another test), then patient B's hemoglobin.
		both := keys(fmt.Sprintf(msh, "M1") + pidA + obrA + pidB + res)
		// Message 2: patient A's own hemoglobin at the same time.
		onlyA := keys(fmt.Sprintf(msh, "M2") + pidA + res)
		for k := range onlyA {
			if _, ok := both[k]; ok {
				t.Errorf("%s: patient A's report and patient B's report share the key %s", mode, k)
			}
		}
	}
}
