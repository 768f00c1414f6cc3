package csvfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestUCUMColumnOnlyValidCodes: a valueQuantity.ucum column holds what
// the export writes, e.g. the corpus H&P's WBC unit "10+3/ul" or a feed's
// "mEq/L". It went out as a UCUM code, which the exchange's terminology
// validator rejects; now such a unit is Quantity.unit text only (values,
// comparators and reference ranges unchanged), and a real UCUM code keeps
// system and code.
func TestUCUMColumnOnlyValidCodes(t *testing.T) {
	m := labsMapping()
	m.Columns = append(m.Columns, Column{Header: "Low", Path: "referenceRange.low"}, Column{Header: "High", Path: "referenceRange.high"})
	in := "MRN,LOINC,Test,Result,Units,Date,Flag,Low,High\n" +
		"123,6690-2,WBC,6.7,10+3/ul,3/23/2000,N,4.3,10.8\n" +
		"123,2823-3,Potassium,>6.0,mEq/L,3/23/2000,H,3.5,5.1\n" +
		"123,2345-7,Glucose,105,mg/dL,3/23/2000,H,70,99\n"
	parts, err := Convert([]byte(in), m, Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if len(obs) != 3 {
		t.Fatalf("%d observations, want 3", len(obs))
	}
	for i, c := range []struct{ value, comparator, unit, code string }{
		{"6.7", "", "10+3/ul", ""},
		{"6.0", ">", "mEq/L", ""},
		{"105", "", "mg/dL", "mg/dL"},
	} {
		o := obs[i]
		q := o.ValueQuantity
		if q == nil || string(q.Value) != c.value || q.Comparator != c.comparator {
			t.Errorf("row %d: value %+v, want %s%s", i+1, q, c.comparator, c.value)
			continue
		}
		wantSys := ""
		if c.code != "" {
			wantSys = sysUCUM
		}
		qs := []*fhir.Quantity{q}
		if len(o.ReferenceRange) == 1 {
			qs = append(qs, o.ReferenceRange[0].Low, o.ReferenceRange[0].High)
		}
		for _, q := range qs {
			if q == nil {
				t.Errorf("row %d: reference range %+v", i+1, o.ReferenceRange)
				continue
			}
			if q.Unit != c.unit || q.System != wantSys || q.Code != c.code {
				t.Errorf("row %d: unit %q system %q code %q, want unit %q system %q code %q",
					i+1, q.Unit, q.System, q.Code, c.unit, wantSys, c.code)
			}
		}
	}
}
