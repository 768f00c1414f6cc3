package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestStatusOnlyPadded: an OBX-11 "U" whose OBX-5 holds only padding (a
// space, as fixed-width senders write an empty field, or "~") says, as an
// empty one does, that the result sent before as preliminary is now
// final. It was written whole as an Observation without a value, which
// replaced the stored result's value at the exchange; like an empty
// OBX-5 it is now left out, its status following as a PATCH.
func TestStatusOnlyPadded(t *testing.T) {
	for _, value := range []string{" ", "~", "  ~ "} {
		msg := "MSH|^~\\&|LAB|L|||20240105101500||ORU^R01|C1|P|2.5.1\n" +
			"PID|1||555^^^HOSP^MR||Doe^Jane||19800101|F\n" +
			"OBR|1||F1^LAB|2345-7^Glucose^LN\n" +
			"OBX|1|NM|2345-7^Glucose^LN||" + value + "|mg/dL^^UCUM|||||U"
		c := testConverter(t)
		b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
		if err != nil {
			t.Fatal(err)
		}
		if obs := entriesOf[fhir.Observation](b); len(obs) != 0 || len(res.Finals) != 1 {
			t.Errorf("OBX-5 %q: observations %+v, status changes %q; want none and one", value, obs, res.Finals)
		}
	}
}
