package ccdafhir

import (
	"strings"
	"testing"
)

// TestHyphenatedDateNotReadAsYearAndZone: a TS is digits
// (YYYYMMDDHHMMSS) and a zone; a sender's ISO date, "2024-03-15", is no
// TS, but its first hyphen was taken for the start of a zone ("-03-15"),
// which a date does not use, so it went out as the year alone: a vital
// sign or lab result taken "2024", which FHIR's vs-1 and US Core's
// us-core-1 refuse (a dateTime "SHALL be precise to the day"), the
// exchange refusing the whole transaction with it. Such a value is now
// no date, as "2024/03/15" is: a vital sign takes its organizer's time.
func TestHyphenatedDateNotReadAsYearAndZone(t *testing.T) {
	for _, v := range []string{"2024-03-15", "2024-03-15T10:30:00-05:00", "1980-01-01"} {
		if got, ok := dateTime(v, "-0500"); ok {
			t.Errorf("dateTime(%q) = %q, want it refused", v, got)
		}
	}
	for v, want := range map[string]string{"20240315-0500": "2024-03-15", "2024-0500": "2024", "20240315103000-0500": "2024-03-15T10:30:00-05:00"} {
		if got, ok := dateTime(v, ""); !ok || got != want {
			t.Errorf("dateTime(%q) = %q, %v, want %q", v, got, ok, want)
		}
	}
	sec := strings.Replace(vitalsSection, `<effectiveTime value="20240101"/>
   <value`, `<effectiveTime value="2024-03-15"/>
   <value`, 1)
	times, _ := observationTimes(t, reviewDoc("d1", "s1", "", sec))
	if got := times["wt1"]; got != "2024-01-01" {
		t.Errorf("weight taken %q, want its organizer's 2024-01-01", got)
	}
}
