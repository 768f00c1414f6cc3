package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestNRTextKeepsSign: a numeric range (OBX-2 NR) with a limit FHIR cannot
// read goes as text, low "-" high; the text was trimmed of dashes at both
// ends to drop the separator of a range open on one side, and so also of
// a negative low limit's minus sign: "-5" to "n/a" reached the exchange as
// "5-n/a". The sign stays; a range open on one side is still its one
// limit.
func TestNRTextKeepsSign(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-9|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24336-0^Gas panel^LN|||20240401090000\n" +
		"OBX|1|NR|1925-7^Base excess^LN||-5^n/a|mmol/L^^UCUM|||||F\n" +
		"OBX|2|NR|1925-7^Base excess^LN|2|^>3|mmol/L^^UCUM|||||F\n" +
		"OBX|3|NR|1925-7^Base excess^LN|3|<-2^|mmol/L^^UCUM|||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	for i, want := range []string{"-5-n/a", ">3", "<-2"} {
		if o := obs[i]; o.ValueString != want || o.ValueRange != nil {
			t.Errorf("OBX %d: %s, want valueString %q", i+1, toJSON(o), want)
		}
	}
}
