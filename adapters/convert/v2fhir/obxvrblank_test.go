package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVRWithoutLimits: a value range (OBX-2 VR) whose OBX-5 has neither
// limit ("^", or an empty range beside another) went out as the value
// "-", the separator the IG's map puts between the two, with no limit on
// either side: a value the lab did not send. It is no value, as an empty
// OBX-5 is (a dataAbsentReason), and an empty range among others is no
// line of its own.
func TestVRWithoutLimits(t *testing.T) {
	msg := "MSH|^~\\&|LAB|ACME|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|C6|P|2.5.1\n" +
		"PID|1||MRN1^^^CLINIC^MR||Doe^Pat||19780214|F\n" +
		"OBR|1|PL1|FL1|24331-1^Lipid panel^LN|||20240502083000\n" +
		"OBX|1|VR|2093-3^Cholesterol^LN||^||||||F\n" +
		"OBX|2|VR|2085-9^HDL^LN||^~40^60||||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 2 {
		t.Fatalf("%d observations", len(obs))
	}
	if o := obs[0]; o.ValueString != "" || o.DataAbsentReason == nil {
		t.Errorf("VR ^: valueString %q, dataAbsentReason %+v; want none and one", o.ValueString, o.DataAbsentReason)
	}
	if o := obs[1]; o.ValueString != "40-60" {
		t.Errorf("VR ^~40^60: valueString %q, want 40-60", o.ValueString)
	}
}
