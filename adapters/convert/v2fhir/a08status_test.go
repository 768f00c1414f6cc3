package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestA08EncounterStatus: an A08 updates patient information and says
// nothing of the visit's state, so its Encounter is status unknown, as the
// IG's ConceptMap of events to Encounter.status has it ("the status value
// cannot be set correctly"). It was in-progress: an A08 sent after the
// discharge without PV1-45 put a finished visit back in progress at the
// exchange. With PV1-45 the visit is finished, as before.
func TestA08EncounterStatus(t *testing.T) {
	for _, tc := range []struct{ name, pv145, want string }{
		{"no discharge time", "", "unknown"},
		{"discharged", "20240105120000", "finished"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240106120000||ADT^A08^ADT_A01|C1|P|2.5.1\nEVN|A08|20240106120000\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F\n" +
				"PV1|1|I|W1^1^A||||||||||||||||V100^^^HOSP^VN|||||||||||||||||||||||||20240101080000|" + tc.pv145
			encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
			if len(encs) != 1 {
				t.Fatalf("%d Encounters", len(encs))
			}
			if encs[0].Status != tc.want {
				t.Errorf("status %q, want %q", encs[0].Status, tc.want)
			}
		})
	}
}
