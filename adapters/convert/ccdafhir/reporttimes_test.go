package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestResultReportTimes: US Core's lab report (6.1, as since 5.0.1) has
// us-core-8 "effective[x] SHALL be present if the status is 'partial',
// 'preliminary', 'final', 'amended', 'corrected' or 'appended'" and
// us-core-9, the same of issued. A C-CDA Result Organizer says nothing of
// when its report was released, and may give no time at all: a completed
// one went out final with neither, which a validating exchange refuses.
// Each missing one now carries data-absent-reason unknown; the times a
// document gives are kept; a held (registered) report needs neither.
func TestResultReportTimes(t *testing.T) {
	absent := func(e *fhir.PrimitiveElement) bool {
		return e != nil && len(e.Extension) == 1 && e.Extension[0].URL == fhir.DataAbsentReasonURL && e.Extension[0].ValueCode == "unknown"
	}
	timed := strings.Replace(heldResultSection, `<statusCode code="held"/>`, `<statusCode code="completed"/>`, 1)
	untimed := strings.ReplaceAll(timed, `<effectiveTime value="20240101101500-0500"/>`, ``)
	for _, tc := range []struct {
		name, section string
		eff           string
		absentEff     bool
		absentIssued  bool
	}{
		{"completed with a time", timed, "2024-01-01T10:15:00-05:00", false, true},
		{"completed without a time", untimed, "", true, true},
		{"held", heldResultSection, "2024-01-01T10:15:00-05:00", false, false},
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", tc.section))
		if len(got["DiagnosticReport"]) != 1 {
			t.Fatalf("%s: reports = %d, want 1", tc.name, len(got["DiagnosticReport"]))
		}
		dr := got["DiagnosticReport"][0].(*fhir.DiagnosticReport)
		if dr.EffectiveDateTime != tc.eff || absent(dr.EffectiveDateTimeElement) != tc.absentEff || (!tc.absentEff && dr.EffectiveDateTimeElement != nil) {
			t.Errorf("%s: status %s, effectiveDateTime %q, _effectiveDateTime %+v; want %q, absent %v", tc.name, dr.Status, dr.EffectiveDateTime, dr.EffectiveDateTimeElement, tc.eff, tc.absentEff)
		}
		if absent(dr.IssuedElement) != tc.absentIssued || (!tc.absentIssued && dr.IssuedElement != nil) {
			t.Errorf("%s: status %s, issued %q, _issued %+v; want absent %v", tc.name, dr.Status, dr.Issued, dr.IssuedElement, tc.absentIssued)
		}
	}
}
