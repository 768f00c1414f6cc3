package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBX7ReferenceRange: HL7 v2 OBX-7 writes a range "lower-upper", a
// lower limit alone "> lower" and an upper limit alone "< upper"; LRI
// feeds write "0 to 0.3", others space the dash. All but the plain
// "low-high" went out as referenceRange.text only, which no exchange can
// compare a value with. The clear forms are low and/or high in the OBX-6
// unit (a one-sided limit keeps its text, which says whether the bound
// itself is in range); what is not clear stays text.
func TestOBX7ReferenceRange(t *testing.T) {
	q := func(v string) string { return v + " 10*3/uL" }
	for _, c := range []struct{ obx7, low, high, text string }{
		{"3.5-5.1", q("3.5"), q("5.1"), ""},
		{"3.5 - 5.1", q("3.5"), q("5.1"), ""},
		{"0 to 0.3", q("0"), q("0.3"), ""},
		{"4300 TO 10800", q("4300"), q("10800"), ""},
		{"-10 to -5", q("-10"), q("-5"), ""}, // a base deficit: both limits negative
		{"-2 to 3", q("-2"), q("3"), ""},
		{"-3--1", q("-3"), q("-1"), ""},
		{"<5", "", q("5"), "<5"},
		{"< 5", "", q("5"), "< 5"},
		{"<=5", "", q("5"), "<=5"},
		{">60", q("60"), "", ">60"},
		{">= 60", q("60"), "", ">= 60"},
		{"0.3-", "", "", "0.3-"},
		{"negative", "", "", "negative"},
		{"<5 mg", "", "", "<5 mg"},
		{"1-2-3", "", "", "1-2-3"},
	} {
		msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
			"OBR|1|ORD-1^EHR|FIL-1^LAB|26444-0^Basophils^LN|||20240401090000\n" +
			"OBX|1|NM|26444-0^Basophils^LN||0.1|10*3/uL^thousand per microliter^UCUM|" + c.obx7 + "|N|||F\n"
		obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
		if len(obs) != 1 || len(obs[0].ReferenceRange) != 1 {
			t.Fatalf("%q: %d observations", c.obx7, len(obs))
		}
		rr := obs[0].ReferenceRange[0]
		str := func(q *fhir.Quantity) string {
			if q == nil {
				return ""
			}
			if q.Comparator != "" || q.System != sysUCUM {
				return "bad " + toJSON(q)
			}
			return string(q.Value) + " " + q.Code
		}
		if str(rr.Low) != c.low || str(rr.High) != c.high || rr.Text != c.text {
			t.Errorf("OBX-7 %q: low %q high %q text %q, want %q %q %q", c.obx7, str(rr.Low), str(rr.High), rr.Text, c.low, c.high, c.text)
		}
	}
}
