package xdmfhir

import (
	"regexp"
	"testing"
	"time"
)

// fhirDateTimeRE is FHIR R4's dateTime regex (datatypes.html#dateTime),
// without the leap-second allowance.
var fhirDateTimeRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9])(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)

// validDateTime reports whether s is a FHIR dateTime naming a day that
// exists.
func validDateTime(s string) bool {
	if !fhirDateTimeRE.MatchString(s) {
		return false
	}
	if len(s) >= 10 {
		if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
			return false
		}
	}
	return true
}

// A creationTime METADATA.XML gives with a month, day, hour or minute out
// of range is no time at all: written digit for digit it became an invalid
// FHIR dateTime in attachment.creation (2026-13-01, 2026-02-30, T25:00),
// and the exchange refused the whole ITI-65 bundle, so the document was
// dead-lettered instead of filed. It is left out (the bundle builder then
// uses the submission time); a valid one is kept as it was.
func TestCreationTimeOutOfRange(t *testing.T) {
	c := &Converter{}
	received := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, dtm := range []string{"202613", "20261301", "20260230", "20260431", "20260228250000", "20260228156000", "20260228153075", "00000101"} {
		d := c.Document(Entry{CreationTime: dtm}, received)
		if d.Created != "" && !validDateTime(d.Created) {
			t.Errorf("creationTime %q: attachment.creation %q is not a FHIR dateTime", dtm, d.Created)
		}
	}
	for dtm, want := range map[string]string{
		"2024":           "2024",
		"202402":         "2024-02",
		"20240229":       "2024-02-29",
		"20240229235959": "2024-02-29T23:59:59Z",
	} {
		if got := c.Document(Entry{CreationTime: dtm}, received).Created; got != want {
			t.Errorf("creationTime %q: %q, want %q", dtm, got, want)
		}
	}
}
