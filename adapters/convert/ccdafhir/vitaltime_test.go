package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignsSameLowHighIsDateTime: C-CDA on FHIR (CF-vitals) maps a
// Vital Signs Organizer's effectiveTime to effectiveDateTime or
// effectivePeriod, "If low and high are identical, use effectiveDateTime",
// and a vital sign observation's with "Prefer effectiveDateTime". ferry
// sent an organizer (and a reading) timed low 09:30, high 09:30 as a
// period starting and ending at 09:30.
func TestVitalSignsSameLowHighIsDateTime(t *testing.T) {
	sec := strings.ReplaceAll(bpSection, `<effectiveTime value="20240101093000-0500"/>`,
		`<effectiveTime><low value="20240101093000-0500"/><high value="20240101093000-0500"/></effectiveTime>`)
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	n := 0
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		n++
		if o.EffectiveDateTime != "2024-01-01T09:30:00-05:00" || o.EffectivePeriod != nil {
			t.Errorf("%s: effectiveDateTime %q, period %+v; want the dateTime 2024-01-01T09:30:00-05:00",
				o.Code.Coding[0].Code, o.EffectiveDateTime, o.EffectivePeriod)
		}
	}
	if n < 5 {
		t.Fatalf("%d Observations, want the panel, the blood pressure and its three readings", n)
	}
	// A reading over a time keeps its period.
	sec = strings.Replace(sec, `<high value="20240101093000-0500"/>`, `<high value="20240101094500-0500"/>`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", sec))
	for _, r := range got["Observation"] {
		if o := r.(*fhir.Observation); o.Code.Coding[0].Code == "85353-1" &&
			(o.EffectivePeriod == nil || o.EffectivePeriod.End != "2024-01-01T09:45:00-05:00") {
			t.Errorf("panel over a time: period %+v, want 09:30 to 09:45", o.EffectivePeriod)
		}
	}
}

// TestVitalSignsOrganizerWithoutTimeSpansItsReadings: C-CDA on FHIR
// (CF-vitals): "If organizer/effectiveTime is missing, use the earliest
// and latest observation/effectiveTime as the source of the mapping".
// ferry gave a panel without its own time its first reading's, so readings
// listed latest first dated the panel by the last of them.
func TestVitalSignsOrganizerWithoutTimeSpansItsReadings(t *testing.T) {
	sec := strings.Replace(bpSection, `<effectiveTime value="20240101093000-0500"/>`, ``, 1) // the organizer's
	sec = strings.Replace(sec, `<effectiveTime value="20240101093000-0500"/>`, `<effectiveTime value="20240101094500-0500"/>`, 1)
	for _, c := range []struct {
		sec        string
		point      string
		start, end string
	}{
		{sec, "", "2024-01-01T09:30:00-05:00", "2024-01-01T09:45:00-05:00"},
		{strings.ReplaceAll(sec, "20240101094500-0500", "20240101093000-0500"), "2024-01-01T09:30:00-05:00", "", ""},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", c.sec))
		found := false
		for _, r := range got["Observation"] {
			o := r.(*fhir.Observation)
			if o.Code.Coding[0].Code != "85353-1" {
				continue
			}
			found = true
			var start, end string
			if o.EffectivePeriod != nil {
				start, end = o.EffectivePeriod.Start, o.EffectivePeriod.End
			}
			if o.EffectiveDateTime != c.point || start != c.start || end != c.end {
				t.Errorf("panel: effectiveDateTime %q, period %q to %q; want %q, %q to %q",
					o.EffectiveDateTime, start, end, c.point, c.start, c.end)
			}
		}
		if !found {
			t.Fatal("no vital signs panel")
		}
	}
}
