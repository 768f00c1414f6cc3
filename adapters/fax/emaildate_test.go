package fax

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailDateObsoleteZone: a Date header that names its zone by the
// letters of RFC 5322's obsolete syntax ("Tue, 24 Nov 2026 09:15:02
// EST", as older fax servers and mailers write it), which a receiver
// "MUST" accept (RFC 5322 section 4, "EST is semantically equivalent to
// -0500" in 4.3), was read by Go's net/mail as UTC unless the host's own
// zone has that abbreviation: the fax's receive time was 5 hours off on a
// server kept in UTC, and what it was depended on the host. The zones
// 4.3 names now have their offsets; a numeric one is read as ever.
func TestEmailDateObsoleteZone(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	for date, want := range map[string]time.Time{
		"Tue, 24 Nov 2026 09:15:02 EST":         time.Date(2026, 11, 24, 14, 15, 2, 0, time.UTC),
		"Tue, 24 Nov 2026 09:15:02 pdt":         time.Date(2026, 11, 24, 16, 15, 2, 0, time.UTC),
		"24 Nov 2026 09:15 CST":                 time.Date(2026, 11, 24, 15, 15, 0, 0, time.UTC),
		"Tue, 24 Nov 2026 09:15:02 GMT":         time.Date(2026, 11, 24, 9, 15, 2, 0, time.UTC),
		"Tue, 24 Nov 2026 09:15:02 -0500 (EST)": time.Date(2026, 11, 24, 14, 15, 2, 0, time.UTC),
	} {
		msg := "Date: " + date + "\r\nSubject: Fax from 555-010-0142\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n"
		e, err := readEmail(strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		var f faxfhir.Fax
		e.applyDoc(&f, 0, time.UTC)
		if !f.Received.Equal(want) {
			t.Errorf("Date: %s: received %v, want %v", date, f.Received.UTC(), want)
		}
	}
}
