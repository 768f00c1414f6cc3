package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestCoveragePeriodEndBeforeStart: FHIR R4's per-1 ("If present, start
// SHALL have a lower value than end") holds for Coverage.period. An IN1
// whose plan expiration date (IN1-13) is before its effective date
// (IN1-12), as a plan cancelled before it began is sometimes sent, made a
// Coverage the exchange's validator rejects, and with it the whole ADT's
// bundle. The end, which says nothing sure, is left out, as NK1-9 is.
func TestCoveragePeriodEndBeforeStart(t *testing.T) {
	msg := usADT + "PV1|1|O|||||||||||||||||V1^^^CLINICA\nIN1|1|PPO|BCBS01|Blue Cross||||G1||||20240301|20240131||||SEL"
	covs := entriesOf[fhir.Coverage](mustConvert(t, testConverter(t), msg))
	if len(covs) != 1 {
		t.Fatalf("Coverages %+v", covs)
	}
	p := covs[0].Period
	if p == nil || p.Start != "2024-03-01" {
		t.Fatalf("Coverage.period %+v, want start 2024-03-01", p)
	}
	if p.End != "" {
		t.Errorf("Coverage.period end %q before start %q (per-1)", p.End, p.Start)
	}
}
