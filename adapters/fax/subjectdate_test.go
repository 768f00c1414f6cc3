package fax

import (
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailSubjectDateNotCaller: a fax e-mail's subject that gives the
// time of the fax before the caller ("Fax received 2026-11-24 09:15:02
// from 5551234567"), or a date and no caller at all ("Inbound fax
// 11-24-2026"), had its date taken for the caller's number, the first run
// of 7 digits or more: the fax reached the exchange from "2026-11-24 09".
// A date and a time in the subject are no phone number; a number that
// only looks like one (a day over 31) still is.
func TestEmailSubjectDateNotCaller(t *testing.T) {
	for subject, want := range map[string]string{
		"Fax received 2026-11-24 09:15:02 from 5551234567 (3 pages)": "5551234567",
		"Fax received 2026-11-24T09:15:02Z from 5551234567":          "5551234567",
		"Inbound fax 11-24-2026 - 2 pages":                           "",
		"Fax 24.11.2026 09:15 from +1 555-010-0999":                  "+1 555-010-0999",
		"New fax from +1 555-010-0999 – 3 pages":                     "+1 555-010-0999",
		"Fax from 1-555-010-0142":                                    "1-555-010-0142",
		"Fax from 0221-12-34 56":                                     "0221-12-34 56",
	} {
		var f faxfhir.Fax
		(&emailCall{subject: subject}).apply(&f, time.UTC)
		if f.CallerNumber != want {
			t.Errorf("subject %q: caller %q, want %q", subject, f.CallerNumber, want)
		}
	}
}
