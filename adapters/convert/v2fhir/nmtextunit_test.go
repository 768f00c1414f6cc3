package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestNMTextKeepsUnit: an NM whose value is no number FHIR can read (a
// count sent as a span, "5-10" per high power field; a thousands
// separator) goes as text, and the text left out its OBX-6 unit, so a
// urine sediment's "5-10" /[HPF] reached the exchange as "5-10" of
// nothing, and "1,200" cells/uL as a bare 1,200. The unit now follows the
// text, as it does an SN's that is no quantity (TestSNTextKeepsUnit); a
// word with no amount in it ("pending") has none for a unit to count and
// stays as it was.
func TestNMTextKeepsUnit(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-8|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24357-6^Urinalysis macro and micro panel^LN|||20240401090000\n" +
		"OBX|1|NM|5821-4^Leukocytes [#/area] in Urine sediment^LN||5-10|/[HPF]^per high power field^UCUM|0-5||||F\n" +
		"OBX|2|NM|26464-8^Leukocytes [#/volume] in Blood^LN||1,200|{cells}/uL^^UCUM|||||F\n" +
		"OBX|3|NM|2345-7^Glucose^LN||pending|mg/dL^^UCUM|||||F\n" +
		"OBX|4|NM|5811-5^Specific gravity of Urine^LN||1.0.20||||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 4 {
		t.Fatalf("%d observations", len(obs))
	}
	for i, want := range []string{"5-10 per high power field", "1,200 {cells}/uL", "pending", "1.0.20"} {
		if o := obs[i]; o.ValueString != want || o.ValueQuantity != nil {
			t.Errorf("OBX %d: %s, want valueString %q", i+1, toJSON(o), want)
		}
	}
}
