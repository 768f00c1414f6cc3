package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBX5RepeatsKept: a repeating OBX-5 of a non-text type keeps every
// value: as the v2-to-FHIR IG's OBX[Observation-Component] map does, each
// repetition is a component with the observation's code, and the
// observation itself has no value (obs-7). Text repetitions stay lines of
// one string.
func TestOBX5RepeatsKept(t *testing.T) {
	msg := func(obx string) string {
		return "MSH|^~\\&|LIS|LAB|HIE|HIE|20240101120000||ORU^R01^ORU_R01|R1|P|2.5.1\n" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"OBR|1|1001^CLINIC|555^LAB|600-7^Culture^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
			obx + "\n"
	}
	c := testConverter(t)
	obs := entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|CWE|600-7^Bacteria identified^LN||27268008^Salmonella^SCT~4298009^Shigella^SCT||||||F")))
	if len(obs) != 1 {
		t.Fatalf("observations: %d", len(obs))
	}
	o := obs[0]
	if o.ValueCodeableConcept != nil || len(o.Component) != 2 {
		t.Fatalf("value %+v, components %+v: want two components and no value", o.ValueCodeableConcept, o.Component)
	}
	for i, want := range []string{"27268008", "4298009"} {
		cp := o.Component[i]
		if cp.ValueCodeableConcept == nil || cp.ValueCodeableConcept.Coding[0].Code != want || cp.Code.Coding[0].Code != "600-7" {
			t.Errorf("component %d: %+v, want code 600-7 value %s", i, cp, want)
		}
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|NM|8867-4^Heart rate^LN||60~120|/min^^UCUM|||||F")))
	if o := obs[0]; o.ValueQuantity != nil || len(o.Component) != 2 || o.Component[1].ValueQuantity == nil || o.Component[1].ValueQuantity.Value != "120" || o.Component[1].ValueQuantity.Code != "/min" {
		t.Errorf("NM repeats: value %+v, components %+v", o.ValueQuantity, o.Component)
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|NM|8867-4^Heart rate^LN||60|/min^^UCUM|||||F")))
	if o := obs[0]; o.ValueQuantity == nil || o.Component != nil {
		t.Errorf("one NM value: value %+v, components %+v", o.ValueQuantity, o.Component)
	}
	obs = entriesOf[fhir.Observation](mustConvert(t, c, msg("OBX|1|TX|8251-1^Note^LN||line one~line two||||||F")))
	if o := obs[0]; o.ValueString != "line one\nline two" || o.Component != nil {
		t.Errorf("TX repeats: value %q, components %+v", o.ValueString, o.Component)
	}
}
