package csvfhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
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

// TestBloodPressureReadingRows: most vital signs exports write a blood
// pressure as two rows, the systolic (8480-6) and the diastolic (8462-4)
// reading of one time. They went out as two Observations and no blood
// pressure, though FHIR R4's bp profile and US Core Blood Pressure want
// the two as the components of one Observation coded 85354-9, which is
// what a US Core client searches for; the HL7 v2 converter adds it for a
// report's two OBX. The export's two rows now add that Observation,
// derived from them, in the same transaction (whatever its size), with
// an identifier of its own that the same rows give again; a reading
// without its partner, or the export's own 85354-9 row, adds none.
func TestBloodPressureReadingRows(t *testing.T) {
	m := labsMapping()
	m.Set = map[string]string{"category": "vital-signs"}
	in := "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,8867-4,Heart rate,72,/min,3/4/2024 8:05,\n" +
		"123,9279-1,Respiratory rate,16,/min,3/4/2024 8:05,\n" +
		"123,8480-6,Systolic,132,mm[Hg],3/4/2024 8:05,H\n" +
		"123,8462-4,Diastolic,86,mm[Hg],3/4/2024 8:05,\n" +
		"123,8480-6,Systolic,128,mm[Hg],3/5/2024 9:00,\n" +
		"123,8480-6,Systolic,120,mm[Hg],3/6/2024 9:00,\n" +
		"123,85354-9,Blood pressure,120/80,mm[Hg],3/6/2024 9:00,\n" +
		"123,8462-4,Diastolic,80,mm[Hg],3/6/2024 9:00,\n"
	for _, mode := range []Mode{ModePatientConditional, ModeIDs, ModeConditional} {
		opts := Options{Base: "urn:ferry:site:test", Mode: mode, MaxEntries: 4}
		parts, err := Convert([]byte(in), m, opts)
		if err != nil {
			t.Fatal(err)
		}
		var panels []*fhir.Observation
		rows := 0
		for _, p := range parts {
			rows += p.Rows
			urls := map[string]*fhir.Observation{}
			for _, e := range p.Bundle.Entry {
				if o, ok := e.Resource.(*fhir.Observation); ok {
					urls[e.FullURL] = o
				}
			}
			for _, o := range urls {
				if o.Code.Coding[0].Code != "85354-9" || o.ValueString != "" {
					continue // the export's own blood pressure has its reading as components
				}
				if len(o.Component) != 2 || o.Component[0].Code.Coding[0].Code != "8480-6" || o.Component[1].Code.Coding[0].Code != "8462-4" {
					continue
				}
				if o.ValueQuantity != nil || len(o.DerivedFrom) != 2 {
					if o.EffectiveDateTime != "2024-03-06T09:00:00-05:00" || len(o.DerivedFrom) != 0 {
						t.Errorf("mode %d: blood pressure %+v", mode, o)
					}
					panels = append(panels, o) // the export's own
					continue
				}
				for i, ref := range o.DerivedFrom {
					if r := urls[ref.Reference]; r == nil || r.Code.Coding[0].Code != o.Component[i].Code.Coding[0].Code {
						t.Errorf("mode %d: derivedFrom %+v is no reading of the same transaction", mode, ref)
					}
				}
				panels = append(panels, o)
			}
		}
		if rows != 8 {
			t.Errorf("mode %d: parts count %d rows, want the file's 8", mode, rows)
		}
		// The export's own 85354-9 row at 3/6 is the blood pressure of
		// that time: one more is not made.
		if len(panels) != 2 {
			t.Fatalf("mode %d: %d blood pressures with readings as components, want the 3/4 one and the export's own of 3/6", mode, len(panels))
		}
		var made *fhir.Observation
		for _, o := range panels {
			if o.EffectiveDateTime == "2024-03-04T08:05:00-05:00" {
				made = o
			}
		}
		if made == nil || string(made.Component[0].ValueQuantity.Value) != "132" || string(made.Component[1].ValueQuantity.Value) != "86" ||
			len(made.Component[0].Interpretation) != 1 || made.Category[0].Coding[0].Code != "vital-signs" || made.Status != "final" ||
			len(made.Identifier) != 1 || !strings.HasPrefix(made.Identifier[0].System, "urn:ferry:site:test:csv:") {
			t.Fatalf("mode %d: blood pressure of 3/4: %+v", mode, made)
		}
		again, err := Convert([]byte(in), m, opts)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(parts)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Errorf("mode %d: the same file converts to other bundles", mode)
		}
	}
}
