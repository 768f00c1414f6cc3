package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSpecimenWithoutIDStaysWithItsPatient: an OUL^R22 specimen group whose
// SPM has no specimen id (SPM-2) mints the Specimen's key. Two messages
// for two patients must not mint one key: the second patient's Specimen
// would replace the first's, and the first's results would point at a
// specimen of another patient. A re-send under a new MSH-10 keeps the key.
func TestSpecimenWithoutIDStaysWithItsPatient(t *testing.T) {
	const oul = "MSH|^~\\&|LABSYS|ACMELAB|FERRY|CLINIC|20240502101500||OUL^R22^OUL_R22|%s|P|2.5.1\n" +
		"PID|1||%s^^^CLINIC^MR||Doe^Pat||19780214|F\n" +
		"SPM|1|||BLD^Whole blood^HL70487|||||||||||||20240502083000\n" +
		"OBX|1|NM|20570-8^Hematocrit^LN||38.5|%%^%%^UCUM|||||F|||20240502083000\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control, mrn string) string {
			sps := entriesOf[fhir.Specimen](mustConvert(t, c, fmt.Sprintf(oul, control, mrn)))
			if len(sps) != 1 {
				t.Fatalf("%s: %d specimens", mode, len(sps))
			}
			return sps[0].Identifier[0].System + "|" + sps[0].Identifier[0].Value
		}
		a, b, again := key("M1", "MRN-A"), key("M2", "MRN-B"), key("M1-RESENT", "MRN-A")
		if a == b {
			t.Errorf("%s: two patients' specimens share the key %s", mode, a)
		}
		if a != again {
			t.Errorf("%s: re-sent under a new MSH-10 the specimen key moved from %s to %s", mode, a, again)
		}
	}
}
