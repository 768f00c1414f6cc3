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

// TestDTMOffsetOutOfRange: a DTM's offset was only checked to be four
// digits, so 20240101120000+2500 or +0575 went out as 12:00:00+25:00 and
// +05:75, which FHIR R4's dateTime and instant regex refuse (an offset
// "(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"), so the exchange
// refused the message's whole transaction; such a DTM is now invalid, an
// error naming its field as any malformed time.
func TestDTMOffsetOutOfRange(t *testing.T) {
	for _, s := range []string{"20240101120000+2500", "20240101120000+0575", "20240101120000-1401", "202401011200+1500"} {
		if d, ok := parseDTM(s); ok {
			t.Errorf("%s taken as %s", s, d.render(time.UTC))
		}
	}
	for s, want := range map[string]string{"20240101120000+1400": "2024-01-01T12:00:00+14:00", "20240101120000-1200": "2024-01-01T12:00:00-12:00", "20240101120000+0545": "2024-01-01T12:00:00+05:45", "20240101120000-0000": "2024-01-01T12:00:00-00:00"} {
		if d, ok := parseDTM(s); !ok || d.render(time.UTC) != want {
			t.Errorf("%s: %v, want %s", s, ok, want)
		}
	}
}
