package v2fhir

import (
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

const obxReversedHead = "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
	"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
	"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n"

// TestOBXPeriodReversed: an OBX-2 DR value whose end is before its start
// was written as a valuePeriod breaking FHIR R4 per-1, and the exchange
// refused the results after ferry's AA. The value is the result itself,
// and which end is wrong it does not say: refused naming OBX-5, as a DR
// that cannot be read is.
func TestOBXPeriodReversed(t *testing.T) {
	b, _, err := testConverter(t).ConvertRaw([]byte(obxReversedHead + "OBX|1|DR|52455-2^Period of exposure^LN||20240131^20240101||||||F\n"))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "OBX-5" {
		var p *fhir.Period
		if err == nil {
			for _, o := range entriesOf[fhir.Observation](b) {
				p = o.ValuePeriod
			}
		}
		t.Errorf("DR: err %v, valuePeriod %+v (per-1 %v), want a content error naming OBX-5", err, p, perOne(p))
	}
}
