package xdmfhir

import (
	"testing"
	"time"
)

// XDS stores its times in UTC (ITI TF-3 4.2.3.1.7), but a DTM is HL7
// v2.5's, YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ], and a package written
// from local times gives the offset: 23:30 at -0500 is 04:30 UTC the next
// day. Read without its offset it became 23:30Z, five hours early and on
// the wrong day, in attachment.creation, the SubmissionSet's date and
// context.period.
func TestDTMOffset(t *testing.T) {
	for dtm, want := range map[string]string{
		"20260228233000-0500":   "2026-03-01T04:30:00Z",
		"202602282330+0100":     "2026-02-28T22:30:00Z",
		"20260228153012.5+0000": "2026-02-28T15:30:12Z",
		"2026022815+0530":       "2026-02-28T09:30:00Z",
		"20260228-0500":         "2026-02-28", // a date alone is the day it names
		"20260228153000":        "2026-02-28T15:30:00Z",
		"20260228153000-99":     "", // not an offset: no time
	} {
		if got := fhirDateTime(dtm); got != want {
			t.Errorf("fhirDateTime(%q) = %q, want %q", dtm, got, want)
		}
	}
	c := &Converter{}
	d := c.Document(Entry{SubmissionTime: "20260228233000-0500", ServiceStartTime: "20260228220000-0500", ServiceStopTime: "20260228233000-0500"}, time.Time{})
	if want := time.Date(2026, 3, 1, 4, 30, 0, 0, time.UTC); !d.Date.Equal(want) {
		t.Errorf("submissionTime at -0500: date %v, want %v", d.Date, want)
	}
	if d.Period == nil || d.Period.Start != "2026-03-01T03:00:00Z" || d.Period.End != "2026-03-01T04:30:00Z" {
		t.Errorf("service times at -0500: period %+v", d.Period)
	}
}
