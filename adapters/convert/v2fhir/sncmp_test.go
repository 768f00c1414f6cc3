package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSNComparatorKept: an SN's comparator (SN.1) was read only when the
// SN was a single number. A ratio "<^1^:^40" (a titer below 1:40) went
// out as the ratio 1:40, though the IG's SN[Ratio] map gives SN.1 (IF
// NOT EQUAL TO "=") to numerator.comparator; and "<>" (not equal to),
// which the IG's OBX[Observation] map makes valueString whatever SN.3
// is, became the range or ratio it excludes. A range has no comparator
// (the IG keeps it only in the original text), so a range with one stays
// text rather than reading as the plain range.
func TestSNComparatorKept(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|5048-4^ANA titer^LN|||20240401090000\n" +
		"OBX|1|SN|5048-4^ANA titer^LN|1|<^1^:^40||||||F\n" +
		"OBX|2|SN|5048-4^ANA titer^LN|2|=^1^:^160||||||F\n" +
		"OBX|3|SN|5048-4^ANA titer^LN|3|<>^1^:^40||||||F\n" +
		"OBX|4|SN|2093-3^Cholesterol^LN|4|<>^180^-^200|mg/dL^mg/dL^UCUM|||||F\n" +
		"OBX|5|SN|2093-3^Cholesterol^LN|5|>^180^-^200|mg/dL^mg/dL^UCUM|||||F\n" +
		"OBX|6|SN|2093-3^Cholesterol^LN|6|^180^-^200|mg/dL^mg/dL^UCUM|||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 6 {
		t.Fatalf("%d observations", len(obs))
	}
	if r := obs[0].ValueRatio; r == nil || r.Numerator.Comparator != "<" || r.Numerator.Value != "1" || r.Denominator.Value != "40" {
		t.Errorf("<^1^:^40: %s", toJSON(obs[0]))
	}
	if r := obs[1].ValueRatio; r == nil || r.Numerator.Comparator != "" || r.Denominator.Value != "160" {
		t.Errorf("=^1^:^160: %s", toJSON(obs[1]))
	}
	for i, want := range map[int]string{2: "<>1:40", 3: "<>180-200 mg/dL", 4: ">180-200 mg/dL"} {
		if o := obs[i]; o.ValueRatio != nil || o.ValueRange != nil || o.ValueString != want {
			t.Errorf("OBX %d: %s, want valueString %q", i+1, toJSON(o), want)
		}
	}
	if r := obs[5].ValueRange; r == nil || r.Low.Value != "180" || r.High.Value != "200" {
		t.Errorf("^180^-^200: %s", toJSON(obs[5]))
	}
}
