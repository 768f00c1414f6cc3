package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPractitionerNamedOnceInMessage: a message that names a doctor by id
// alone in one field (PV1-7 "1234^^^^^^^^HOSP", as feeds send it in the
// fields they fill from a provider master file) and by id and name in
// another (PV1-17) wrote the one Practitioner as the first field had it,
// without a name, and that PUT replaced the name the exchange held for
// the doctor. The Practitioner now has the name the message gives.
func TestPractitionerNamedOnceInMessage(t *testing.T) {
	msg := "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\n" +
		"EVN|A01|20240101120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E|||1234^^^^^^^^HOSP|||MED||||7|||1234^Smith^John^^^Dr.^^^HOSP||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		b := mustConvert(t, c, msg)
		strictR4(t, marshal(t, b))
		ps := entriesOf[fhir.Practitioner](b)
		if len(ps) != 1 {
			t.Fatalf("%s: %d Practitioners, want 1: %s", mode, len(ps), toJSON(ps))
		}
		if len(ps[0].Name) != 1 || ps[0].Name[0].Family != "Smith" {
			t.Errorf("%s: the doctor PV1-17 names is written %s", mode, toJSON(ps[0]))
		}
		// PV1-7 comes first, before the name: a reference by the
		// identifier the Practitioner carries (nameless).
		enc := entriesOf[fhir.Encounter](b)[0]
		if len(enc.Participant) != 2 || enc.Participant[0].Individual.Identifier == nil ||
			*enc.Participant[0].Individual.Identifier != ps[0].Identifier[0] || enc.Participant[1].Individual.Reference == "" {
			t.Errorf("%s: participants %s, want the attending and admitting doctor one", mode, toJSON(enc.Participant))
		}
	}
}
