package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignProfileUnits: FHIR R4's vital signs profiles, which US
// Core's derive from, fix the UCUM code of each measurement (heart and
// respiratory rate valueQuantity.code "/min", BMI "kg/m2", blood pressure
// components "mm[Hg]") or bind it required (body height cm or [in_i]).
// Monitors and EHRs send rates in UCUM as "{beats}/min" or "1/min" and a
// height in "[in_us]": each went out as sent, so a validating exchange
// refused the Observation and the transaction with it, as C-CDA's did
// before. A UCUM unit that says the same as the profile's is sent as the
// profile's, in the value, the reference range and a blood pressure's
// components; one that says something else stays as it was.
func TestVitalSignProfileUnits(t *testing.T) {
	for _, tc := range []struct{ code, value, unit, want string }{
		{"8867-4", "72", "{beats}/min^beats per minute^UCUM", "/min"},
		{"9279-1", "16", "1/min^^UCUM", "/min"},
		{"9279-1", "16", "{breaths}/min^^UCUM", "/min"},
		{"8302-2", "70", "[in_us]^inch^UCUM", "[in_i]"},
		{"39156-5", "28", "1^^UCUM", "kg/m2"},
		{"8867-4", "72", "/min^^UCUM", "/min"},
		{"8302-2", "1.8", "m^^UCUM", "m"}, // another unit: left as sent
	} {
		msg := `MSH|^~\&|MON|CLINIC|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U300|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^MON|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|` + tc.code + `^Vital^LN||` + tc.value + `|` + tc.unit + `|1-200||||F`
		obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
		if len(obs) != 1 || obs[0].ValueQuantity == nil {
			t.Fatalf("%s %s: %+v, want one Observation with a valueQuantity", tc.code, tc.unit, obs)
		}
		q := obs[0].ValueQuantity
		if q.System != "http://unitsofmeasure.org" || q.Code != tc.want || string(q.Value) != tc.value {
			t.Errorf("%s %s: valueQuantity %+v, want %s UCUM %s", tc.code, tc.unit, q, tc.value, tc.want)
		}
		if rr := obs[0].ReferenceRange; len(rr) != 1 || rr[0].High == nil || rr[0].High.Code != tc.want {
			t.Errorf("%s %s: referenceRange %+v, want its unit %s", tc.code, tc.unit, rr, tc.want)
		}
	}

	// A blood pressure sent as one OBX: its components take the unit.
	msg := `MSH|^~\&|MON|CLINIC|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U301|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^MON|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|SN|85354-9^Blood pressure^LN||^120^/^80|mm[Hg]{BP}^^UCUM|||||F`
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 1 || len(obs[0].Component) != 2 {
		t.Fatalf("blood pressure: %+v, want one Observation with two components", obs)
	}
	for _, c := range obs[0].Component {
		if q := c.ValueQuantity; q == nil || q.System != "http://unitsofmeasure.org" || q.Code != "mm[Hg]" {
			t.Errorf("blood pressure component %s: valueQuantity %+v, want UCUM mm[Hg]", c.Code.Coding[0].Code, q)
		}
	}
}
