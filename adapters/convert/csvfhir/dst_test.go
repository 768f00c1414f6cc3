package csvfhir

import "testing"

// TestDatesAcrossDaylightSaving: a time the mapping's zone skips (the
// spring-forward hour, a device or a hand-kept clock not yet moved on)
// was written an hour earlier than the cell said, at the offset after
// the change (America/New_York 2026-03-08 2:30 became 01:30:00-05:00,
// before a reading at 1:50 taken before it), and a time that happens
// twice took, in zones east of UTC, the second one. As RFC 5545 reads
// local times (3.3.5: a time that does not exist "MUST be interpreted
// using the UTC offset before the gap in local times", one that occurs
// twice "as the first occurrence"), the cell's own clock time is kept,
// with the offset before the change.
func TestDatesAcrossDaylightSaving(t *testing.T) {
	for _, c := range []struct{ zone, in, want string }{
		{"America/New_York", "3/8/2026 2:30", "2026-03-08T02:30:00-05:00"},
		{"America/New_York", "3/8/2026 1:50", "2026-03-08T01:50:00-05:00"},
		{"America/New_York", "3/8/2026 3:30", "2026-03-08T03:30:00-04:00"},
		{"America/New_York", "11/1/2026 1:30", "2026-11-01T01:30:00-04:00"},
		{"America/New_York", "11/1/2026 2:30", "2026-11-01T02:30:00-05:00"},
		{"Europe/Berlin", "3/29/2026 2:30", "2026-03-29T02:30:00+01:00"},
		{"Europe/Berlin", "10/25/2026 2:30", "2026-10-25T02:30:00+02:00"},
		{"Europe/Berlin", "10/25/2026 3:30", "2026-10-25T03:30:00+01:00"},
	} {
		l, err := ParseLayout("M/D/YYYY H:mm")
		if err != nil {
			t.Fatal(err)
		}
		dp := &cellReader{layouts: []Layout{l}, loc: mustLoc(t, c.zone)}
		if got, err := dp.parse(c.in, false); err != nil || got != c.want {
			t.Errorf("%s %q: %q %v, want %q", c.zone, c.in, got, err, c.want)
		}
	}
}
