package v2fhir

import (
	"strings"
	"testing"
)

// TestAppointmentResourceRemoved: in an SIU^S14 (modification) the
// resources taken off the appointment come with segment action code D
// (AIS-2, AIG-2, AIL-2, AIP-2; HL7 v2.5.1 chapter 10: "the action to be
// taken when updating or modifying information in this segment from
// previously sent interface transactions", table 0206 D = delete). The
// Appointment is written whole, so such a resource is not one of its
// participants (or services) any more: listed as an accepted participant,
// the doctor who handed the visit over stayed on it at the exchange. The
// first AIS-4 start is the first service's that stays.
func TestAppointmentResourceRemoved(t *testing.T) {
	msg := "MSH|^~\\&|SCHED|CLINIC|FERRY|HIE|20240403140000||SIU^S14^SIU_S14|SIU-D1|P|2.5.1\r" +
		"SCH|APT-1^SCHED|F-APT-1^SCHED|||||FOLLOWUP^Follow-up^L||30|min|||||||||||||||Booked\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"RGS|1|U\r" +
		"AIS|1|D|185389009^Follow-up visit^SCT|20240410080000-0500\r" +
		"AIS|2|A|390906007^Follow-up encounter^SCT|20240410093000-0500\r" +
		"AIG|1|D|EKG1^Old EKG cart^L\r" +
		"AIG|2|A|EKG2^New EKG cart^L\r" +
		"AIL|1|D|CLINIC1^Room 4^^CLINIC\r" +
		"AIL|2|A|CLINIC1^Room 7^^CLINIC\r" +
		"AIP|1|D|1111^Oldham^Olivia^^^^^^NPI|ATT^Attending^L\r" +
		"AIP|2|A|2222^Newman^Noah^^^^^^NPI|ATT^Attending^L\r"
	c := testConverter(t)
	b := mustConvert(t, c, msg)
	a := appointmentOf(b)
	if a == nil {
		t.Fatal("no Appointment")
	}
	js := toJSON(a)
	for _, gone := range []string{"Oldham", "Room 4", "Old EKG cart", "185389009"} {
		if strings.Contains(js, gone) {
			t.Errorf("the removed resource %s is still on the appointment:\n%s", gone, js)
		}
	}
	for _, kept := range []string{"Room 7", "New EKG cart", "390906007", `"start":"2024-04-10T09:30:00-05:00"`, `"end":"2024-04-10T10:00:00-05:00"`} {
		if !strings.Contains(js, kept) {
			t.Errorf("appointment lacks %s:\n%s", kept, js)
		}
	}
	// The practitioner who stays is a participant; the one removed is
	// not written at all by this message.
	rs := resources(t, b)
	var names []string
	for _, p := range rs["Practitioner"] {
		names = append(names, p)
	}
	if all := strings.Join(names, "\n"); strings.Contains(all, "Oldham") || !strings.Contains(all, "Newman") {
		t.Errorf("practitioners written:\n%s", all)
	}
	if n := strings.Count(js, `"reference":"Practitioner/`); n != 1 {
		t.Errorf("%d practitioner participants, want 1:\n%s", n, js)
	}
}
