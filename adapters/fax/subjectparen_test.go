package fax

import (
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailSubjectCallerAreaCode: a subject that writes the caller's
// area code in parentheses, as US fax services do ("New Fax Message from
// (555) 010-0999"), gave the caller as "555) 010-0999", the number
// beginning at its first digit: the DocumentReference said the fax came
// "from 555) 010-0999". The parentheses are the number's.
func TestEmailSubjectCallerAreaCode(t *testing.T) {
	for subject, want := range map[string]string{
		"New Fax Message from (555) 010-0999":         "(555) 010-0999",
		"Fax from (555)010-0999 - 2 pages":            "(555)010-0999",
		"Fax from +1 (555) 010-0999":                  "+1 (555) 010-0999",
		"Fax (ref 12) from 5550100999":                "5550100999",
		"Fax received 2026-11-24 from (555) 010-0999": "(555) 010-0999",
	} {
		var f faxfhir.Fax
		(&emailCall{subject: subject}).apply(&f, time.UTC)
		if f.CallerNumber != want {
			t.Errorf("subject %q: caller %q, want %q", subject, f.CallerNumber, want)
		}
	}
}
