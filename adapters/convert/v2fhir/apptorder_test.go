package v2fhir

import (
	"errors"
	"strings"
	"testing"
)

// TestAppointmentEndBeforeStart: a booking whose end (SCH-11.5, or
// TQ1-8) is before its start (SCH-11.4, TQ1-7) was written as an
// Appointment that ends before it begins: the exchange's schedule showed
// a visit of minus half an hour. Which time is wrong the message does not
// say, and they are the booking's own: it is refused, naming the field,
// as one without an end is. A cancelled (S15) one, whose times FHIR does
// not need (app-3), is written without them, as one with a start alone
// is.
func TestAppointmentEndBeforeStart(t *testing.T) {
	c := testConverter(t)
	for _, tc := range []struct{ name, msg, field string }{
		{"SCH-11", siuTimes("S12", "", "", "^^^20240410093000-0500^20240410090000-0500", "AIS|1||185389009^Follow-up visit^SCT"), "SCH-11"},
		{"TQ1", strings.Replace(siuTimes("S12", "", "", "", "AIS|1||185389009^Follow-up visit^SCT"), "\rPID|", "\rTQ1|1||||||20240410093000-0500|20240410090000-0500\rPID|", 1), "TQ1-8"},
	} {
		b, _, err := c.ConvertRaw([]byte(tc.msg))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			s, e := "", ""
			if err == nil {
				if a := appointmentOf(b); a != nil {
					s, e = a.Start, a.End
				}
			}
			t.Errorf("%s: err %v, start %q end %q, want a content error naming %s", tc.name, err, s, e, tc.field)
		}
	}
	b, _, err := c.ConvertRaw([]byte(siuTimes("S15", "", "", "^^^20240410093000-0500^20240410090000-0500", "AIS|1||185389009^Follow-up visit^SCT")))
	if err != nil {
		t.Fatal(err)
	}
	if a := appointmentOf(b); a == nil || a.Status != "cancelled" || a.Start != "" || a.End != "" {
		t.Errorf("cancelled: %s, want it cancelled without times", toJSON(a))
	}
}
