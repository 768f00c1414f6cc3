package csvfhir

import (
	"testing"
	"time"
)

// TestLowerCaseAMPM: a 12-hour time whose AM/PM is written in small
// letters (8:05 pm, as many report writers and web-based EHRs export
// it) matched no date format at all, since the time package reads only
// "AM" and "PM" for the A token, so the whole file was refused with
// "set date_formats" and no format could read it.
func TestLowerCaseAMPM(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	dp := mustDates([]string{"M/D/YYYY h:mm A"}, ny)
	for in, want := range map[string]string{
		"3/4/2024 8:05 pm":  "2024-03-04T20:05:00-05:00",
		"3/4/2024 8:05 Am":  "2024-03-04T08:05:00-05:00",
		"3/4/2024 12:30 AM": "2024-03-04T00:30:00-05:00",
	} {
		if got, err := dp.parse(in, false); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	m := labsMapping()
	m.DateFormats = []string{"M/D/YYYY h:mm A"}
	parts, err := Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n123,2345-7,Glucose,105,mg/dL,3/4/2024 8:05 pm,H\n"), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if obs := observations(parts); len(obs) != 1 || obs[0].EffectiveDateTime != "2024-03-04T20:05:00-05:00" {
		t.Fatalf("observations %+v, want one at 2024-03-04T20:05:00-05:00", obs)
	}
}
