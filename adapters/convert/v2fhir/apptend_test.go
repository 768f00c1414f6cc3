package v2fhir

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// siuTimes is an SIU^S12 without TQ1 whose times are SCH-9/10 (the
// appointment's duration) and SCH-11 (v2.5's timing, withdrawn in v2.7)
// and the first AIS's start (AIS-4) and duration (AIS-7/8).
func siuTimes(trigger, sch9, sch10, sch11, ais string) string {
	return "MSH|^~\\&|SCHED|CLINIC|FERRY|HIE|20240403140000||SIU^" + trigger + "^SIU_S12|SIU-E1|P|2.6\r" +
		"SCH|APT-1^SCHED|F-APT-1^SCHED|||||FOLLOWUP^Follow-up^L||" + sch9 + "|" + sch10 + "|" + sch11 + "||||||||||||||Booked\r" +
		"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
		"RGS|1\r" +
		ais + "\r" +
		"AIL|1||CLINIC1^Room 4^^CLINIC\r"
}

func appointmentOf(b *fhir.Bundle) *fhir.Appointment {
	for _, e := range b.Entry {
		if a, ok := e.Resource.(*fhir.Appointment); ok {
			return a
		}
	}
	return nil
}

// TestAppointmentEndFromDuration: FHIR R4 Appointment has start and end
// together or neither (app-2, "start.exists() = end.exists()"), and a
// booked one has both (app-3). An SIU whose end is not sent (no TQ1-8 or
// SCH-11.5: v2.6+ senders time an appointment by AIS-4 and a duration)
// gets the end its duration gives, SCH-9/10 first, else the first AIS's
// AIS-7/8 (the IG's AIS map: start + AIS-7), kept in the start's offset;
// one with no duration at all is refused naming what is missing, as one
// without a start is, rather than written invalid.
func TestAppointmentEndFromDuration(t *testing.T) {
	c := testConverter(t)
	for _, tc := range []struct {
		name, sch9, sch10, sch11, ais string
		start, end                    string
	}{
		{"SCH-9 minutes, AIS-4 start", "30", "min", "", "AIS|1||185389009^Follow-up visit^SCT|20240410093000-0500",
			"2024-04-10T09:30:00-05:00", "2024-04-10T10:00:00-05:00"},
		{"AIS-7/8 duration", "", "", "", "AIS|1||185389009^Follow-up visit^SCT|20240410093000-0500|||45|min^Minutes^ISO+",
			"2024-04-10T09:30:00-05:00", "2024-04-10T10:15:00-05:00"},
		{"AIS-7/8 in hours", "", "", "", "AIS|1||185389009^Follow-up visit^SCT|20240410233000-0500|||2|h^hours^ISO+",
			"2024-04-10T23:30:00-05:00", "2024-04-11T01:30:00-05:00"},
		{"SCH-11 start only", "20", "MIN", "^^^20240410093000-0500", "AIS|1||185389009^Follow-up visit^SCT",
			"2024-04-10T09:30:00-05:00", "2024-04-10T09:50:00-05:00"},
		{"both sent", "90", "min", "^^^20240410093000-0500^20240410094500-0500", "AIS|1||185389009^Follow-up visit^SCT",
			"2024-04-10T09:30:00-05:00", "2024-04-10T09:45:00-05:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, err := c.ConvertRaw([]byte(siuTimes("S12", tc.sch9, tc.sch10, tc.sch11, tc.ais)))
			if err != nil {
				t.Fatal(err)
			}
			a := appointmentOf(b)
			if a.Start != tc.start || a.End != tc.end {
				t.Errorf("start %q end %q, want %q %q", a.Start, a.End, tc.start, tc.end)
			}
		})
	}

	_, _, err := c.ConvertRaw([]byte(siuTimes("S12", "", "", "", "AIS|1||185389009^Follow-up visit^SCT|20240410093000-0500")))
	var ce *ContentError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "end") {
		t.Errorf("booked, a start and no end or duration: %v, want a content error saying the end is missing", err)
	}
	// A cancelled (discontinued) appointment may have neither time (app-3), never one
	// without the other (app-2).
	b, _, err := c.ConvertRaw([]byte(siuTimes("S16", "", "", "", "AIS|1||185389009^Follow-up visit^SCT|20240410093000-0500")))
	if err != nil {
		t.Fatal(err)
	}
	if a := appointmentOf(b); (a.Start == "") != (a.End == "") {
		t.Errorf("cancelled: start %q end %q: one without the other", a.Start, a.End)
	}
}

// TestAppointmentCancellationTriggerWins: SIU^S15 is "Notification of
// appointment cancellation" (v2.5.1 §10.4.4); like S16, S17 and S26 its
// event fixes the status, whatever filler status (SCH-25) the sender
// copied from the booking, so "Booked" there does not keep a cancelled
// appointment booked at the exchange.
func TestAppointmentCancellationTriggerWins(t *testing.T) {
	c := testConverter(t)
	for trigger, want := range map[string]string{"S12": "booked", "S15": "cancelled", "S16": "cancelled", "S26": "noshow"} {
		b, _, err := c.ConvertRaw([]byte(siuTimes(trigger, "30", "min", "", "AIS|1||185389009^Follow-up visit^SCT|20240410093000-0500")))
		if err != nil {
			t.Fatalf("%s: %v", trigger, err)
		}
		if got := appointmentOf(b).Status; got != want {
			t.Errorf("SIU^%s with SCH-25 Booked: status %q, want %q", trigger, got, want)
		}
	}
}
