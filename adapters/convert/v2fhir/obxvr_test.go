package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXValueRange: an OBX-5 of type VR (Value Range, a low and a high
// bound as components) went out as its raw text, "10^20", the component
// separator and all. The IG's OBX[Observation] map says IF OBX-2 EQUALS
// "VR": valueString = OBX-5.1 + "-" + OBX-5.2; repetitions stay lines as
// other text values' do.
func TestOBXValueRange(t *testing.T) {
	msg := func(obx string) string {
		return "MSH|^~\\&|LIS|LAB|HIE|HIE|20240101120000||ORU^R01^ORU_R01|R1|P|2.6\n" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"OBR|1|1001^CLINIC|555^LAB|1234-5^Panel^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
			obx + "\n"
	}
	c := testConverter(t)
	for obx, want := range map[string]string{
		"OBX|1|VR|5678-9^Target range^L||10^20|mg/dL|||||F":               "10-20",
		"OBX|1|VR|5678-9^Target range^L|| 10 ^ 20 ~30^40|mg/dL|||||F":     "10-20\n30-40",
		"OBX|1|ST|5678-9^Target range^L||10 to 20 \\S\\ note|mg/dL|||||F": "10 to 20 ^ note",
	} {
		b := mustConvert(t, c, msg(obx))
		obs := entriesOf[fhir.Observation](b)
		if len(obs) != 1 || obs[0].ValueString != want {
			t.Errorf("%s: %s, want valueString %q", obx, toJSON(obs), want)
		}
		strictR4(t, marshal(t, b))
	}
}
