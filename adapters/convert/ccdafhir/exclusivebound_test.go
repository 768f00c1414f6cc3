package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestExclusiveBoundIsComparator: a result below the assay's limit
// ("<0.01 ng/mL") or above the reported range (an eGFR ">60") is written
// in C-CDA as an IVL_PQ with one bound, inclusive="false" (IVXB_PQ: "whether
// the limit is included in the interval"), often beside a nullFlavor PINF
// or NINF for the other. It went out as a valueRange of that bound, which
// FHIR R4 reads as including it ("The low and high values are inclusive"):
// the troponin "less than 0.01" reached the exchange as "up to 0.01"
// inclusive, the eGFR ">60" as "60 or more". It is the valueQuantity with
// its comparator, as FHIR has it ("if the comparator is "<", then the
// real value is < stated value") and as the HL7 v2 converter writes an
// SN "<^0.01"; an inclusive bound and a two-sided range stay a Range.
func TestExclusiveBoundIsComparator(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		cmp, num    string // the valueQuantity; "" when a Range is wanted
		lo, hi      string // the valueRange
	}{
		{name: "below", value: `<value xsi:type="IVL_PQ"><high value="0.01" unit="ng/mL" inclusive="false"/></value>`, cmp: "<", num: "0.01"},
		{name: "above with PINF", value: `<value xsi:type="IVL_PQ"><low value="60" unit="mL/min/{1.73_m2}" inclusive="false"/><high nullFlavor="PINF"/></value>`, cmp: ">", num: "60"},
		{name: "below with NINF", value: `<value xsi:type="IVL_PQ"><low nullFlavor="NINF"/><high value="5" unit="mg/dL" inclusive="false"/></value>`, cmp: "<", num: "5"},
		{name: "inclusive", value: `<value xsi:type="IVL_PQ"><low value="60" unit="mL/min/{1.73_m2}"/></value>`, lo: "60"},
		{name: "two-sided", value: `<value xsi:type="IVL_PQ"><low value="1" unit="mg/dL"/><high value="2" unit="mg/dL" inclusive="false"/></value>`, lo: "1", hi: "2"},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", resultSection(tc.value)))
		if len(got["Observation"]) != 1 {
			t.Fatalf("%s: observations = %d, want 1", tc.name, len(got["Observation"]))
		}
		o := got["Observation"][0].(*fhir.Observation)
		if tc.cmp != "" {
			q := o.ValueQuantity
			if o.ValueRange != nil || q == nil || q.Comparator != tc.cmp || string(q.Value) != tc.num || q.System != sysUCUM {
				t.Errorf("%s: valueQuantity %+v, valueRange %+v; want valueQuantity %s%s (UCUM)", tc.name, q, o.ValueRange, tc.cmp, tc.num)
			}
			continue
		}
		rg := o.ValueRange
		if o.ValueQuantity != nil || rg == nil || (rg.Low == nil) != (tc.lo == "") || (rg.High == nil) != (tc.hi == "") ||
			rg.Low != nil && string(rg.Low.Value) != tc.lo || rg.High != nil && string(rg.High.Value) != tc.hi {
			t.Errorf("%s: valueQuantity %+v, valueRange %+v; want the range %s..%s", tc.name, o.ValueQuantity, rg, tc.lo, tc.hi)
		}
	}
}
