package v2fhir

import (
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// bpComponents returns o's systolic and diastolic components as
// "value unit-code", and whether o is shaped as FHIR R4's blood pressure
// profile wants: code 85354-9, no value of its own.
func bpComponents(t *testing.T, o *fhir.Observation) (sys, dia string) {
	t.Helper()
	if o.ValueQuantity != nil || o.ValueRatio != nil || o.ValueString != "" {
		b, _ := json.Marshal(o)
		t.Errorf("blood pressure has a value of its own: %s", b)
	}
	for _, c := range o.Component {
		if len(c.Code.Coding) == 0 || c.Code.Coding[0].System != "http://loinc.org" || c.ValueQuantity == nil {
			continue
		}
		v := string(c.ValueQuantity.Value) + " " + c.ValueQuantity.Code
		switch c.Code.Coding[0].Code {
		case "8480-6":
			sys = v
		case "8462-4":
			dia = v
		}
	}
	return sys, dia
}

// TestBloodPressureOBX: an OBX coded 85354-9 (blood pressure panel) whose
// value is the reading as an SN ratio (^120^/^80) or as text ("120/80")
// went out as a valueRatio or a valueString, though FHIR R4's blood
// pressure profile and US Core Blood Pressure want the systolic (8480-6)
// and diastolic (8462-4) readings as its components, each a quantity in
// mm[Hg]: no US Core client read it as a blood pressure.
func TestBloodPressureOBX(t *testing.T) {
	for _, obx := range []string{
		`OBX|1|SN|85354-9^Blood pressure panel^LN||^120^/^80|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080000-0500`,
		`OBX|1|ST|85354-9^Blood pressure panel^LN||120/80|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080000-0500`,
	} {
		msg := `MSH|^~\&|EHR|CLINIC|HIE|HIE|20240105101500-0500||ORU^R01^ORU_R01|BP1|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^EHR|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
` + obx
		var bp *fhir.Observation
		for _, o := range entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg)) {
			if o.Code.Coding[0].Code == "85354-9" {
				bp = o
			}
		}
		if bp == nil {
			t.Fatalf("%s: no blood pressure Observation", obx)
		}
		if sys, dia := bpComponents(t, bp); sys != "120 mm[Hg]" || dia != "80 mm[Hg]" {
			t.Errorf("%s: systolic %q, diastolic %q; want 120 and 80 mm[Hg]", obx, sys, dia)
		}
	}
}
