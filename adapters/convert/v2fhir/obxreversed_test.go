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

// TestOBXRangeReversed: an OBX-2 NR value whose low is above its high
// was written as a valueRange breaking FHIR R4 rng-2 ("If present, low
// SHALL have a lower value than high"), as was an SN range (^10^-^5):
// the exchange refused the results after ferry's AA. Each is kept as the
// text sent, as one whose ends are not numbers is; one whose ends are
// equal is a range.
func TestOBXRangeReversed(t *testing.T) {
	c := testConverter(t)
	obs := entriesOf[fhir.Observation](mustConvert(t, c, obxReversedHead+
		"OBX|1|NR|2345-7^Glucose^LN||99^70|mg/dL^mg/dL^UCUM|||||F\n"+
		"OBX|2|NR|2345-7^Glucose^LN||70^70.0|mg/dL^mg/dL^UCUM|||||F\n"+
		"OBX|3|SN|2345-7^Glucose^LN||^10^-^5|mg/dL^mg/dL^UCUM|||||F\n"))
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	if r := obs[0].ValueRange; r != nil {
		t.Errorf("NR 99^70: valueRange low %s high %s (rng-2)", r.Low.Value, r.High.Value)
	} else if obs[0].ValueString != "99-70" {
		t.Errorf("NR 99^70: %s, want valueString 99-70", toJSON(obs[0]))
	}
	if r := obs[1].ValueRange; r == nil || r.Low == nil || r.High == nil {
		t.Errorf("NR 70^70.0: %s, want a valueRange", toJSON(obs[1]))
	}
	if r := obs[2].ValueRange; r != nil {
		t.Errorf("SN ^10^-^5: valueRange low %s high %s (rng-2)", r.Low.Value, r.High.Value)
	} else if obs[2].ValueString != "10-5 mg/dL" {
		t.Errorf("SN ^10^-^5: %s, want valueString 10-5 mg/dL", toJSON(obs[2]))
	}
}
