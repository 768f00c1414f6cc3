package v2fhir

import "testing"

// TestAppointmentStartFromResource: SIU's resource segments time the
// appointment as the service does: AIG-8, AIL-6 and AIP-6 are each a
// start date/time with its duration (AIG-11/12, AIL-9/10, AIP-9/10), as
// AIS-4 with AIS-7/8 is. A booking whose only times are on its location
// or person (no TQ1, SCH-11 or AIS-4) was refused as having no start.
func TestAppointmentStartFromResource(t *testing.T) {
	msg := "MSH|^~\\&|SCHED|CLINIC|FERRY|HIE|20240403140000||SIU^S12^SIU_S12|SIU-R1|P|2.5.1\r" +
		"SCH|APT-2^SCHED|F-APT-2^SCHED|||||FOLLOWUP^Follow-up^L||||||||||||||||||Booked\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"RGS|1\r" +
		"AIS|1||185389009^Follow-up visit^SCT\r" +
		"AIL|1||CLINIC1^Room 4^^CLINIC|||20240410093000-0500|||20|min\r"
	b, _, err := testConverter(t).ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	a := appointmentOf(b)
	if a == nil || a.Start != "2024-04-10T09:30:00-05:00" || a.End != "2024-04-10T09:50:00-05:00" {
		t.Fatalf("Appointment %+v, want 09:30 to 09:50 from AIL-6 and AIL-9/10", a)
	}
}
