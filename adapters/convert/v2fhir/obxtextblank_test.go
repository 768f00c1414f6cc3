package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestTextOBXOnlyEmptyRepetitions: a text OBX (ST, TX, FT) whose OBX-5 is
// only empty repetitions ("~", " ~ ", the explicit null twice) says no
// more than an empty one, as a numeric OBX-5 of that shape does. It went
// out as the value "\n" (its empty lines joined): with OBX-11 F a result
// without a value or a dataAbsentReason (us-core-2), and with OBX-11 U,
// written whole, it replaced the text of the preliminary result at the
// exchange with a line break, where it should be left out and its status
// patched.
func TestTextOBXOnlyEmptyRepetitions(t *testing.T) {
	for _, typ := range []string{"ST", "TX", "FT"} {
		for _, value := range []string{"~", " ~ ", "\"\"~\"\"", "~~"} {
			msg := "MSH|^~\\&|LAB|ACME|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|C3|P|2.5.1\n" +
				"PID|1||MRN1^^^CLINIC^MR||Doe^Pat||19780214|F\n" +
				"OBR|1|PL1|FL1|11529-5^Surgical pathology study^LN|||20240502083000\n" +
				"OBX|1|" + typ + "|22637-3^Final diagnosis^LN||" + value + "||||||F\n" +
				"OBX|2|" + typ + "|22634-0^Gross observation^LN||" + value + "||||||U"
			c := testConverter(t)
			b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			obs := entriesOf[fhir.Observation](b)
			if len(obs) != 1 || len(res.Finals) != 1 {
				t.Fatalf("%s %q: %d observations, status changes %q; want the F one written and the U one patched", typ, value, len(obs), res.Finals)
			}
			if o := obs[0]; o.ValueString != "" || o.DataAbsentReason == nil || o.DataAbsentReason.Coding[0].Code != "unknown" {
				t.Errorf("%s %q: valueString %q, dataAbsentReason %+v; want none and unknown", typ, value, o.ValueString, o.DataAbsentReason)
			}
		}
	}
}
