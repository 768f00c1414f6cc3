package v2fhir

import (
	"strings"
	"testing"
)

// TestDriversLicenseFieldKept: PID-20 (the patient's driver's license,
// DLN: number, issuing state, expiration date) is an identifier of the
// Patient in the IG's PID[Patient] map (DLN[Identifier]: type DL, the
// state its system, the expiration period.end), which an exchange
// matching patients compares; it was dropped. It is written under the
// state's system as a PID-3 license is, once when PID-3 lists it too, and
// never keys the patient; a number without its issuing state is left out.
func TestDriversLicenseFieldKept(t *testing.T) {
	for _, tc := range []struct{ pid3, pid20, want string }{
		{"123^^^HOSP^MR", "D1234567^CA^20301231", "urn:oid:2.16.840.1.113883.4.3.6|D1234567|DL|2030-12-31"},
		{"123^^^HOSP^MR~D1234567^^^CA^DL", "D1234567^CA", "urn:oid:2.16.840.1.113883.4.3.6|D1234567|DL|"},
		{"123^^^HOSP^MR", "X9^ZZ", ""},        // no state known by its code or a mapping: names no one for sure
		{"123^^^HOSP^MR", "DL^T05349638", ""}, // HL7's v2.8 sample: the number in the state's place
		{"123^^^HOSP^MR", "X9", ""},           // no state: names no one
	} {
		t.Run(tc.pid20, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||" + tc.pid3 + "||Doe^Jane||19900101|F||||||||||||" + tc.pid20
			c := testConverter(t)
			c.Mode = ModeID
			b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := patientOf(t, b)
			var got []string
			for _, id := range p.Identifier[1:] {
				s := id.System + "|" + id.Value + "|" + typeCode(&id) + "|"
				if id.Period != nil {
					s += id.Period.End
				}
				got = append(got, s)
			}
			if strings.Join(got, "; ") != tc.want {
				t.Errorf("identifiers after the MR %v, want %s", got, tc.want)
			}
			if res.PatientIdentifier.Value != "123" {
				t.Errorf("keyed by %s", res.PatientIdentifier.Value)
			}
		})
	}
}
