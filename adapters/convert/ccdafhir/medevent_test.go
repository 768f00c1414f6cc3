package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestSingleTimeIsEvent: C-CDA on FHIR (CF-medications)
// maps a Medication Activity's first effectiveTime with a @value to
// dosageInstruction.timing.event ("Use this when effectiveTime@value is
// populated"), low and high to timing.repeat.boundsPeriod. A single time
// (a dose to be given once, at 10:00) went out as a boundsPeriod that
// starts then and never ends: the medicine from then on, for good.
func TestMedicationRequestSingleTimeIsEvent(t *testing.T) {
	sec := strings.Replace(dischargeMedSection, `<effectiveTime xsi:type="IVL_TS"><low value="20240102"/></effectiveTime>`,
		`<effectiveTime xsi:type="TS" value="20240102100000-0500"/>`, 1)
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	mr := got["MedicationRequest"][0].(*fhir.MedicationRequest)
	if len(mr.DosageInstruction) != 1 || mr.DosageInstruction[0].Timing == nil {
		t.Fatalf("dosageInstruction %+v, want a timing", mr.DosageInstruction)
	}
	tm := mr.DosageInstruction[0].Timing
	if len(tm.Event) != 1 || tm.Event[0] != "2024-01-02T10:00:00-05:00" {
		t.Errorf("timing.event %v, want [2024-01-02T10:00:00-05:00]", tm.Event)
	}
	if tm.Repeat != nil && tm.Repeat.BoundsPeriod != nil {
		t.Errorf("timing.repeat.boundsPeriod %+v, want none", tm.Repeat.BoundsPeriod)
	}

	// low (and high) stay the bounds.
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", dischargeMedSection))
	tm = got["MedicationRequest"][0].(*fhir.MedicationRequest).DosageInstruction[0].Timing
	if tm == nil || tm.Repeat == nil || tm.Repeat.BoundsPeriod == nil || tm.Repeat.BoundsPeriod.Start != "2024-01-02" || len(tm.Event) != 0 {
		t.Errorf("low only: timing %+v, want boundsPeriod from 2024-01-02", tm)
	}
}
