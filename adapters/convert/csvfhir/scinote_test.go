package csvfhir

import (
	"testing"
)

// TestScientificNotationValue: a result in scientific notation, as
// analysers and LIS exports write a viral load (2.3E+04 copies/mL), is a
// number: FHIR R4's decimal takes an exponent
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?). It went out as
// valueString "2.3E+04", its unit dropped, so the exchange held the
// result per nothing.
func TestScientificNotationValue(t *testing.T) {
	m := labsMapping()
	parts, err := Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n"+
		"123,20447-9,HIV-1 RNA,2.3E+04,{copies}/mL,3/4/2024,H\n"+
		"123,20447-9,HIV-1 RNA,<2.0e1,{copies}/mL,3/5/2024,N\n"), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if len(obs) != 2 {
		t.Fatalf("%d observations, want 2", len(obs))
	}
	for i, want := range []struct{ value, comparator string }{{"2.3E+04", ""}, {"2.0e1", "<"}} {
		q := obs[i].ValueQuantity
		if q == nil || string(q.Value) != want.value || q.Comparator != want.comparator || q.Code != "{copies}/mL" {
			t.Errorf("row %d: valueQuantity %+v, valueString %q; want %s%s {copies}/mL", i+1, q, obs[i].ValueString, want.comparator, want.value)
		}
	}
	for in, want := range map[string]string{"1e3": "1e3", "-1.50E-03": "-1.50E-03", "007.5e+2": "7.5e+2", "-0e5": "0e5"} {
		if got, ok := decimal(in); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"1e", "1e+", "e5", "1E5.5", "1e5e5", "1.e3"} {
		if got, ok := decimal(in); ok {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}
