package v2fhir

import (
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestScheduleSecondPatientGroup: SIU_S12's PATIENT group repeats (a
// group appointment books several patients). The appointment was
// written for the first PID alone, and every DG1 and OBX of the message
// was written as that patient's, so a second patient's asthma and heart
// rate reached the exchange in the first patient's record. A second
// patient group is refused naming its PID, as nothing in the message
// can be written for the right patient otherwise.
func TestScheduleSecondPatientGroup(t *testing.T) {
	msg := "MSH|^~\\&|SCHED|CLINIC|FERRY|HIE|20240403140000||SIU^S12^SIU_S12|SIU-2P|P|2.5.1\r" +
		"SCH|APT-9^SCHED|F-APT-9^SCHED|||||FOLLOWUP^Follow-up^L||30|min|^^^20240410093000-0500||||||||||||||Booked\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"DG1|1||E11.9^Type 2 diabetes^I10\r" +
		"PID|2||MRN2^^^CLINIC^MR||Okafor^Ben||19800101|M\r" +
		"DG1|1||J45.909^Asthma^I10\r" +
		"OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F\r" +
		"RGS|1\r" +
		"AIS|1||185389009^Follow-up visit^SCT\r"
	b, _, err := testConverter(t).ConvertRaw([]byte(msg))
	if err == nil {
		for _, c := range entriesOf[fhir.Condition](b) {
			t.Logf("Condition %s of %s", c.Code.Coding[0].Code, c.Subject.Reference)
		}
		t.Fatal("an SIU with two patient groups converted: the second patient's DG1 and OBX were written as the first patient's")
	}
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Segment != "PID" {
		t.Fatalf("error %v does not name the second PID", err)
	}
	if ce.Pos != 5 {
		t.Errorf("error names segment %d, want the second PID (segment 5): %v", ce.Pos, err)
	}
}
