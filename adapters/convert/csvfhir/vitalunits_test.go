package csvfhir

import (
	"testing"
)

// TestVitalSignProfileUnits: FHIR R4's vital signs profiles, which US
// Core's derive from, fix the UCUM code of each measurement (heart and
// respiratory rate valueQuantity.code "/min", BMI "kg/m2", blood pressure
// "mm[Hg]") or bind it required (body height cm or [in_i]). A vital signs
// export's "{beats}/min", "1/min", "[in_us]" or a BMI of unit "1" went out
// as sent, so a validating exchange refused the row's Observation, as it
// refused a C-CDA's and an HL7 v2 message's. A UCUM unit saying what the
// profile's says is sent as the profile's (ucum.VitalUnit); one that
// says something else stays as it was.
func TestVitalSignProfileUnits(t *testing.T) {
	m := labsMapping()
	m.Set = map[string]string{"category": "vital-signs"}
	for _, tc := range []struct{ code, unit, want string }{
		{"8867-4", "{beats}/min", "/min"},
		{"9279-1", "1/min", "/min"},
		{"8302-2", "[in_us]", "[in_i]"},
		{"39156-5", "1", "kg/m2"},
		{"8867-4", "/min", "/min"},
		{"8302-2", "m", "m"}, // another unit: left as sent
	} {
		in := "MRN,LOINC,Test,Result,Units,Date,Flag\n123," + tc.code + ",Vital,72," + tc.unit + ",3/4/2024 8:05,\n"
		parts, err := Convert([]byte(in), m, Options{Base: "urn:ferry:site:test"})
		if err != nil {
			t.Fatal(err)
		}
		obs := observations(parts)
		if len(obs) != 1 || obs[0].ValueQuantity == nil {
			t.Fatalf("%s %s: %+v, want one Observation with a valueQuantity", tc.code, tc.unit, obs)
		}
		if q := obs[0].ValueQuantity; q.System != sysUCUM || q.Code != tc.want || string(q.Value) != "72" {
			t.Errorf("%s %s: valueQuantity %+v, want 72 UCUM %s", tc.code, tc.unit, q, tc.want)
		}
	}
}
