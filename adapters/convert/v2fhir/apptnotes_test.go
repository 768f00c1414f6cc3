package v2fhir

import (
	"strings"
	"testing"
)

// TestAppointmentServiceNotes: the v2-to-FHIR IG's SIU_S12 map writes the
// NTE of the message (after SCH) and those of each SERVICE group (after
// AIS) to Appointment.comment ("multiple NTE segments in a message all
// need to map to a single Appointment.comment element, the content of
// the NTEs will need to be concatenated together in R4"). Only the SCH's
// were, so the corpus's colonoscopy went to the exchange without its
// "Patient instructions - light meal or liquid diet a day before
// procedure". The NTE of a device, room or person (AIG, AIL, AIP), which
// the IG does not map, stay out.
func TestAppointmentServiceNotes(t *testing.T) {
	c := testConverter(t)
	b, _, err := c.ConvertRaw(corpusMessage(t, "SIU-S12-01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	a := appointmentOf(b)
	want := "Appointment booked for emergency procedure\n" +
		"Nursing staff instructions - Patient bowel preparation for the procedure\n" +
		"Patient instructions - light meal or liquid diet a day before procedure"
	if a.Comment != want {
		t.Errorf("comment %q, want %q", a.Comment, want)
	}
	if strings.Contains(a.Comment, "equipment") || strings.Contains(a.Comment, "disinfected") {
		t.Errorf("a resource's note is in the comment: %q", a.Comment)
	}
}
