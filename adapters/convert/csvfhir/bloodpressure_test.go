package csvfhir

import (
	"encoding/json"
	"testing"
)

// TestBloodPressureRow: a vital signs export writes a blood pressure as
// one row coded 85354-9 with the reading "132/86". It went out as
// valueString "132/86", though FHIR R4's blood pressure profile and US
// Core Blood Pressure want the systolic (8480-6) and diastolic (8462-4)
// readings as components, each a valueQuantity in mm[Hg], and no value
// of the Observation's own: no US Core client read it as a blood pressure.
func TestBloodPressureRow(t *testing.T) {
	m := labsMapping()
	m.Set = map[string]string{"category": "vital-signs"}
	in := "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,85354-9,Blood pressure,132/86,mm[Hg],3/4/2024 8:05,H\n" +
		"123,8867-4,Heart rate,72,/min,3/4/2024 8:05,\n"
	parts, err := Convert([]byte(in), m, Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if len(obs) != 2 {
		t.Fatalf("%d observations, want 2", len(obs))
	}
	bp := obs[0]
	b, _ := json.Marshal(bp)
	if bp.ValueString != "" || bp.ValueQuantity != nil || len(bp.Component) != 2 {
		t.Fatalf("blood pressure %s: want no value, a systolic and a diastolic component", b)
	}
	for i, want := range []struct{ code, value string }{{"8480-6", "132"}, {"8462-4", "86"}} {
		c := bp.Component[i]
		q := c.ValueQuantity
		if c.Code.Coding[0].System != "http://loinc.org" || c.Code.Coding[0].Code != want.code || q == nil ||
			string(q.Value) != want.value || q.System != sysUCUM || q.Code != "mm[Hg]" {
			t.Errorf("component %d of %s: want %s %s mm[Hg]", i, b, want.code, want.value)
		}
	}
	if obs[1].ValueQuantity == nil || string(obs[1].ValueQuantity.Value) != "72" {
		t.Errorf("heart rate %+v", obs[1].ValueQuantity)
	}
}
