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

// TestValueRangeAndTiterKeepTheirUnit: a result that is not one number
// went out as valueString, and the row's unit was dropped: a urine
// sediment's "0-2" cells per high-power field became the text "0-2",
// per what unknown. FHIR R4 gives Observation.value[x] a Range (low and
// high, each a Quantity with the unit) and a Ratio, which its datatypes
// page names for titers ("1:128"); a comparator stays a Quantity's.
func TestValueRangeAndTiterKeepTheirUnit(t *testing.T) {
	in := "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,5821-4,WBC urine,0-2,/[HPF],3/4/2024,N\n" +
		"123,5821-4,WBC urine,5 - 10,/[HPF],3/5/2024,H\n" +
		"123,5048-4,ANA titer,1:40,{titer},3/4/2024,H\n" +
		"123,2345-7,Glucose,<5,mg/dL,3/4/2024,L\n" +
		"123,33914-3,eGFR,>60,mL/min/{1.73_m2},3/4/2024,N\n" +
		"123,5799-2,Nitrite,TNTC,/[HPF],3/4/2024,\n" +
		"123,5799-2,Nitrite,10-5,/[HPF],3/6/2024,\n" +
		"123,5799-2,Nitrite,08:30,,3/7/2024,\n"
	parts, err := Convert([]byte(in), labsMapping(), Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if len(obs) != 8 {
		t.Fatalf("%d observations, want 8", len(obs))
	}
	q := func(v, unit string) string {
		if unit == "" {
			return v
		}
		return v + " " + unit
	}
	show := func(x *fhir.Quantity) string {
		if x == nil {
			return "<nil>"
		}
		return x.Comparator + q(string(x.Value), x.Code)
	}
	got := func(o *fhir.Observation) string {
		switch {
		case o.ValueRange != nil:
			return "range " + show(o.ValueRange.Low) + " .. " + show(o.ValueRange.High)
		case o.ValueRatio != nil:
			return "ratio " + show(o.ValueRatio.Numerator) + " : " + show(o.ValueRatio.Denominator)
		case o.ValueQuantity != nil:
			return "quantity " + show(o.ValueQuantity)
		}
		return "string " + o.ValueString
	}
	for i, want := range []string{
		"range 0 /[HPF] .. 2 /[HPF]",
		"range 5 /[HPF] .. 10 /[HPF]",
		"ratio 1 : 40",
		"quantity <5 mg/dL",
		"quantity >60 mL/min/{1.73_m2}",
		"string TNTC",
		"string 10-5",  // low above high: not a range
		"string 08:30", // a time, not a titer
	} {
		if g := got(obs[i]); g != want {
			t.Errorf("row %d: %s, want %s", i+1, g, want)
		}
	}
	if r := obs[0].ValueRange; r != nil && (r.Low.Unit != "/[HPF]" || r.Low.System != sysUCUM) {
		t.Errorf("range low %+v: want unit and UCUM system", r.Low)
	}
}
