package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestInvalidCalendarDatesDropped: a TS's day was only checked to be 1 to
// 31 and its zone to be four digits, so a birthTime of 19800231 and an
// effectiveTime of 20230229093000 (no 29th in 2023) or with a zone of
// +2500 went out as 1980-02-31, 2023-02-29T09:30:00-05:00 and
// ...+25:00, though FHIR R4's date and dateTime say "Dates SHALL be
// valid dates" and their regex keeps an offset within ±14:00, so the
// exchange refused the whole transaction; such a date is now no date, as
// a month 13 already was, and left out, and such a zone one that cannot
// be read (a time with it is cut to its date, as one with a zone of
// other than four digits is).
func TestInvalidCalendarDatesDropped(t *testing.T) {
	doc := strings.Replace(reviewDoc("BD1", "BD1", "", vitalsAt), `<birthTime value="19800101"/>`, `<birthTime value="19800231"/>`, 1)
	doc = strings.Replace(doc, `<effectiveTime value="20240101093000"/>`, `<effectiveTime value="20230229093000"/>`, 1)
	doc = strings.Replace(doc, `<effectiveTime value="20240101160000+0100"/>`, `<effectiveTime value="20240101160000+2500"/>`, 1)
	out, _ := convertReview(t, doc)
	for _, r := range out["Patient"] {
		if p := r.(*fhir.Patient); p.BirthDate != "" {
			t.Errorf("birthDate %q from birthTime 19800231", p.BirthDate)
		}
	}
	times, _ := observationTimes(t, doc)
	if got := times["hr1"]; got != "" {
		t.Errorf("hr1: effectiveDateTime %q from 20230229093000", got)
	}
	if got := times["hr3"]; got != "2024-01-01" {
		t.Errorf("hr3: effectiveDateTime %q from 20240101160000+2500, want 2024-01-01", got)
	}
	for _, v := range []string{"20240229", "20240430", "20240101160000+1400", "20240101160000-1200", "20240101160000+0545"} {
		if _, ok := dateTime(v, ""); !ok {
			t.Errorf("%s refused", v)
		}
	}
	for _, v := range []string{"20240431", "20230229", "21000229"} {
		if got, ok := dateTime(v, ""); ok {
			t.Errorf("%s taken as %q", v, got)
		}
	}
	for _, v := range []string{"20240101160000+1401", "20240101160000+0560", "20240101160000-1500"} {
		if got, _ := dateTime(v, ""); got != "2024-01-01" {
			t.Errorf("%s taken as %q, want 2024-01-01", v, got)
		}
	}
}
