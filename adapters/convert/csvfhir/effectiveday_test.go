package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestResultDateToTheDay: a result dated by its month or year alone
// ("3/2024", "2024") went out as effectiveDateTime "2024-03" or "2024",
// though US Core Laboratory Result Observation's us-core-1 ("Datetime
// must be at least to day", ($this as dateTime).toString().length() >= 8,
// severity error) and FHIR R4's vital signs vs-1 ("if
// Observation.effective[x] is dateTime and has a value then that value
// shall be precise to the day") refuse it: the exchange rejected the
// transaction with the patient's other rows. Such a row is now a row
// error naming the date's column; a result of another category (a
// survey, a social history) may still be dated by its month.
func TestResultDateToTheDay(t *testing.T) {
	m := labsMapping()
	m.DateFormats = []string{"M/D/YYYY", "M/YYYY", "YYYY"}
	m.Set = nil
	m.Columns = append(m.Columns, Column{Header: "Category", Path: "category"})
	in := "MRN,LOINC,Test,Result,Units,Date,Flag,Category\n" +
		"123,2345-7,Glucose,105,mg/dL,3/4/2024,,laboratory\n" +
		"123,2345-7,Glucose,99,mg/dL,3/2024,,laboratory\n" +
		"123,8867-4,Heart rate,72,/min,2024,,vital-signs\n" +
		"123,72166-2,Tobacco smoking status,Former smoker,,3/2024,,social-history\n"
	_, err := Convert([]byte(in), m, Options{Base: "urn:ferry:site:test"})
	var rerr *Error
	if !errors.As(err, &rerr) {
		t.Fatalf("want row errors, got %v", err)
	}
	if len(rerr.Rows) != 2 {
		t.Fatalf("want lines 3 and 4 refused, got %v", err)
	}
	for i, line := range []int{3, 4} {
		r := rerr.Rows[i]
		if r.Line != line || r.Column != "Date" || !strings.Contains(r.Msg, "day") {
			t.Errorf("row error %d: %s; want line %d, column \"Date\", naming the day", i, r.String(), line)
		}
	}

	ok := "MRN,LOINC,Test,Result,Units,Date,Flag,Category\n" +
		"123,72166-2,Tobacco smoking status,Former smoker,,3/2024,,social-history\n"
	parts, err := Convert([]byte(ok), m, Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	if obs := observations(parts); len(obs) != 1 || obs[0].EffectiveDateTime != "2024-03" {
		t.Errorf("social history dated by its month: %+v", obs)
	}
}
