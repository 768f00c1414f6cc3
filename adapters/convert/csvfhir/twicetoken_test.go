package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestDateFormatElementTwice: a date format that gives an element twice,
// most often "HH:MM" written for minutes (mm), was taken; the time
// package keeps the last of the two, so 3/4/2024 14:05 read by
// "M/D/YYYY HH:MM" went to the exchange as 4 May at 14:00, with no
// error, whenever the minutes were 01 to 12. Such a format is refused,
// by ferry config check too, naming the element.
func TestDateFormatElementTwice(t *testing.T) {
	for _, f := range []string{"M/D/YYYY HH:MM", "DD.MM.YYYY HH:MM", "YYYY-MM-DD YYYY", "D/M/YYYY D", "YYYY-MM-DD H:mm hh A", "YYYY-MM-DD hh:mm:ss A A", "YYYY-MM-DDTHH:mm:ss ss", "YYYY-MM-DDTHH:mmZZ"} {
		if l, err := ParseLayout(f); err == nil {
			t.Errorf("format %q accepted (as %q)", f, l.goFmt)
		}
	}
	_, err := ParseLayout("M/D/YYYY HH:MM")
	if err == nil || !strings.Contains(err.Error(), "month") || !strings.Contains(err.Error(), "mm") {
		t.Errorf("HH:MM: %v, want the month named twice and minutes as mm", err)
	}
	m := labsMapping()
	m.DateFormats = []string{"M/D/YYYY HH:MM"}
	parts, err := Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n123,2345-7,Glucose,105,mg/dL,3/4/2024 14:05,H\n"), m, Options{})
	if !errors.Is(err, ErrMapping) || !strings.Contains(err.Error(), "date_formats[0]") {
		for _, o := range observations(parts) {
			t.Errorf("effectiveDateTime %s", o.EffectiveDateTime)
		}
		t.Fatalf("Convert: %v, want the mapping refused", err)
	}
}
