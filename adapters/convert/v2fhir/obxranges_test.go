package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXDateRangeAndNumericRange: the IG's OBX[Observation] map gives
// OBX-2 DR (date/time range) valuePeriod (DR[Period]: DR.1 start, DR.2
// end) and NR (numeric range) valueRange (NR[Range]: NR.1 low, NR.2
// high). Both went out as valueString with the components' separators
// ("20240101^20240131"), which no exchange reads as dates or numbers.
func TestOBXDateRangeAndNumericRange(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
		"OBX|1|DR|52455-2^Period of exposure^LN||20240101^20240131||||||F\n" +
		"OBX|2|NR|2345-7^Glucose^LN||70^99|mg/dL^mg/dL^UCUM|||||F\n" +
		"OBX|3|NR|2345-7^Glucose^LN|2|^140|mg/dL^mg/dL^UCUM|||||F\n" +
		"OBX|4|DR|52455-2^Period of exposure^LN|2|20240101~20240201^20240301||||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 4 {
		t.Fatalf("%d observations", len(obs))
	}
	if p := obs[0].ValuePeriod; p == nil || p.Start != "2024-01-01" || p.End != "2024-01-31" || obs[0].ValueString != "" {
		t.Errorf("DR: %s", toJSON(obs[0]))
	}
	q := func(q *fhir.Quantity) string {
		if q == nil {
			return ""
		}
		return string(q.Value) + " " + q.Code
	}
	if r := obs[1].ValueRange; r == nil || q(r.Low) != "70 mg/dL" || q(r.High) != "99 mg/dL" || obs[1].ValueString != "" {
		t.Errorf("NR: %s", toJSON(obs[1]))
	}
	if r := obs[2].ValueRange; r == nil || r.Low != nil || q(r.High) != "140 mg/dL" {
		t.Errorf("NR without low: %s", toJSON(obs[2]))
	}
	if c := obs[3].Component; len(c) != 2 || c[0].ValuePeriod == nil || c[0].ValuePeriod.Start != "2024-01-01" ||
		c[1].ValuePeriod == nil || c[1].ValuePeriod.Start != "2024-02-01" || c[1].ValuePeriod.End != "2024-03-01" {
		t.Errorf("DR repeated: %s", toJSON(obs[3]))
	}
}
