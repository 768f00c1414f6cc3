package xdmfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// serviceStartTime and serviceStopTime are context.period; a stop before
// the start (FHIR R4 per-1: start before end) is left out rather than
// have the exchange refuse the bundle.
func TestServicePeriod(t *testing.T) {
	for _, tc := range []struct {
		start, stop string
		want        *fhir.Period
	}{
		{"20260226140000", "20260227093000", &fhir.Period{Start: "2026-02-26T14:00:00Z", End: "2026-02-27T09:30:00Z"}},
		{"20260226", "", &fhir.Period{Start: "2026-02-26"}},
		{"", "202602271000", &fhir.Period{End: "2026-02-27T10:00:00Z"}},
		{"20260227093000", "20260226140000", &fhir.Period{Start: "2026-02-27T09:30:00Z"}},
		{"20261326", "", nil},
		{"", "", nil},
	} {
		got := servicePeriod(tc.start, tc.stop)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%q to %q: %+v, want %+v", tc.start, tc.stop, got, tc.want)
		}
	}
}
