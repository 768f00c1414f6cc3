package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestObservationKeyKeepsOrderSystem: two results from one lab (one
// MSH-4) for two patients, whose orders carry the same number from two
// different placers, are two Observations: the Observation's key keeps
// the order number's system, not just its value.
func TestObservationKeyKeepsOrderSystem(t *testing.T) {
	msg := func(pid, placer string) string {
		return "MSH|^~\\&|LIS|LAB|HIE|HIE|20240101120000||ORU^R01^ORU_R01|" + pid + "|P|2.5.1\n" +
			"PID|1||" + pid + "^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"OBR|1|" + placer + "||718-7^Hemoglobin^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
			"OBX|1|NM|718-7^Hemoglobin^LN||12.5|g/dL^^UCUM|||||F\n" +
			"SPM|1|||BLD^Blood^HL70487\n"
	}
	c := testConverter(t)
	a := mustConvert(t, c, msg("111", "1001^CLINICA"))
	b := mustConvert(t, c, msg("222", "1001^CLINICB"))
	oa, ob := entriesOf[fhir.Observation](a), entriesOf[fhir.Observation](b)
	if len(oa) != 1 || len(ob) != 1 {
		t.Fatalf("observations: %d, %d", len(oa), len(ob))
	}
	if oa[0].ID == ob[0].ID || oa[0].Identifier[0] == ob[0].Identifier[0] {
		t.Errorf("two patients' results share Observation id %s / identifier %+v", oa[0].ID, oa[0].Identifier[0])
	}
	sa, sb := entriesOf[fhir.Specimen](a), entriesOf[fhir.Specimen](b)
	if len(sa) == 1 && len(sb) == 1 && sa[0].ID == sb[0].ID {
		t.Errorf("two patients' specimens share id %s", sa[0].ID)
	}
}
