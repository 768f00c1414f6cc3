package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignCodeInLabPanel: an arterial blood gas panel's oxygen
// saturation (LOINC 2708-6, a code of FHIR R4's oxygen saturation vital
// signs profile) is measured by the laboratory on a blood sample. It
// gets the vital-signs category its code asks for, and keeps laboratory:
// without it the result drops out of the laboratory results of the report
// it belongs to (US Core DiagnosticReport for Laboratory Results, a search
// by category=laboratory). The members of a vital signs panel (85353-1)
// are vital signs only.
func TestVitalSignCodeInLabPanel(t *testing.T) {
	msg := `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U310|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|24336-0^Gas panel - Arterial blood^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|2708-6^Oxygen saturation in Arterial blood^LN||97|%^%^UCUM|95-100||||F
OBX|2|NM|2019-8^Carbon dioxide partial pressure in Arterial blood^LN||40|mm[Hg]^mm[Hg]^UCUM|35-45||||F
OBR|2|P2^EHR|F2^MON|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|8867-4^Heart rate^LN||72|/min^/min^UCUM|||||F`
	want := map[string][]string{"2708-6": {"laboratory", "vital-signs"}, "2019-8": {"laboratory"}, "8867-4": {"vital-signs"}}
	for _, o := range entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg)) {
		code := o.Code.Coding[0].Code
		var got []string
		for _, c := range o.Category {
			got = append(got, c.Coding[0].Code)
		}
		if len(got) != len(want[code]) {
			t.Errorf("%s: categories %v, want %v", code, got, want[code])
			continue
		}
		for i := range got {
			if got[i] != want[code][i] {
				t.Errorf("%s: categories %v, want %v", code, got, want[code])
			}
		}
	}
}
