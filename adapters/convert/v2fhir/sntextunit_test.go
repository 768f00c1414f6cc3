package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSNTextKeepsUnit: an SN that is no quantity, range or ratio (not
// equal "<>", a range with a comparator, a number FHIR cannot read) goes
// as text, and the text left out its OBX-6 unit, so "<>^100" in mg/dL
// reached the exchange as "<>100" of nothing; the IG's OBX[Observation]
// map writes such an SN valueString OBX-5.1 + OBX-5.2 + OBX-5.3 + OBX-5.4
// + OBX-6. The unit now follows the text; an SN without OBX-6 (2+) is as
// before.
func TestSNTextKeepsUnit(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-5|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Metabolic panel^LN|||20240401090000\n" +
		"OBX|1|SN|2345-7^Glucose^LN||<>^100|mg/dL^milligrams per deciliter^UCUM|||||F\n" +
		"OBX|2|SN|2093-3^Cholesterol^LN||>^180^-^200|mg/dL^^UCUM|||||F\n" +
		"OBX|3|SN|5794-3^Hemoglobin [Presence] in Urine by Test strip^LN||^2^+||||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	for i, want := range []string{"<>100 milligrams per deciliter", ">180-200 mg/dL", "2+"} {
		if o := obs[i]; o.ValueString != want || o.ValueQuantity != nil || o.ValueRange != nil {
			t.Errorf("OBX %d: %s, want valueString %q", i+1, toJSON(o), want)
		}
	}
}
