package v2fhir

import (
	"strings"
	"testing"
)

// TestAppointmentPlacerFillerSystems: SCH-1 (placer) and SCH-2 (filler)
// are numbered by two independent counters, so one appointment's placer
// number is sooner or later another's filler number. Written under one
// system, in conditional writes the second appointment's
// PUT Appointment?identifier=<system>|<filler number> matched the first,
// another patient's, by its placer identifier and overwrote it. The
// placer identifier now has a system of its own beside the filler key,
// whose system (and so every id and conditional URL ferry wrote before)
// is unchanged, as is an appointment keyed by its placer number alone.
func TestAppointmentPlacerFillerSystems(t *testing.T) {
	siu := func(ctl, sch1, sch2, mrn string) string {
		return "MSH|^~\\&|SCHED|CLINIC|FERRY|HIE|20240403140000||SIU^S12^SIU_S12|" + ctl + "|P|2.5.1\r" +
			"SCH|" + sch1 + "|" + sch2 + "|||||FOLLOWUP^Follow-up^L||30|min|^^^20240410093000-0500^20240410100000-0500||||||||||||||Booked\r" +
			"PID|1||" + mrn + "^^^CLINIC^MR||Rivera^Ana||19780214|F\r"
	}
	c := testConverter(t)
	c.Mode = ModeConditional
	for _, ns := range []string{"", "^EPIC"} {
		first := mustConvert(t, c, siu("S-1", "100"+ns, "200"+ns, "MRN1"))
		second := mustConvert(t, c, siu("S-2", "300"+ns, "100"+ns, "MRN2"))
		a1, a2 := appointmentOf(first), appointmentOf(second)
		if len(a1.Identifier) != 2 || len(a2.Identifier) != 2 {
			t.Fatalf("identifiers %s, %s", toJSON(a1.Identifier), toJSON(a2.Identifier))
		}
		placer1, filler2 := a1.Identifier[1], a2.Identifier[0]
		if placer1.System == filler2.System && placer1.Value == filler2.Value {
			t.Errorf("namespace %q: appointment 1's placer number and appointment 2's filler number are one identifier %s|%s", ns, placer1.System, placer1.Value)
		}
		url := ""
		for _, e := range second.Entry {
			if strings.HasPrefix(e.Request.URL, "Appointment") {
				url = e.Request.URL
			}
		}
		if want := "Appointment?identifier=" + strings.ReplaceAll(strings.ReplaceAll(filler2.System, ":", "%3A"), "/", "%2F") + "%7C100"; url != want {
			t.Errorf("namespace %q: appointment 2 written at %s, want %s", ns, url, want)
		}
		if strings.Contains(filler2.System, "placer") {
			t.Errorf("namespace %q: filler key's system changed: %s", ns, filler2.System)
		}
	}
	// Keyed by its placer number alone, an appointment keeps the system
	// (and so the id) it always had.
	c.Mode = ModeID
	only := appointmentOf(mustConvert(t, c, siu("S-3", "400", "", "MRN3")))
	if len(only.Identifier) != 1 || strings.Contains(only.Identifier[0].System, "placer") {
		t.Errorf("placer-keyed appointment's identifier %s", toJSON(only.Identifier))
	}
}
