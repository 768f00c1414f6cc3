package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestInterpretationLocalFlag: an OBX-8 without a coding system (CWE.3)
// is written in v3-ObservationInterpretation only when its code is one of
// that code system's (H, LL, the v2-0078 codes); a lab's own flag ("*",
// "Ab", "CRIT") is no code of it, and written there it is one the
// exchange's terminology check refuses ("Unknown code"), so it keeps no
// system, as any other CWE without CWE.3. A local flag the sender labels
// HL70078 stays in v2-0078, as sent.
func TestInterpretationLocalFlag(t *testing.T) {
	const msg = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|M102|P|2.5.1
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|2345-7^Glucose^LN||405|mg/dL^mg/dL^UCUM|70-99|HH~*~CRIT^Critical value~LL^^HL70078~Ab^Abnormal^HL70078|||F`
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 1 || len(obs[0].Interpretation) != 5 {
		t.Fatalf("observations %+v", obs)
	}
	const v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	for i, want := range []fhir.Coding{
		{System: v3, Code: "HH"},
		{Code: "*"},
		{Code: "CRIT", Display: "Critical value"},
		{System: v3, Code: "LL"},
		{System: "http://terminology.hl7.org/CodeSystem/v2-0078", Code: "Ab", Display: "Abnormal"},
	} {
		if got := obs[0].Interpretation[i].Coding[0]; got != want {
			t.Errorf("interpretation %d: %+v, want %+v", i, got, want)
		}
	}
}
