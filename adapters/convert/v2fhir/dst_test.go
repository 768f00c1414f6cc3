package v2fhir

import (
	"testing"
	"time"
)

// TestDTMAcrossDaylightSaving: a DTM without an offset at a clock time
// the converter's zone skips or has twice took whichever offset
// time.Date chose, which differs east and west of UTC: in Europe/Berlin
// (hl7v2.time_zone of a gateway there) 2026-03-29 02:30 went out as
// 02:30:00+02:00, an instant an hour before the clock time existed, and
// 2026-10-25 02:30 as the second of its two occurrences. As RFC 5545
// 3.3.5 reads local times, and as the converter already did west of UTC,
// a skipped clock time takes the offset before the gap, and one that
// occurs twice is the first.
func TestDTMAcrossDaylightSaving(t *testing.T) {
	for _, c := range []struct{ zone, in, want string }{
		{"America/New_York", "202603080230", "2026-03-08T02:30:00-05:00"},
		{"America/New_York", "202611010130", "2026-11-01T01:30:00-04:00"},
		{"America/New_York", "202611010230", "2026-11-01T02:30:00-05:00"},
		{"Europe/Berlin", "202603290230", "2026-03-29T02:30:00+01:00"},
		{"Europe/Berlin", "202603290330", "2026-03-29T03:30:00+02:00"},
		{"Europe/Berlin", "202610250230", "2026-10-25T02:30:00+02:00"},
		{"Europe/Berlin", "202610250330", "2026-10-25T03:30:00+01:00"},
		{"Australia/Sydney", "202604050230", "2026-04-05T02:30:00+11:00"},
		{"Australia/Sydney", "202610040230", "2026-10-04T02:30:00+10:00"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		d, ok := parseDTM(c.in)
		if !ok {
			t.Fatalf("%q: not a DTM", c.in)
		}
		if got := d.render(loc); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.zone, c.in, got, c.want)
		}
	}
}
