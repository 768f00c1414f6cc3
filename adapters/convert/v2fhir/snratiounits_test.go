package v2fhir

import (
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSNRatioUnits: an SN ratio (SN.3 ":" or "/", a titer 1:160) went out
// without the OBX-6 unit, though the IG's OBX[Observation] map gives OBX-6
// (CWE[Quantity]) to valueRatio.numerator and valueRatio.denominator both
// ("IF OBX-2 EQUALS "SN" AND ... OBX-5.3 IN (":", "/")"), as it gives it
// to a range's low and high: the exchange got a bare 1:160 where the lab
// said {titer}. Both now carry it (UCUM code and system when the unit is
// UCUM), the comparator stays on the numerator, and a ratio without OBX-6
// is unit-less as before.
func TestSNRatioUnits(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-2|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|5048-4^ANA titer^LN|||20240401090000\n" +
		"OBX|1|SN|5048-4^ANA titer^LN|1|^1^:^160|{titer}^titer^UCUM|<1:40|H|||F\n" +
		"OBX|2|SN|5048-4^ANA titer^LN|2|<^1^/^40|{titer}^titer^UCUM|<1:40|N|||F\n" +
		"OBX|3|SN|5048-4^ANA titer^LN|3|^1^:^80||<1:40|H|||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	titer := func(v json.Number, cmp string) *fhir.Quantity {
		return &fhir.Quantity{Value: v, Comparator: cmp, Unit: "titer", System: sysUCUM, Code: "{titer}"}
	}
	for i, want := range []fhir.Ratio{
		{Numerator: titer("1", ""), Denominator: titer("160", "")},
		{Numerator: titer("1", "<"), Denominator: titer("40", "")},
		{Numerator: &fhir.Quantity{Value: "1"}, Denominator: &fhir.Quantity{Value: "80"}},
	} {
		r := obs[i].ValueRatio
		if r == nil || r.Numerator == nil || r.Denominator == nil {
			t.Fatalf("OBX %d: valueRatio %+v", i+1, r)
		}
		if *r.Numerator != *want.Numerator || *r.Denominator != *want.Denominator {
			t.Errorf("OBX %d: ratio %+v : %+v, want %+v : %+v", i+1, *r.Numerator, *r.Denominator, *want.Numerator, *want.Denominator)
		}
	}
}
