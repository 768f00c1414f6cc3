package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestInterpretationVersion: an OBX-8 coded in HL7 table 0078 with the
// table's version (CWE.7, "2.5.1", as LRI senders write it) is written in
// the v3-ObservationInterpretation system FHIR binds it to; the v2 table's
// version is no version of that code system and is not carried over.
func TestInterpretationVersion(t *testing.T) {
	const msg = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|M101|P|2.5.1
PID|1||123^^^MRN^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H^High^HL70078^^^^2.5.1|||F`
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 1 || len(obs[0].Interpretation) != 1 {
		t.Fatalf("observations %+v", obs)
	}
	c := obs[0].Interpretation[0].Coding[0]
	if c.System != "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation" || c.Code != "H" || c.Version != "" {
		t.Errorf("interpretation %+v, want v3-ObservationInterpretation#H without the v2 table's version", c)
	}
}
