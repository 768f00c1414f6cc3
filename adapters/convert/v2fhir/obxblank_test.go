package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXBlankValue: an OBX-5 with nothing in it but padding (a space, as
// fixed-width senders write it), empty repetitions or empty components
// went out with neither a value nor a dataAbsentReason, which US Core's
// result Observations refuse (us-core-2: "If there is no component or
// hasMember element then either a value[x] or a data absent reason must
// be present"), as an empty OBX-5 does not. It gets the absent reason an
// empty OBX-5 gets, by OBX-11; and a repetition that is the explicit null
// ("") is no value of the several, so "" ~ 5 is the value 5, not a
// component without a value beside it.
func TestOBXBlankValue(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-4|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Metabolic panel^LN|||20240401090000\n" +
		"OBX|1|NM|2345-7^Glucose^LN|| |mg/dL^^UCUM|70-99||||F\n" +
		"OBX|2|ST|8251-1^Service comment^LN||  ||||||F\n" +
		"OBX|3|CWE|600-7^Bacteria identified^LN||^^^||||||I\n" +
		"OBX|4|DT|11778-8^Delivery date^LN||~||||||N\n" +
		"OBX|5|SN|5048-4^ANA titer^LN||^||||||X\n" +
		"OBX|6|NM|2951-2^Sodium^LN||\"\"~140|mmol/L^^UCUM|||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 6 {
		t.Fatalf("%d observations", len(obs))
	}
	for i, want := range []string{"unknown", "unknown", "temp-unknown", "not-asked", "not-performed"} {
		o := obs[i]
		if o.DataAbsentReason == nil || o.DataAbsentReason.Coding[0].Code != want {
			t.Errorf("OBX %d: dataAbsentReason %+v, want %s", i+1, o.DataAbsentReason, want)
		}
		if o.ValueQuantity != nil || o.ValueString != "" || o.ValueCodeableConcept != nil || o.ValueDateTime != "" || len(o.Component) != 0 {
			t.Errorf("OBX %d: a value %+v", i+1, o)
		}
	}
	if o := obs[5]; o.ValueQuantity == nil || o.ValueQuantity.Value != "140" || len(o.Component) != 0 || o.DataAbsentReason != nil {
		t.Errorf("OBX 6: valueQuantity %+v, components %+v, want 140 alone", o.ValueQuantity, o.Component)
	}
}
