package v2fhir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestReferralPeriodEndBeforeStart: a referral whose expiration date
// (RF1-8) is before its effective date (RF1-7), as an authorization
// keyed with the wrong year may carry it, was written as an
// occurrencePeriod breaking FHIR R4 per-1, and the exchange refused the
// referral after ferry's AA. The expiration, which says nothing sure, is
// left out, as a plan's (IN1-13) is; the referral and its start stay.
func TestReferralPeriodEndBeforeStart(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "convert", "v2-ref-i12", "input.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	const rf1 = "|20261124|20270524|20261124|P^Patient"
	if !strings.Contains(string(raw), rf1) {
		t.Fatal("the golden REF changed")
	}
	msg := strings.Replace(string(raw), rf1, "|20261124|20260524|20261124|P^Patient", 1)
	srs := entriesOf[fhir.ServiceRequest](mustConvert(t, testConverter(t), msg))
	var p *fhir.Period
	for _, sr := range srs {
		if sr.OccurrencePeriod != nil {
			p = sr.OccurrencePeriod
		}
	}
	if p == nil || p.Start != "2026-11-24" {
		t.Fatalf("occurrencePeriod %+v, want start 2026-11-24", p)
	}
	if !perOne(p) {
		t.Errorf("occurrencePeriod end %q before start %q (per-1)", p.End, p.Start)
	}
}
