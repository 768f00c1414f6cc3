package fax

import (
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestSidecarReceivedTwelveHour: a receive time written as .NET and US
// Windows tools write one, month first with a 12-hour clock ("11/24/2026
// 9:15:02 AM", the birth date's form these sidecars are already read in),
// or with a one-digit month or day, was no time ferry read: the fax went
// to the exchange dated by its file, the time it was downloaded or
// copied, not received.
func TestSidecarReceivedTwelveHour(t *testing.T) {
	loc := time.FixedZone("EST", -5*3600)
	for v, want := range map[string]time.Time{
		"11/24/2026 9:15:02 AM": time.Date(2026, 11, 24, 9, 15, 2, 0, loc),
		"11/24/2026 9:15:02 PM": time.Date(2026, 11, 24, 21, 15, 2, 0, loc),
		"1/2/2026 12:05:00 AM":  time.Date(2026, 1, 2, 0, 5, 0, 0, loc),
		"11/24/2026 9:15 PM":    time.Date(2026, 11, 24, 21, 15, 0, 0, loc),
		"1/2/2026 09:15:02":     time.Date(2026, 1, 2, 9, 15, 2, 0, loc),
		"11/24/2026 09:15:02":   time.Date(2026, 11, 24, 9, 15, 2, 0, loc),
		"2026-11-24T09:15:02Z":  time.Date(2026, 11, 24, 9, 15, 2, 0, time.UTC),
	} {
		var f faxfhir.Fax
		if err := parseSidecar(&f, []byte(`{"ReceivedTime": "`+v+`"}`), loc); err != nil {
			t.Fatal(err)
		}
		if !f.Received.Equal(want) {
			t.Errorf("ReceivedTime %q: received %v, want %v", v, f.Received, want)
		}
	}
}

// TestSidecarReceivedCompact: a receive time written as digits alone,
// year first ("202611240915", "20261124091502", as fax boards and their
// exports stamp a call), was read as Unix milliseconds (a fax received
// in 1976) or not at all; Unix seconds and milliseconds still read as
// such.
func TestSidecarReceivedCompact(t *testing.T) {
	loc := time.FixedZone("EST", -5*3600)
	for v, want := range map[string]time.Time{
		"202611240915":   time.Date(2026, 11, 24, 9, 15, 0, 0, loc),
		"20261124091502": time.Date(2026, 11, 24, 9, 15, 2, 0, loc),
		"1795529702":     time.Unix(1795529702, 0),
		"1795529702123":  time.UnixMilli(1795529702123),
	} {
		var f faxfhir.Fax
		if err := parseSidecar(&f, []byte(`{"ReceivedTime": "`+v+`"}`), loc); err != nil {
			t.Fatal(err)
		}
		if !f.Received.Equal(want) {
			t.Errorf("ReceivedTime %q: received %v, want %v", v, f.Received, want)
		}
	}
}
